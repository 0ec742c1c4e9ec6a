"""Commands: export, predict (registered with cnnedu.cli.command)."""

from __future__ import annotations
