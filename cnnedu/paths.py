"""Where cnnedu keeps its files (the run store, downloaded datasets, caches), and how it writes the files
that must survive a full disk or a killed process.

``home()`` and ``data_dir()`` check that their folder can be written and say how to fix it when it cannot
(a file in the way, a read-only disk, /proc): a ``StorageError``, never a traceback.

``write_files(folder, {name: writer})`` writes one or several files all-or-nothing: each goes to
``name.tmp``, is flushed to the disk (fsync), and only when every one of them was written are they renamed
into place (``os.replace``, atomic on one file system). If a write fails (a full disk, a quota, a read-only
disk, no permission) the ``.tmp`` files are removed, the old files stay as they were and a
``StorageError`` says what happened in plain words.
"""

from __future__ import annotations

import contextlib
import errno
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import IO

from cnnedu.errors import StorageError

_CHECKED: set[str] = set()  # folders this process has already written a probe file into
_FAULT_COUNTS: dict[str, int] = {}  # writes per file name, for the CNNEDU_TEST_DISK_FULL hook


def home() -> Path:
    """The cnnedu home folder: ``$CNNEDU_HOME``, else ``~/.cnnedu``. Created on first use; a
    ``StorageError`` with the fix when it cannot be created or written."""
    path = Path(os.environ.get("CNNEDU_HOME") or Path.home() / ".cnnedu").expanduser()
    return writable_folder(path, "CNNEDU_HOME", "the cnnedu home folder (the run store)")


def data_dir() -> Path:
    """Where datasets are looked for and downloaded to: ``$CNNEDU_DATA``, else ``home()/data``."""
    env = os.environ.get("CNNEDU_DATA")
    if env:
        return writable_folder(Path(env).expanduser(), "CNNEDU_DATA", "the dataset folder")
    return writable_folder(home() / "data", "CNNEDU_HOME", "the dataset folder")


def writable_folder(path: Path, variable: str, what: str) -> Path:
    """``path``, created if needed, after checking (once per process) that a file can be written in it."""
    key = str(path)
    if key in _CHECKED and path.is_dir():
        return path
    fix = f"Set {variable} to a folder you can write to (e.g. export {variable}=$HOME/.cnnedu)."
    if path.exists() and not path.is_dir():
        raise StorageError(f"{what.capitalize()} {path} is a file, not a folder.", fix)
    try:
        path.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=path, prefix=".probe-"):
            pass
    except OSError as err:
        raise StorageError(f"{what.capitalize()} {path} cannot be written: {_reason(err)}.", fix) from None
    _CHECKED.add(key)
    return path


def _reason(err: OSError) -> str:
    return {errno.ENOSPC: "the disk is full", errno.EDQUOT: "the disk quota is used up",
            errno.EROFS: "the disk is read-only", errno.EACCES: "permission denied",
            errno.EPERM: "permission denied", errno.ENOTDIR: "a part of the path is a file",
            errno.EEXIST: "a file is in the way", errno.ENOENT: "it cannot be created there"}.get(
        err.errno, err.strerror or str(err))


def disk_error(err: OSError, what: str, folder: Path) -> StorageError:
    """A failed write as a plain message: ``what`` (e.g. "the weights of epoch 3") could not be saved."""
    if err.errno in (errno.ENOSPC, errno.EDQUOT):
        head = "The disk is full" if err.errno == errno.ENOSPC else "Your disk quota is used up"
        return StorageError(f"{head}: {what} could not be saved.",
                            f"Free some space on the disk that holds {folder} (delete old runs: "
                            "`python -m cnnedu runs --delete RUN_ID`), or set CNNEDU_HOME to a folder on a "
                            "bigger disk, and train again.")
    if err.errno == errno.EROFS:
        return StorageError(f"The disk is read-only: {what} could not be saved.",
                            "Set CNNEDU_HOME to a folder on a writable disk and train again.")
    if err.errno in (errno.EACCES, errno.EPERM):
        return StorageError(f"cnnedu may not write to {folder}: {what} could not be saved.",
                            "Set CNNEDU_HOME to a folder you can write to and train again.")
    return StorageError(f"{what[0].upper()}{what[1:]} could not be saved: {_reason(err)}.",
                        f"Check the disk that holds {folder} and train again.")


Writer = Callable[[IO[bytes]], None]


def write_files(folder: Path, writers: dict[str, Writer | bytes | str], what: str) -> None:
    """Write every ``name → writer`` (a function given the open binary file, or the bytes / text) into
    ``folder`` all-or-nothing (see the module's docstring). ``what`` names the content in the message of a
    failed write ("the weights of epoch 3"). The folder must exist."""
    staged: list[tuple[Path, Path]] = []
    try:
        for name, writer in writers.items():
            final = folder / name
            tmp = folder / f"{name}.tmp"
            staged.append((tmp, final))
            with open(tmp, "wb") as f:
                if callable(writer):
                    writer(f)
                else:
                    f.write(writer.encode() if isinstance(writer, str) else writer)
                _fault_hook(name, f)
                f.flush()
                os.fsync(f.fileno())
        for tmp, final in staged:
            os.replace(tmp, final)
        _fsync_folder(folder)
    except OSError as err:
        for tmp, _ in staged:
            with contextlib.suppress(OSError):
                tmp.unlink()
        raise disk_error(err, what, folder) from None
    except BaseException:
        for tmp, _ in staged:
            with contextlib.suppress(OSError):
                tmp.unlink()
        raise


def _fsync_folder(folder: Path) -> None:
    """Make the renames durable too (a crash of the computer right after keeps the new files)."""
    if os.name == "nt":
        return
    with contextlib.suppress(OSError):
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _fault_hook(name: str, f: IO[bytes]) -> None:
    """For the fault tests only: ``CNNEDU_TEST_DISK_FULL="model.pt:2"`` makes this process's 2nd write of
    a file named model.pt fail as on a full disk (after writing part of it). Unset, it does nothing."""
    spec = os.environ.get("CNNEDU_TEST_DISK_FULL")
    if not spec:
        return
    target, _, nth = spec.partition(":")
    if target != name:
        return
    _FAULT_COUNTS[name] = _FAULT_COUNTS.get(name, 0) + 1
    if _FAULT_COUNTS[name] >= int(nth or 1):
        f.write(b"\0" * 4096)
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))


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
