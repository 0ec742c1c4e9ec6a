"""Train: choose a network, its data, augmentation, optimizer and schedule, start a run and watch it learn.

The run trains in a background process (cnnedu.runs.store); this page only reads the run store. The run id is
kept in the session and in the address bar (?run=...), so a reload or a second tab shows the same run.
"""

from pathlib import Path

import streamlit as st

from cnnedu.arch.zoo import PRESETS
from cnnedu.data import DATASETS, find_local
from cnnedu.errors import CnnEduError, TrainError
from cnnedu.runs import store as runs
from cnnedu.training.settings import parse_setting
from cnnedu.training.train import (
    DEFAULT_LR,
    DEVICES,
    ENGINES,
    OPTIMIZERS,
    SCHEDULERS,
    TrainConfig,
    check_network,
    pick_device,
)
from cnnedu.ui import train_form
from cnnedu.ui.common import arch_picker, show_error
from cnnedu.ui.nav import ensure_navigation
from cnnedu.ui.runs_view import OPTIMIZER_NAMES
from cnnedu.ui.train_form import number_box
from cnnedu.ui.train_live import show_run, watch, watched_config, watched_run_id
from cnnedu.ui.train_preview import shape_note, show_preview

ensure_navigation()
# ------------------------------------------------------------------------------------------------ page

st.title("Train a network")
train_form.restore_for_page(watched_config)
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
    optimizer = cols[0].selectbox("Optimizer", list(OPTIMIZERS), key="train_optimizer", on_change=train_form.on_optimizer,
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
                                  format_func=train_form.SCHEDULE_NAMES.get)
    if scheduler == "step":
        v["step_size"] = number_box(cols[1], "Step size (epochs)", "train_step_size",
                                    help="The learning rate drops every this many epochs (003 Task 2.2: 2).")
        v["gamma"] = number_box(cols[2], "Gamma", "train_gamma",
                                help="Each drop multiplies the learning rate by gamma (003 Task 2.2: 0.9).")
    st.caption(train_form.SCHEDULE_HELP[scheduler])

    st.subheader("Run")
    cols = st.columns(3)
    v["epochs"] = number_box(cols[0], "Epochs", "train_epochs")
    v["batch_size"] = number_box(cols[1], "Batch size", "train_batch")
    v["seed"] = number_box(cols[2], "Seed", "train_seed",
                           help="The same seed gives the same run on a CPU: same data, weights and batches.")
    cols = st.columns(2)
    device = cols[0].selectbox("Device", list(DEVICES), key="train_device", format_func=train_form.device_label,
                               help="auto = a CUDA GPU if there is one, else Apple's MPS, else the CPU.")
    engine = cols[1].selectbox("Engine", list(ENGINES), key="train_engine", format_func=train_form.ENGINE_NAMES.get,
                               help="NumPy: seed 003's FullyConnectedNet written from scratch (fully connected "
                                    "networks, SGD, CPU only) — the From scratch page shows it beside PyTorch.")
    train_form.save(st.session_state)

    s = st.session_state
    invalid = [k for k, value in v.items() if value is None]
    config = None
    notes: list[str] = []
    if not invalid:
        config = TrainConfig(
            arch=picked.arch, dataset=dataset, data_dir=data_dir, n_train=v["n_train"] or None,
            n_test=v["n_test"] or None, epochs=v["epochs"], batch_size=v["batch_size"], optimizer=optimizer,
            lr=v["lr"], momentum=v.get("momentum", 0.9), nesterov=s.train_nesterov and optimizer == "sgd",
            weight_decay=v["weight_decay"], scheduler=scheduler, step_size=v.get("step_size", 1),
            gamma=v.get("gamma", 0.1), flip=s.train_flip, crop=v["crop"], normalize=s.train_normalize,
            val_split=v["val_split"], seed=v["seed"], device=device, engine=engine)
        try:
            config.validate()
            if device != "auto":
                pick_device(device)
            if spec is not None:  # no weights to learn, or too big for the memory budget: said before Start
                notes = check_network(spec, config)
        except TrainError as err:
            problems.insert(0, str(err))
    for problem in problems:
        st.error(problem, icon=":material/error:")
    for note in notes:
        st.warning(note, icon=":material/memory:")

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
