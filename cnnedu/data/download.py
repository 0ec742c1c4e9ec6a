"""Downloading a dataset file: with progress, a short timeout, a checksum, and never a half file.

The file is written to ``NAME.part`` next to its final place and renamed to ``NAME`` only once it is
complete and its MD5 checksum matches. An interrupted or failed download therefore leaves nothing
behind that the next attempt (or torchvision) could mistake for the real file.
"""

from __future__ import annotations

import hashlib
import http.client
import os
import socket
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path
from urllib.parse import urlparse

from cnnedu.data.dataset import Progress

#: Seconds to wait for the name server, the connection, or the next block of data.
DOWNLOAD_TIMEOUT = 15.0
USER_AGENT = "pytorch/vision"  # the servers torchvision downloads from expect torchvision's agent


class DownloadFailed(Exception):
    """A download that did not work; ``reason`` says why in plain words."""

    def __init__(self, url: str, reason: str):
        super().__init__(f"{url}: {reason}")
        self.url = url
        self.reason = reason


def _resolve(host: str, timeout: float) -> None:
    """Look the host name up, giving up after ``timeout`` s (a socket timeout does not cover DNS)."""
    outcome: list[BaseException | None] = []

    def lookup() -> None:
        try:
            socket.getaddrinfo(host, None)
            outcome.append(None)
        except OSError as err:
            outcome.append(err)

    thread = threading.Thread(target=lookup, daemon=True)
    thread.start()
    thread.join(timeout)
    if not outcome:
        raise DownloadFailed(host, f"the name server did not answer for {host} within {timeout:.0f} s")
    if outcome[0] is not None:
        raise DownloadFailed(host, f"no network connection (cannot look up {host})")


def download(url: str, dest: str | Path, *, md5: str | None = None, progress: Progress | None = None,
             label: str = "", timeout: float | None = None) -> Path:
    """Download ``url`` to ``dest`` (atomically). Raises ``DownloadFailed`` with a readable reason.

    ``progress(fraction, message)`` is called as the bytes arrive (at most every 1% or 0.5 s).
    """
    timeout = DOWNLOAD_TIMEOUT if timeout is None else timeout
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    part = dest.with_name(dest.name + ".part")
    label = label or dest.name
    host = urlparse(url).hostname or url
    try:
        _resolve(host, timeout)
        request = urllib.request.Request(url, headers={"User-Agent": USER_AGENT})
        digest = hashlib.md5(usedforsecurity=False)
        with urllib.request.urlopen(request, timeout=timeout) as response, open(part, "wb") as fh:
            total = response.length or 0
            done, last_fraction, last_time = 0, -1.0, 0.0
            while block := response.read(256 * 1024):
                fh.write(block)
                digest.update(block)
                done += len(block)
                fraction = done / total if total else 0.0
                if progress and (fraction - last_fraction >= 0.01 or time.monotonic() - last_time > 0.5):
                    progress(min(fraction, 1.0), f"downloading {label}: {done / 1e6:.1f}"
                             + (f" of {total / 1e6:.1f} MB" if total else " MB"))
                    last_fraction, last_time = fraction, time.monotonic()
        if progress and last_fraction < 1.0:
            progress(1.0, f"downloaded {label}: {done / 1e6:.1f} MB")
        if total and done != total:
            raise DownloadFailed(url, f"the connection broke after {done} of {total} bytes")
        if md5 and digest.hexdigest() != md5:
            raise DownloadFailed(url, "the downloaded file is damaged (its MD5 checksum does not match)")
        os.replace(part, dest)
        return dest
    except urllib.error.HTTPError as err:
        raise DownloadFailed(url, f"the server answered HTTP {err.code} {err.reason}") from err
    except urllib.error.URLError as err:
        reason = err.reason
        if isinstance(reason, socket.gaierror):
            text = f"no network connection (cannot look up {host})"
        elif isinstance(reason, TimeoutError):
            text = f"{host} did not answer within {timeout:.0f} s"
        else:
            text = f"cannot connect to {host}: {reason}"
        raise DownloadFailed(url, text) from err
    except TimeoutError as err:
        raise DownloadFailed(url, f"{host} stopped sending data for {timeout:.0f} s") from err
    except (OSError, http.client.HTTPException) as err:
        raise DownloadFailed(url, f"the download broke off: {err}") from err
    finally:
        part.unlink(missing_ok=True)


def file_md5(path: str | Path) -> str:
    """The MD5 checksum of a file, read in blocks."""
    digest = hashlib.md5(usedforsecurity=False)
    with open(path, "rb") as fh:
        while block := fh.read(1024 * 1024):
            digest.update(block)
    return digest.hexdigest()



def offline_alternatives(instead_of: str) -> str:
    """The datasets that work without a network, for the message of a failed download of ``instead_of``."""
    options = {
        "synthetic": "'synthetic' (shapes drawn by cnnedu, nothing to download)",
        "gaze-synthetic": "'gaze-synthetic' (eye images drawn by cnnedu, for the eye-gaze presets)",
        "fashion-mnist": "'fashion-mnist' (install the Debian package: sudo apt install dataset-fashion-mnist)",
        "folder": "'folder' (your own images, one sub-folder per class)",
    }
    return "Datasets that work offline: " + ", ".join(v for k, v in options.items() if k != instead_of) + "."


def files_key(folder: Path, files: list[Path]) -> tuple:
    """A cache key for data read from ``files``: it changes when any file is replaced or edited."""
    return (str(folder.resolve()),) + tuple((f.name, f.stat().st_size, f.stat().st_mtime_ns) for f in files)


def read_each(files: list[Path], read, title: str, progress: Progress | None) -> list:
    """``read(f)`` for every file, reporting "reading TITLE NAME" as it goes."""
    out = []
    for i, f in enumerate(files):
        if progress:
            progress(i / len(files), f"reading {title} {f.name}")
        out.append(read(f))
    return out
