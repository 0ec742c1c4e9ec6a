"""`python -m cnnedu ...`: every thing the app does, as a command, for scripts, grading and tests.

This file holds the parser and the error handling; the commands of each area live beside it
(``cli_arch``: presets, summary, check; ``cli_train``: train, runs; ``cli_onnx``: export, predict;
``cli_scratch``: gradcheck) and register themselves with ``@command``. A user's mistake prints one clear
line and exits with status 2; no traceback reaches a user.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
from collections.abc import Callable
from typing import Any

from cnnedu.errors import CnnEduError

Handler = Callable[[argparse.Namespace], int]
_COMMANDS: dict[str, tuple[str, Callable[[argparse.ArgumentParser], None], Handler]] = {}


def command(name: str, help: str, arguments: Callable[[argparse.ArgumentParser], None]):
    """Register ``fn(args) -> exit code`` as ``python -m cnnedu NAME``; ``arguments`` adds its options."""

    def register(fn: Handler) -> Handler:
        _COMMANDS[name] = (help, arguments, fn)
        return fn

    return register


def print_json(data: Any) -> None:
    """Print machine-readable output (``--json``): one JSON document on stdout."""
    json.dump(data, sys.stdout, indent=2)
    sys.stdout.write("\n")


def parser() -> argparse.ArgumentParser:
    from cnnedu.cli import arch, onnx, scratch, train  # noqa: F401  (they register their commands)

    top = argparse.ArgumentParser(prog="python -m cnnedu", description="cnnedu: build, check, train, "
                                  "look inside, export and predict with CNNs from the coursework.")
    subs = top.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, (help_text, arguments, fn) in _COMMANDS.items():
        sub = subs.add_parser(name, help=help_text, description=help_text)
        arguments(sub)
        sub.set_defaults(handler=fn)
    return top


def main(argv: list[str] | None = None) -> int:
    for stream in (sys.stdout, sys.stderr):  # a terminal that cannot show × or ✓ gets "?", not a traceback
        with contextlib.suppress(AttributeError, ValueError):
            stream.reconfigure(errors="replace")
    args = parser().parse_args(argv)
    try:
        return args.handler(args)
    except CnnEduError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("stopped.", file=sys.stderr)
        return 130
    except BrokenPipeError:  # the reader went away (`python -m cnnedu runs | head`): stop quietly
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
