"""The training process: ``python -m cnnedu.worker RUN_ID`` trains one run of the run store.

``cnnedu.runs.start_run`` starts it in its own session, with its output going to the run folder's
``worker.log``, so the run survives a closed browser tab or a restart of the app. Everything it measures goes
to the run store; when it ends it starts the next queued run.
"""

from __future__ import annotations

import sys

from cnnedu.errors import CnnEduError


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print("usage: python -m cnnedu.worker RUN_ID", file=sys.stderr)
        return 2
    from cnnedu import runs

    try:
        result = runs.execute(args[0])
    except CnnEduError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    print(f"{args[0]}: {result.status if result else 'failed'}", flush=True)
    return 0 if result is not None and result.status != "failed" else 1


if __name__ == "__main__":
    sys.exit(main())
