"""`python -m cnnedu ...`: every thing the app does, as a command, for scripts, grading and tests.

This module holds the parser and the error handling. The commands live in one module per area, each with
a ``COMMANDS`` table (cnnedu/cli/common.py's ``Command``), listed in ``AREAS`` in the order ``--help``
shows them: ``cli/arch.py`` (presets, summary, check), ``cli/onnx.py`` (export, predict),
``cli/scratch.py`` (gradcheck), ``cli/train.py`` (train, runs), ``cli/experiment.py`` (experiment list|run). A user's mistake prints one clear line and exits with status 2; no traceback
reaches a user.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys

from cnnedu.cli import arch as cli_arch
from cnnedu.cli import experiment as cli_experiment
from cnnedu.cli import onnx as cli_onnx
from cnnedu.cli import scratch as cli_scratch
from cnnedu.cli import train as cli_train
from cnnedu.errors import CnnEduError

AREAS = (cli_arch, cli_onnx, cli_scratch, cli_train, cli_experiment)


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(prog="python -m cnnedu", description="cnnedu: build, check, train, "
                                  "look inside, export and predict with CNNs from the coursework.")
    subs = top.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for area in AREAS:
        for command in area.COMMANDS:
            sub = subs.add_parser(command.name, help=command.help, description=command.help)
            command.add_arguments(sub)
            sub.set_defaults(handler=command.handler)
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
