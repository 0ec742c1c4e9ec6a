"""What the command modules of ``python -m cnnedu`` share: ``Command``, one entry of a module's
``COMMANDS`` table (which cnnedu/cli/main.py turns into a sub-command), and ``print_json`` for ``--json``."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

Handler = Callable[[argparse.Namespace], int]


@dataclass(frozen=True)
class Command:
    """``python -m cnnedu NAME``: ``add_arguments`` adds its options, ``handler(args)`` runs it and returns
    the exit status."""

    name: str
    help: str
    add_arguments: Callable[[argparse.ArgumentParser], None]
    handler: Handler


def print_json(data: Any) -> None:
    """Print machine-readable output (``--json``): one JSON document on stdout."""
    json.dump(data, sys.stdout, indent=2)
    sys.stdout.write("\n")
