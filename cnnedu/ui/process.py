"""What the app process does once, on its first page run: import every module of cnnedu (and with them torch,
pandas and altair), then ``gc.freeze()``; and one line in the terminal that says so.

Why: those imports leave ~280,000 objects that Python's cyclic garbage collector tracks, all alive for as long
as the server runs. A full collection walks every one of them: ~0.2-0.3 s on a classroom server, while every
session waits (one GIL). Streamlit forces one after each script run unless ``runner.postScriptGC`` is off
(.streamlit/config.toml turns it off), and Python runs its own full collections now and then.
``gc.freeze()`` moves every object alive now into a permanent generation that collections skip, so a full
collection then takes microseconds; what sessions create afterwards is collected as usual. The modules are
imported here, before freezing, rather than page by page, so that the whole imported heap is frozen at once
(the first page run of a fresh server waits a few seconds for them, as the first Build page did anyway).

Not under AppTest: there the "app process" is the test process, whose heap (earlier tests' garbage included)
must stay collectable.
"""

from __future__ import annotations

import gc
import importlib
import pkgutil
import threading
import time

from streamlit import config
from streamlit.logger import get_logger

import cnnedu

_LOG = get_logger(__name__)
_LOCK = threading.Lock()
_done = False


def prepare_process() -> None:
    """Once per process (the first page run of any session; others wait here for it): imports, freeze, log."""
    global _done
    if _done or config.get_option("global.appTest"):
        return
    with _LOCK:
        if _done:
            return
        start = time.perf_counter()
        modules = import_everything()
        gc.collect()  # what the imports left as garbage goes now, not into the permanent generation
        gc.freeze()
        _done = True
        _LOG.info("cnnedu: %d modules imported, %s objects frozen out of the garbage collector's way "
                  "(gc.freeze) in %.1f s; runner.postScriptGC = %s",
                  modules, f"{gc.get_freeze_count():,}", time.perf_counter() - start,
                  config.get_option("runner.postScriptGC"))
        if config.get_option("runner.postScriptGC"):
            _LOG.warning("cnnedu: Streamlit collects garbage after every page run (runner.postScriptGC), "
                         "~0.3 s each during which every student waits. Start the app with ./run.sh app "
                         "(it reads the repository's .streamlit/config.toml) or add --runner.postScriptGC false.")


def import_everything() -> int:
    """Imports every module of the cnnedu package (but ``python -m cnnedu``'s ``__main__``); their number."""
    names = [m.name for m in pkgutil.walk_packages(cnnedu.__path__, "cnnedu.") if not m.name.endswith("__main__")]
    for name in names:
        importlib.import_module(name)
    return len(names)
