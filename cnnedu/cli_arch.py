"""Commands: presets, summary, check (registered with cnnedu.cli.command)."""

from __future__ import annotations
