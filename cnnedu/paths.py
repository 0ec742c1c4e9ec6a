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


#: Folders of datasets a system installs for everyone (Debian's dataset-fashion-mnist): read-only, public.
SYSTEM_DATASETS = Path("/usr/share/datasets")


def allowed_folders() -> list[Path]:
    """The folders a user may point cnnedu at for data: the data folder, the system's datasets and the
    folders the server's owner lists in ``$CNNEDU_FOLDERS`` (separated by ``os.pathsep``, ':' on Linux)."""
    extra = [Path(p).expanduser() for p in os.environ.get("CNNEDU_FOLDERS", "").split(os.pathsep) if p.strip()]
    return [data_dir(), SYSTEM_DATASETS, *extra]


def allowed_folder(path: str | os.PathLike) -> Path:
    """``path`` as an absolute folder inside one of ``allowed_folders()``: a relative path is taken inside
    the data folder, symbolic links are followed first (a link cannot lead out). On a classroom server this
    keeps students from listing or training on the server's own files (/etc, other users' homes)."""
    from cnnedu.errors import DataError

    given = Path(path).expanduser()
    full = (given if given.is_absolute() else data_dir() / given).resolve()
    roots = allowed_folders()
    for root in roots:
        if full == root.resolve() or full.is_relative_to(root.resolve()):
            return full
    shown = ", ".join(str(r) for r in roots if r != SYSTEM_DATASETS)
    raise DataError(f"cnnedu reads data only from its data folder ({shown}); {path} is outside it.",
                    "Put the images in a folder inside the data folder, or ask whoever runs the server to "
                    "add their folder to CNNEDU_FOLDERS.")
