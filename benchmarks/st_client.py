"""A Streamlit client that speaks the browser's websocket protocol: protobuf ``BackMsg`` out, ``ForwardMsg`` in.

It is what a browser tab does, without drawing anything: open ``/_stcore/stream``, ask for a page (a
``rerun_script`` with the page's URL path), read the elements the script sends until ``script_finished``,
and send widget values back the way the frontend does (every widget's current value with each rerun, the
changed one updated). The load test (bench_classroom.py) runs many of these at once.

Widgets are found by their label (``session.widgets["Height"]``); a data editor by its key's prefix.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import json
import time
import urllib.request
from dataclasses import dataclass, field
from typing import Any

import websockets
from streamlit.proto.BackMsg_pb2 import BackMsg
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg
from streamlit.proto.WidgetStates_pb2 import WidgetState

_VALUE_FIELDS = {"number_input": "double_value", "text_input": "string_value", "selectbox": "int_value"}


@dataclass
class Widget:
    kind: str  # the element's kind: "number_input", "text_input", "data_editor", "button", ...
    id: str
    label: str
    is_int: bool = False


@dataclass
class RunResult:
    seconds: float
    exceptions: list[str]
    status: str
    alerts: list[str] = field(default_factory=list)  # the text of every st.error/warning/info/success drawn  # how the script ended ("FINISHED_SUCCESSFULLY", ...), or "timeout" / "closed"


@dataclass
class Session:
    """One browser tab's websocket session on the app at ``url`` (``http://host:port``)."""

    url: str
    timeout: float = 120.0
    widgets: dict[str, Widget] = field(default_factory=dict)
    states: dict[str, WidgetState] = field(default_factory=dict)
    page: str = ""
    cookies: str = ""  # what the page set (behind ./run.sh classroom: which app process holds this session)
    _ws: Any = None

    async def connect(self) -> float:
        """Load the page's HTML, then open the websocket with the cookies it set, as a browser does (behind
        ``./run.sh classroom`` a cookie keeps the session on one app process). Returns the seconds taken."""
        start = time.perf_counter()
        self.cookies = await asyncio.to_thread(_page_cookies, self.url)
        ws_url = self.url.replace("http://", "ws://").rstrip("/") + "/_stcore/stream"
        headers = {"Cookie": self.cookies} if self.cookies else None
        self._ws = await websockets.connect(ws_url, subprotocols=["streamlit"], max_size=None, open_timeout=60,
                                            additional_headers=headers)
        return time.perf_counter() - start

    async def close(self) -> None:
        if self._ws is not None:
            await self._ws.close()

    async def open(self, page: str) -> RunResult:
        """Go to a page (its URL path, "" for the start page), as a click in the sidebar does."""
        self.page, self.widgets, self.states = page, {}, {}
        return await self._rerun()

    async def set_value(self, label: str, value: Any) -> RunResult:
        """Change the widget ``label`` (a number box, a text box, a select box by option index) and rerun."""
        w = self.widgets[label]
        state = WidgetState(id=w.id)
        kind = _VALUE_FIELDS.get(w.kind, "string_value")
        if kind == "double_value" and w.is_int:
            kind = "int_value"
        setattr(state, kind, value)
        self.states[w.id] = state
        return await self._rerun()

    async def edit_table(self, key_prefix: str, edited_rows: dict[int, dict[str, Any]]) -> RunResult:
        """An edit in the data editor whose key starts with ``key_prefix``, as the grid sends it."""
        w = next(w for k, w in self.widgets.items() if k.startswith(key_prefix) and w.kind == "data_editor")
        old = json.loads(self.states[w.id].string_value) if w.id in self.states else {}
        rows = old.get("edited_rows", {})
        for r, cells in edited_rows.items():
            rows.setdefault(str(r), {}).update(cells)
        payload = {"edited_rows": rows, "added_rows": old.get("added_rows", []),
                   "deleted_rows": old.get("deleted_rows", [])}
        self.states[w.id] = WidgetState(id=w.id, string_value=json.dumps(payload))
        return await self._rerun()

    async def _rerun(self) -> RunResult:
        msg = BackMsg()
        msg.rerun_script.page_name = self.page
        msg.rerun_script.query_string = ""
        msg.rerun_script.widget_states.widgets.extend(self.states.values())
        start = time.perf_counter()
        await self._ws.send(msg.SerializeToString())
        return await self._read_until_finished(start)

    async def _read_until_finished(self, start: float) -> RunResult:
        exceptions: list[str] = []
        alerts: list[str] = []
        deadline = start + self.timeout
        while True:
            try:
                raw = await asyncio.wait_for(self._ws.recv(), max(0.1, deadline - time.perf_counter()))
            except TimeoutError:
                return RunResult(time.perf_counter() - start, exceptions, "timeout", alerts)
            except websockets.ConnectionClosed:
                return RunResult(time.perf_counter() - start, exceptions, "closed", alerts)
            fwd = ForwardMsg()
            fwd.ParseFromString(raw)
            kind = fwd.WhichOneof("type")
            if kind == "delta":
                self._read_delta(fwd, exceptions, alerts)
            elif kind == "script_finished":
                status = ForwardMsg.ScriptFinishedStatus.Name(fwd.script_finished)
                if status not in ("FINISHED_FRAGMENT_RUN_SUCCESSFULLY", "FINISHED_EARLY_FOR_RERUN"):
                    return RunResult(time.perf_counter() - start, exceptions, status, alerts)

    def _read_delta(self, fwd: ForwardMsg, exceptions: list[str], alerts: list[str]) -> None:
        if fwd.delta.WhichOneof("type") != "new_element":
            return
        element = fwd.delta.new_element
        kind = element.WhichOneof("type")
        if kind == "exception":
            exceptions.append(f"{element.exception.type}: {element.exception.message}")
            return
        if kind == "alert":
            alerts.append(element.alert.body)
            return
        inner = getattr(element, kind, None) if kind else None
        wid = getattr(inner, "id", "") if inner is not None else ""
        if not wid:
            return
        label = getattr(inner, "label", "") or ""
        if kind in ("arrow_data_frame", "dataframe"):  # a data editor: found by its key
            label = _user_key(wid)
            kind = "data_editor"
        is_int = kind == "number_input" and getattr(inner, "data_type", 0) == 0
        self.widgets[label] = Widget(kind, wid, label, is_int)


def run(coroutine: Any) -> Any:
    """``asyncio.run(coroutine)`` on a thread of its own: callable where an event loop already runs in this
    thread (beside Playwright's sync API in the tests)."""
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coroutine).result()


def _page_cookies(url: str) -> str:
    """The cookies the app's page sets, as a ``Cookie`` header value."""
    with urllib.request.urlopen(url, timeout=60) as answer:
        answer.read()
        return "; ".join(c.split(";", 1)[0] for c in answer.headers.get_all("Set-Cookie") or [])


def _user_key(widget_id: str) -> str:
    """A keyed widget's id ends with ``-<user key>`` (``$$ID-<hash>-layers_3``)."""
    return widget_id.rsplit("-", 1)[-1]
