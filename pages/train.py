"""Train: choose a network, its data, augmentation, optimizer and schedule, start a run and watch it learn.

The run trains in a background process (cnnedu.runs); this page only reads the run store. The run id is
kept in the session and in the address bar (?run=...), so a reload or a second tab shows the same run.
The settings' labels, help, ranges and defaults come from cnnedu.training.config (through
cnnedu.ui.train_form).
"""

import streamlit as st

from cnnedu.data import DATASETS
from cnnedu.errors import CnnEduError
from cnnedu.runs import store as runs
from cnnedu.training.checks import crop_problem
from cnnedu.ui import train_form
from cnnedu.ui.common import arch_picker, show_error
from cnnedu.ui.nav import ensure_navigation
from cnnedu.ui.train_form import choice, number_box, widget
from cnnedu.ui.train_live import show_run, watch, watched_config, watched_run_id
from cnnedu.ui.train_preview import folder_problem, network_caption, shape_note, show_data_notes, show_preview

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
    if caption := network_caption(picked):
        st.caption(caption)
    dataset = st.selectbox(**widget("dataset"), options=list(DATASETS), format_func=lambda k: DATASETS[k].title)
    st.caption(DATASETS[dataset].description)
    data_dir = None
    if dataset == "folder":
        data_dir = st.text_input(**widget("data_dir"), placeholder="/path/to/images").strip() or None
        problems += filter(None, [folder_problem(data_dir)])
    show_data_notes(dataset, spec)
    if spec is not None:
        note, problem = shape_note(dataset, spec, picked.title)
        if note:
            st.info(note, icon=":material/sync_alt:")
        problems += filter(None, [problem])
    elif picked.is_build:
        problems.append("The current build is not a valid network: fix it on the Build page.")

    v: dict[str, int | float | None] = {}  # the numbers typed, None where a box says what is wrong
    for col, name in zip(st.columns(3), ("n_train", "n_test", "val_split")):
        v[name] = number_box(col, name)

    st.subheader("Augmentation")
    cols = st.columns(2)
    cols[0].slider(**train_form.slider("flip"), step=0.05)
    v["crop"] = number_box(cols[1], "crop")
    st.checkbox(**widget("normalize"))
    if spec is not None:
        problems += filter(None, [crop_problem(spec, v["crop"])])
    with st.expander("Preview augmented samples"):
        if spec is not None:
            show_preview(dataset, spec, data_dir, st.session_state.train_flip, v["crop"] or 0,
                         train_form.preview_seed(st.session_state))
        st.caption("Normalization is not shown: it only shifts and scales the values, the picture stays the same.")

    st.subheader("Optimizer")
    cols = st.columns(3)
    optimizer = cols[0].selectbox(**choice("optimizer"), on_change=train_form.on_optimizer)
    v["lr"] = number_box(cols[1], "lr")
    v["weight_decay"] = number_box(cols[2], "weight_decay")
    if optimizer in ("sgd", "rmsprop"):
        cols = st.columns(3)
        v["momentum"] = number_box(cols[0], "momentum")
        if optimizer == "sgd":
            cols[1].checkbox(**widget("nesterov"))
    st.caption(train_form.lr_caption(optimizer))

    cols = st.columns([2, 1, 1])
    scheduler = cols[0].selectbox(**choice("scheduler"))
    if scheduler == "step":
        v["step_size"] = number_box(cols[1], "step_size")
        v["gamma"] = number_box(cols[2], "gamma")
    st.caption(train_form.SCHEDULE_HELP[scheduler])

    st.subheader("Run")
    for col, name in zip(st.columns(3), ("epochs", "batch_size", "seed")):
        v[name] = number_box(col, name)
    cols = st.columns(2)
    cols[0].selectbox(**choice("device", format_func=train_form.device_label))
    cols[1].selectbox(**choice("engine"))
    train_form.save(st.session_state)

    invalid = [k for k, value in v.items() if value is None]
    config = None
    notes: list[str] = []
    if not invalid:
        config = train_form.form_config(st.session_state, picked.arch, data_dir, v)
        blocking, notes = train_form.check_form(config, spec)
        problems = blocking + problems
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
    st.caption(train_form.start_caption(invalid, problems))

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
