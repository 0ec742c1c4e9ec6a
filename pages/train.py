"""Train: choose a network, its data, augmentation, optimizer and schedule, start a run and watch it learn.

The run trains in a background process (cnnedu.runs); this page only reads the run store. The run id is
kept in the session and in the address bar (?run=...), so a reload or a second tab shows the same run.
"""

import time
from pathlib import Path

import numpy as np
import streamlit as st
import torch

from cnnedu import runs
from cnnedu.data import DATASETS, Dataset, find_local, load_dataset, preview, shape_mismatch
from cnnedu.data.convert import convert_images
from cnnedu.errors import CnnEduError, TrainError
from cnnedu.settings import format_number, parse_setting
from cnnedu.spec import Spec
from cnnedu.train import DEFAULT_LR, DEVICES, OPTIMIZERS, SCHEDULERS, TrainConfig, pick_device
from cnnedu.ui import train_form
from cnnedu.ui.charts import accuracy_chart, loss_chart
from cnnedu.ui.common import arch_picker, show_error
from cnnedu.ui.nav import ensure_navigation
from cnnedu.ui.runs_view import (
    OPTIMIZER_NAMES,
    augmentation_text,
    curves_from_events,
    effective_lr,
    optimizer_text,
    schedule_text,
    short_seconds,
    show_status,
)
from cnnedu.ui.state import BUILD_KEY, set_the_build
from cnnedu.ui.train_form import number_box
from cnnedu.zoo import PRESETS

ensure_navigation()
RUN_KEY = "train_run"  # the run this session watches (also ?run= in the URL)
EVENTS_KEY = "train_events"  # events already read from the store, per run (only new ones are fetched)
SPEED_KEY = "train_speed"  # (time, images) seen by this session while polling: the live speed
SCHEDULE_NAMES = {"none": "constant", "step": "step", "cosine": "cosine", "onecycle": "one-cycle"}
SCHEDULE_HELP = {"none": "The learning rate stays the same for the whole run.",
                 "step": "The learning rate is multiplied by gamma every few epochs (StepLR, 003 Task 2.2).",
                 "cosine": "The learning rate falls to 0 along a half cosine over the run (CosineAnnealingLR).",
                 "onecycle": "The learning rate warms up to the chosen value, then falls far below it (OneCycleLR)."}


# ------------------------------------------------------------------------------------- state and the URL


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


def restore_settings() -> None:
    build = train_form.restore(st.session_state, watched_config)
    if build is not None and BUILD_KEY not in st.session_state and "spec" not in st.query_params:
        set_the_build(build)  # a fresh session: the run's network becomes the build


def device_label(name: str) -> str:
    if name == "auto":
        return f"auto (here: {pick_device('auto').type})"
    try:
        pick_device(name)
    except TrainError:
        return f"{name} (not available on this computer)"
    return name


def on_optimizer() -> None:
    """A new optimizer starts from its usual learning rate (Adam's 0.001, SGD's 0.01)."""
    st.session_state[train_form.SAVED_KEY]["train_lr"] = format_number(DEFAULT_LR[st.session_state.train_optimizer])
    st.session_state.pop("train_lr", None)  # the box is drawn afresh with the new value


# ------------------------------------------------------------------------------------------- data notes


def shape_note(dataset: str, spec: Spec, label: str) -> tuple[str | None, str | None]:
    """(a note about converting the images to the network's input, a blocking problem) for a dataset whose
    images have a fixed shape."""
    info = DATASETS[dataset]
    if info.shape is None:
        return None, None
    empty = torch.zeros((0, *info.shape), dtype=torch.uint8)
    stub = Dataset(dataset, [str(i) for i in range(info.num_classes or 1)], "", empty,
                   torch.zeros(0, dtype=torch.long), empty, torch.zeros(0, dtype=torch.long))
    note = shape_mismatch(stub, tuple(spec.input_shape), model=label)
    problem = None
    have, want = info.shape[0], spec.input_shape[0]
    if note and have != want and {have, want} != {1, 3}:  # only grayscale ↔ RGB can be converted
        problem, note = note + ".", None
    elif note:
        note += ". The conversion is automatic when the run starts; the trained model remembers it, so " \
                "Predict converts your images the same way."
    if info.num_classes and spec.num_classes > info.num_classes:
        problem = (f"The network has {spec.num_classes} outputs but {info.title} has only {info.num_classes} "
                   f"classes. Set num_classes to {info.num_classes} on the Build page, or choose another network.")
    elif info.num_classes and spec.num_classes < info.num_classes:
        extra = (f"The network has {spec.num_classes} outputs, so only the first {spec.num_classes} of the "
                 f"{info.num_classes} classes of {info.title} are used.")
        note = f"{note} {extra}" if note else extra
    return note, problem


@st.cache_data(max_entries=16, show_spinner=False)
def sample_images(dataset: str, shape: tuple[int, int, int], num_classes: int, data_dir: str | None,
                  seed: int) -> np.ndarray:
    """Eight training images at the network's input shape, uint8 [8, C, H, W] (never downloads)."""
    if dataset == "synthetic":
        ds = load_dataset("synthetic", input_shape=shape, num_classes=num_classes, seed=seed, n_train=8, n_test=1)
    else:
        ds = load_dataset(dataset, data_dir=data_dir or None, seed=seed, n_train=8, n_test=1, download=False,
                          input_shape=shape if dataset == "folder" else None)
    x = ds.train_x[:8]
    if tuple(x.shape[1:]) != tuple(shape):
        x = convert_images(x, shape)
    return x.numpy()


def strip(rows: list[np.ndarray], scale: int, gap: int = 4) -> np.ndarray:
    """Rows of uint8 images [N, C, H, W] as one RGB picture, each image enlarged ``scale`` times (square
    pixels) with white gaps: the originals above their augmented copies, easy to compare."""
    n, _, h, w = rows[0].shape
    th, tw = h * scale, w * scale
    out = np.full((len(rows) * (th + gap) - gap, n * (tw + gap) - gap, 3), 255, dtype=np.uint8)
    for r, batch in enumerate(rows):
        for i, img in enumerate(batch):
            tile = np.repeat(img, 3, axis=0) if img.shape[0] == 1 else img
            tile = tile.transpose(1, 2, 0).repeat(scale, axis=0).repeat(scale, axis=1)
            out[r * (th + gap):r * (th + gap) + th, i * (tw + gap):i * (tw + gap) + tw] = tile
    return out


def show_preview(dataset: str, spec: Spec, data_dir: str | None, flip: float, crop: int, seed: int) -> None:
    if DATASETS[dataset].needs_network or dataset == "fashion-mnist":
        if find_local(dataset, data_dir or None) is None:
            st.caption(f"{DATASETS[dataset].title} is not on this computer yet: the preview appears once a run "
                       "has downloaded it.")
            return
    if dataset == "folder" and not data_dir:
        st.caption("Choose an image folder to see a preview.")
        return
    try:
        x = sample_images(dataset, tuple(spec.input_shape), min(spec.num_classes, 10), data_dir, seed)
        augmented = preview(torch.from_numpy(x), n=8, flip_p=flip, crop_padding=crop, seed=seed).numpy()
    except CnnEduError as err:
        show_error(err, "No preview: ")
        return
    scale = max(1, 64 // max(x.shape[2:]))
    if flip == 0 and crop == 0:
        st.image(strip([x], scale), width="stretch",
                 caption="Eight training images as the network receives them. Augmentation is off: every "
                         "epoch shows the network exactly these pixels.")
        return
    st.image(strip([x, augmented], scale), width="stretch",
             caption=f"Top: eight training images as the network receives them. Bottom: the same images after "
                     f"one random augmentation ({augmentation_text({'flip': flip, 'crop': crop})}). Each epoch "
                     "draws new flips and shifts, so the network never sees quite the same image twice.")


# ------------------------------------------------------------------------------------------- live view


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

    epochs = run.epochs
    total = curves.total_steps
    step = curves.step
    batch = int((curves.start or {}).get("batch_size") or run.config.get("batch_size") or 1)
    if total:
        epoch_now = int((curves.last_step or {}).get("epoch") or run.epochs_done or 1)
        st.progress(min(1.0, step / total), text=f"Epoch {epoch_now} of {epochs} · step {step} of {total}")
    elif run.status == "running":
        st.progress(0.0, text="Starting: loading the data and building the network…")

    speed = live_speed(run.id, step * batch) if run.active else None
    last_epoch = curves.epochs.iloc[-1] if len(curves.epochs) else None
    train_speed = float(last_epoch["images_per_s"]) if last_epoch is not None else speed
    left = None
    if run.active and total and step:
        if speed:
            left = (total - step) * batch / speed
        elif last_epoch is not None and last_epoch["eta_s"] == last_epoch["eta_s"]:
            left = float(last_epoch["eta_s"])
    if not total and not run.active:
        return  # it stopped before training started: the status line says why
    metrics = st.columns(4)
    latest = None if last_epoch is None else last_epoch["test_acc"]
    metrics[0].metric("Test accuracy", "—" if latest is None or latest != latest else f"{latest:.1%}",
                      help="Measured on the test images after each epoch.")
    metrics[1].metric("Images / s", f"{train_speed:,.0f}" if train_speed else "—",
                      help="Training images per second (forward and backward pass, without evaluation).")
    metrics[2].metric("Elapsed", short_seconds(run.seconds), help="Since the run started (with start-up).")
    metrics[3].metric("Time left", short_seconds(left) if run.active else "—",
                      help="Estimated from the speed so far.")

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

    if run.active:
        st.button("Cancel run", key="train_cancel", icon=":material/stop_circle:", disabled=run.cancel_requested,
                  on_click=runs.cancel, args=(run.id,),
                  help="Stops the run before its next batch; what it measured so far is kept.")


def show_run(run_id: str) -> None:
    try:
        run = runs.get_run(run_id)
    except CnnEduError as err:
        st.info(f"{err} Start a new run with the settings on the left.", icon=":material/info:")
        watch(None)
        return
    c = run.config
    st.subheader(f"Run {run.id}")
    st.caption(f"**{run.arch}** on **{c.get('dataset')}** · {optimizer_text(c)}, lr {effective_lr(c):g} · "
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
            st.switch_page("pages/runs.py", query_params={"compare": ",".join([*earlier, run.id])})
        if runs.has_weights(run) and links[1].button("Look inside this network", icon=":material/visibility:", key="train_inside",
                                                    width="stretch"):
            st.session_state["inside_run"] = run.id  # the run picker of the Look inside page
            st.switch_page("pages/inside.py")


# ------------------------------------------------------------------------------------------------ page

st.title("Train a network")
restore_settings()
settings, live = st.columns([4, 6], gap="large")

with settings:
    problems: list[str] = []
    start_box = st.container()  # Start at the top of the settings, beside the live view (filled below)
    st.subheader("Network and data")
    picked = arch_picker("Network", key="train_arch")
    spec = picked.spec
    if spec is not None and not picked.is_build:
        st.caption(f"{PRESETS[picked.key].source}, {PRESETS[picked.key].task}: input "
                   f"{'×'.join(map(str, spec.input_shape))}, {spec.num_classes} classes.")
    elif spec is not None:
        st.caption(f"The network you are building on the Build page (**{spec.name}**): input "
                   f"{'×'.join(map(str, spec.input_shape))}, {spec.num_classes} classes.")
    dataset = st.selectbox("Dataset", list(DATASETS), key="train_dataset", format_func=lambda k: DATASETS[k].title)
    info = DATASETS[dataset]
    st.caption(info.description)
    data_dir = None
    if dataset == "folder":
        data_dir = st.text_input("Image folder", key="train_data_dir", placeholder="/path/to/images",
                                 help="A folder with one sub-folder of images per class (optionally inside "
                                      "train/ and test/).").strip() or None
        if data_dir is None:
            problems.append("Choose the image folder.")
        elif not Path(data_dir).expanduser().is_dir():
            problems.append(f"There is no folder {data_dir}.")
    elif info.needs_network or dataset == "fashion-mnist":
        found = find_local(dataset)
        if found is not None:
            st.caption(f":material/check: Found on this computer: {found}")
        elif info.needs_network:
            st.info(f"{info.title} needs the internet the first time: about {info.download_mb:.0f} MB are "
                    "downloaded when the run starts. Without a connection the run fails and says so; "
                    "Synthetic shapes works offline.", icon=":material/language:")
    if spec is not None and dataset in ("synthetic", "folder"):
        shape = "×".join(map(str, spec.input_shape))
        st.caption(f"{'Drawn' if dataset == 'synthetic' else 'Read'} at the network's input size, {shape}"
                   + (f", {spec.num_classes} classes." if dataset == "synthetic" else "."))
    if spec is not None:
        note, problem = shape_note(dataset, spec, picked.title)
        if note:
            st.info(note, icon=":material/sync_alt:")
        if problem:
            problems.append(problem)
    elif picked.is_build:
        problems.append("The current build is not a valid network: fix it on the Build page.")

    v: dict[str, int | float | None] = {}  # the numbers typed, None where a box says what is wrong
    cols = st.columns(3)
    v["n_train"] = number_box(cols[0], "Training images", "train_n_train",
                              help="A random subset keeps a class demo quick. 0 = all of them.")
    v["n_test"] = number_box(cols[1], "Test images", "train_n_test", help="0 = all of them.")
    v["val_split"] = number_box(cols[2], "Validation share", "train_val_split",
                                help="The share of the training images (0 to 0.9) held out to measure accuracy "
                                     "on data the network does not learn from (the validation curve).")

    st.subheader("Augmentation")
    cols = st.columns(2)
    cols[0].slider("Flip probability", 0.0, 1.0, step=0.05, key="train_flip",
                   help="Each training image is mirrored left ↔ right with this probability.")
    v["crop"] = number_box(cols[1], "Crop padding (px)", "train_crop",
                           help="Pad each image by this many pixels (0 to 16) and cut it back at a random "
                                "place: the image shifts by up to this much. 0 = off; 4 is usual for CIFAR-10.")
    st.checkbox("Normalize the inputs (per-channel mean and std)", key="train_normalize",
                help="Subtract each channel's mean and divide by its standard deviation, measured on the "
                     "training images (000 Task 1.3, 001 Exercise 1).")
    if spec is not None and v["crop"] is not None and v["crop"] >= min(spec.input_shape[1:]):
        problems.append(f"A crop padding of {v['crop']} px is too large for "
                        f"{spec.input_shape[1]}×{spec.input_shape[2]} images: use less than "
                        f"{min(spec.input_shape[1:])}.")
    with st.expander("Preview augmented samples"):
        if spec is not None:
            show_preview(dataset, spec, data_dir, st.session_state.train_flip, v["crop"] or 0,
                         parse_setting("seed", st.session_state[train_form.SAVED_KEY]["train_seed"]).value or 0)
        st.caption("Normalization is not shown: it only shifts and scales the values, the picture stays the same.")

    st.subheader("Optimizer")
    cols = st.columns(3)
    optimizer = cols[0].selectbox("Optimizer", list(OPTIMIZERS), key="train_optimizer", on_change=on_optimizer,
                                  format_func=OPTIMIZER_NAMES.get)
    v["lr"] = number_box(cols[1], "Learning rate", "train_lr",
                         help="How far each step moves the weights: a number above 0, e.g. 0.001 or 1e-3 (a "
                              "dot for decimals). 000 Task 1.5 compares 0.1, 0.01, 0.001 and 0.0001; 001 "
                              "Exercise 3 compares SGD and Adam at 0.001 and 0.01.")
    v["weight_decay"] = number_box(cols[2], "Weight decay", "train_weight_decay",
                                   help="L2 penalty that pulls the weights towards 0 (AdamW applies it "
                                        "separately). 0 = off.")
    if optimizer in ("sgd", "rmsprop"):
        cols = st.columns(3)
        v["momentum"] = number_box(cols[0], "Momentum", "train_momentum",
                                   help="Keep this share (0 to below 1) of the previous step's direction "
                                        "(003 Task 1.9). 0 = plain SGD.")
        if optimizer == "sgd":
            cols[1].checkbox("Nesterov", key="train_nesterov",
                             help="Look ahead along the momentum before taking the gradient.")
    st.caption(f"The usual starting learning rate for {OPTIMIZER_NAMES[optimizer]} is {DEFAULT_LR[optimizer]:g}.")

    cols = st.columns([2, 1, 1])
    scheduler = cols[0].selectbox("Learning-rate schedule", list(SCHEDULERS), key="train_scheduler",
                                  format_func=SCHEDULE_NAMES.get)
    if scheduler == "step":
        v["step_size"] = number_box(cols[1], "Step size (epochs)", "train_step_size",
                                    help="The learning rate drops every this many epochs (003 Task 2.2: 2).")
        v["gamma"] = number_box(cols[2], "Gamma", "train_gamma",
                                help="Each drop multiplies the learning rate by gamma (003 Task 2.2: 0.9).")
    st.caption(SCHEDULE_HELP[scheduler])

    st.subheader("Run")
    cols = st.columns(3)
    v["epochs"] = number_box(cols[0], "Epochs", "train_epochs")
    v["batch_size"] = number_box(cols[1], "Batch size", "train_batch")
    v["seed"] = number_box(cols[2], "Seed", "train_seed",
                           help="The same seed gives the same run on a CPU: same data, weights and batches.")
    device = st.selectbox("Device", list(DEVICES), key="train_device", format_func=device_label,
                          help="auto = a CUDA GPU if there is one, else Apple's MPS, else the CPU.")
    train_form.save(st.session_state)

    s = st.session_state
    invalid = [k for k, value in v.items() if value is None]
    config = None
    if not invalid:
        config = TrainConfig(
            arch=picked.arch, dataset=dataset, data_dir=data_dir, n_train=v["n_train"] or None,
            n_test=v["n_test"] or None, epochs=v["epochs"], batch_size=v["batch_size"], optimizer=optimizer,
            lr=v["lr"], momentum=v.get("momentum", 0.9), nesterov=s.train_nesterov and optimizer == "sgd",
            weight_decay=v["weight_decay"], scheduler=scheduler, step_size=v.get("step_size", 1),
            gamma=v.get("gamma", 0.1), flip=s.train_flip, crop=v["crop"], normalize=s.train_normalize,
            val_split=v["val_split"], seed=v["seed"], device=device)
        try:
            config.validate()
            if device != "auto":
                pick_device(device)
        except TrainError as err:
            problems.insert(0, str(err))
    for problem in problems:
        st.error(problem, icon=":material/error:")

with start_box:
    blocked = bool(problems) or config is None
    if st.button("Start training", type="primary", icon=":material/play_arrow:", width="stretch", disabled=blocked,
                 key="train_start"):
        try:
            watch(runs.start_run(config))
        except CnnEduError as err:
            show_error(err, "The run could not start: ")
    if invalid:
        st.caption(f":material/error: Fix the {len(invalid)} setting(s) marked in red below to start.")
    elif problems:
        st.caption(":material/error: Start waits for the problem(s) shown at the end of the settings.")
    else:
        st.caption("Runs queue up and train one at a time in the background: you can leave this page, reload "
                   "it or open it in another tab. The Runs page lists them all.")

with live:
    run_id = watched_run_id()
    if run_id is None:
        st.subheader("Live view")
        st.info("Choose the settings and press **Start training**. The loss and accuracy curves appear here "
                "while the network learns.", icon=":material/arrow_back:")
    else:
        if st.query_params.get("run") != run_id:
            st.query_params["run"] = run_id
        show_run(run_id)
