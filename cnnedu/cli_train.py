"""Commands: train, runs (registered with cnnedu.cli.command)."""

from __future__ import annotations
