"""The training process: ``python -m cnnedu.runs.worker RUN_ID TOKEN`` trains one run of the run store.

TOKEN is the run's random token (``cnnedu.runs.store``): if the run with that id is gone or is another run now
(the store was deleted and re-created while the worker was starting), it exits without writing anything.

``cnnedu.runs.store.start_run`` starts it in its own session, with its output going to the run folder's
``worker.log``, so the run survives a closed browser tab or a restart of the app. Everything it measures goes
to the run store; when it ends it starts the next queued run.
"""

from __future__ import annotations

import sys

from cnnedu.errors import CnnEduError


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) not in (1, 2):
        print("usage: python -m cnnedu.runs.worker RUN_ID [TOKEN]", file=sys.stderr)
        return 2
    from cnnedu.runs import store as runs

    try:
        result = runs.execute(args[0], token=args[1] if len(args) == 2 else None)
    except CnnEduError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    print(f"{args[0]}: {result.status if result else 'failed, or no longer in the run store'}", flush=True)
    return 0 if result is not None and result.status != "failed" else 1


if __name__ == "__main__":
    sys.exit(main())
