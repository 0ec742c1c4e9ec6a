"""The Train page's live view of one run: which run this tab watches (the session and ``?run=`` in the
address bar, so a reload or a second tab shows the same run), its status, progress, speed, time left and
curves, redrawn from the run store once a second while it runs (a fragment: the rest of the page stays)."""

from __future__ import annotations

import time

import streamlit as st

from cnnedu.errors import CnnEduError
from cnnedu.runs import store as runs
from cnnedu.runs.trained import has_weights
from cnnedu.ui.charts import accuracy_chart, loss_chart
from cnnedu.ui.common import show_error
from cnnedu.ui.nav import PAGE
from cnnedu.ui.runs_view import (
    Curves,
    augmentation_text,
    curves_from_events,
    effective_lr,
    optimizer_text,
    schedule_text,
    short_seconds,
    show_status,
)
from cnnedu.ui.text import plain

RUN_KEY = "train_run"  # the run this session watches (also ?run= in the URL)
EVENTS_KEY = "train_events"  # events already read from the store, per run (only new ones are fetched)
SPEED_KEY = "train_speed"  # (time, images) seen by this session while polling: the live speed


def watched_run_id() -> str | None:
    """The run to show: the one in the URL (a reload, a shared link), else this session's last one."""
    from_url = st.query_params.get("run")
    if from_url:
        st.session_state[RUN_KEY] = from_url
    return st.session_state.get(RUN_KEY)


def watch(run_id: str | None) -> None:
    if run_id is None:
        st.session_state.pop(RUN_KEY, None)
        st.query_params.pop("run", None)
    else:
        st.session_state[RUN_KEY] = run_id
        st.query_params["run"] = run_id


def watched_config() -> dict | None:
    run_id = watched_run_id()
    if not run_id:
        return None
    try:
        return runs.get_run(run_id).config
    except CnnEduError:
        return None


def run_events(run: runs.Run) -> list[dict]:
    """All the run's events, reading only the new ones from the store on each poll."""
    cache = st.session_state.setdefault(EVENTS_KEY, {})
    entry = cache.get(run.id)
    if entry is None or entry["created"] != run.created:  # a deleted run's id can be used again
        entry = {"created": run.created, "last": 0, "events": []}
    new = runs.events(run.id, since=entry["last"])
    if new:
        entry["events"].extend(new)
        entry["last"] = new[-1]["id"]
    st.session_state[EVENTS_KEY] = {run.id: entry}
    return entry["events"]


def live_speed(run_id: str, images: int) -> float | None:
    """Images per second over what this session has watched of the run (None until it has seen progress)."""
    samples = st.session_state.get(SPEED_KEY, {}).get(run_id, [])
    now = time.time()
    if not samples or samples[-1][1] != images:
        samples.append((now, images))
    samples = [s for s in samples if now - s[0] < 30] or samples[-1:]  # the last half minute
    st.session_state[SPEED_KEY] = {run_id: samples}
    moving = [s for s in samples if s[1] > 0]
    if len(moving) < 2 or moving[-1][0] - moving[0][0] < 1.0:
        return None
    return (moving[-1][1] - moving[0][1]) / (moving[-1][0] - moving[0][0])


def time_left(total: int, step: int, batch: int, speed: float | None, eta_s: float | None) -> float | None:
    """Seconds until a run of ``total`` steps is done: the steps to go at the live ``speed`` (images/s),
    else the last epoch's estimate ``eta_s`` (None: nothing to go on)."""
    if not total or not step:
        return None
    if speed:
        return (total - step) * batch / speed
    return eta_s if eta_s is not None and eta_s == eta_s else None


def draw_run(run_id: str, polling: bool) -> None:
    """Status, progress, speed, time and the curves of one run, redrawn from the store."""
    try:
        run = runs.get_run(run_id)
    except CnnEduError as err:
        if polling:
            st.rerun()  # deleted meanwhile (e.g. from the Runs page in another tab): stop polling
        show_error(err)
        return
    if polling and not run.active:
        st.rerun()  # finished: redraw the whole page once (links, no more polling)
    curves = curves_from_events(run_events(run))
    show_status(run, runs.list_runs() if run.status == "queued" else None)

    total, step = curves.total_steps, curves.step
    batch = int((curves.start or {}).get("batch_size") or run.config.get("batch_size") or 1)
    if total:
        epoch_now = int((curves.last_step or {}).get("epoch") or run.epochs_done or 1)
        st.progress(min(1.0, step / total), text=f"Epoch {epoch_now} of {run.epochs} · step {step} of {total}")
    elif run.status == "running":
        st.progress(0.0, text="Starting: loading the data and building the network…")
    if not total and not run.active:
        return  # it stopped before training started: the status line says why
    _metrics(run, curves, live_speed(run.id, step * batch) if run.active else None, batch)
    _curves(run, curves)
    if run.active:
        st.button("Cancel run", key="train_cancel", icon=":material/stop_circle:", disabled=run.cancel_requested,
                  on_click=runs.cancel, args=(run.id,),
                  help="Stops the run before its next batch; what it measured so far is kept.")


def _metrics(run: runs.Run, curves: Curves, speed: float | None, batch: int) -> None:
    """The four tiles: test accuracy, images per second, elapsed time and time left."""
    last_epoch = curves.epochs.iloc[-1] if len(curves.epochs) else None
    train_speed = float(last_epoch["images_per_s"]) if last_epoch is not None else speed
    left = None
    if run.active:
        eta = None if last_epoch is None else float(last_epoch["eta_s"])
        left = time_left(curves.total_steps, curves.step, batch, speed, eta)
    metrics = st.columns(4)
    latest = None if last_epoch is None else last_epoch["test_acc"]
    metrics[0].metric("Test accuracy", "—" if latest is None or latest != latest else f"{latest:.1%}",
                      help="Measured on the test images after each epoch.")
    metrics[1].metric("Images / s", f"{train_speed:,.0f}" if train_speed else "—",
                      help="Training images per second (forward and backward pass, without evaluation).")
    metrics[2].metric("Elapsed", short_seconds(run.seconds), help="Since the run started (with start-up).")
    metrics[3].metric("Time left", short_seconds(left) if run.active else "—",
                      help="Estimated from the speed so far.")


def _curves(run: runs.Run, curves: Curves) -> None:
    """The loss and accuracy charts (or what they wait for), then the run's notes and warnings."""
    if len(curves.steps):
        st.altair_chart(loss_chart(curves.steps, curves.epochs, height=220), width="stretch")
    elif run.active:
        st.caption("The loss curve appears after the first training steps.")
    if len(curves.epochs):
        st.altair_chart(accuracy_chart(curves.epochs, height=220), width="stretch")
    elif run.active:
        st.caption("Accuracy is measured at the end of each epoch: its curves appear after epoch 1.")
    start_warnings = (curves.start or {}).get("warnings") or []
    for note in start_warnings:
        st.caption(f"ℹ️ {note[0].upper()}{note[1:]}")
    for warning in (curves.end or {}).get("warnings") or []:
        if warning not in start_warnings:
            st.warning(warning, icon=":material/lightbulb:")


def show_run(run_id: str) -> None:
    try:
        run = runs.get_run(run_id)
    except CnnEduError as err:
        st.info(f"{plain(err)} Start a new run with the settings on the left.", icon=":material/info:")
        watch(None)
        return
    c = run.config
    st.subheader(f"Run {run.id}")
    st.caption(f"**{plain(run.arch)}** on **{plain(c.get('dataset'))}** · {optimizer_text(c)}, lr {effective_lr(c):g} · "
               f"batch {c.get('batch_size')} · {run.epochs} epoch(s) · schedule {schedule_text(c)} · "
               f"augmentation {augmentation_text(c)} · {'normalized' if c.get('normalize', True) else 'not normalized'}"
               f" · seed {c.get('seed', 0)}")
    if run.active:
        st.fragment(run_every=1.0)(draw_run)(run_id, True)
    else:
        draw_run(run_id, False)
        links = st.columns(2)
        if links[0].button("Compare with the previous run", icon=":material/monitoring:", key="train_compare", width="stretch",
                           help="Opens the Runs page with this run and the run before it overlaid."):
            earlier = [r.id for r in runs.list_runs() if r.seq < run.seq and r.status == "done"][:1]
            st.switch_page(PAGE["runs"].path, query_params={"compare": ",".join([*earlier, run.id])})
        if has_weights(run) and links[1].button("Look inside this network", icon=":material/visibility:", key="train_inside",
                                                    width="stretch"):
            st.session_state["inside_run"] = run.id  # the run picker of the Look inside page
            st.switch_page(PAGE["inside"].path)
