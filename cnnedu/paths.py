"""Where cnnedu keeps its files: the run store, downloaded datasets, caches."""

from __future__ import annotations

import os
from pathlib import Path


def home() -> Path:
    """The cnnedu home folder: ``$CNNEDU_HOME``, else ``~/.cnnedu``. Created on first use."""
    path = Path(os.environ.get("CNNEDU_HOME") or Path.home() / ".cnnedu").expanduser()
    path.mkdir(parents=True, exist_ok=True)
    return path


def data_dir() -> Path:
    """Where datasets are looked for and downloaded to: ``$CNNEDU_DATA``, else ``home()/data``."""
    env = os.environ.get("CNNEDU_DATA")
    path = Path(env).expanduser() if env else home() / "data"
    path.mkdir(parents=True, exist_ok=True)
    return path
