"""The Train page's settings: their defaults, the widget values that reproduce a run, number boxes that say
what is wrong right under themselves, and keeping the settings across a reload, the sidebar and a second
tab (in the session and in the address bar, ``?train=``: only what differs from the defaults)."""

from __future__ import annotations

from typing import Any

import streamlit as st

from cnnedu.arch.zoo import PRESETS
from cnnedu.errors import TrainError
from cnnedu.training.checks import check_network, pick_device
from cnnedu.training.config import DEFAULT_LR, ENGINE_NAMES, SCHEDULE_NAMES, SETTINGS, TrainConfig
from cnnedu.training.settings import FIELDS, format_number, parse_setting
from cnnedu.ui.common import CURRENT_BUILD
from cnnedu.ui.runs_view import effective_lr
from cnnedu.ui.state import BUILD_KEY, encode, set_the_build, url_get, url_set

SAVED_KEY = "train_settings"  # the last settings: widgets forget their values when the page is left
URL_NAME = "train"  # ?train=: the settings that differ from the defaults
SCHEDULE_HELP = {"none": "The learning rate stays the same for the whole run.",
                 "step": "The learning rate is multiplied by gamma every few epochs (StepLR, 003 Task 2.2).",
                 "cosine": "The learning rate falls to 0 along a half cosine over the run (CosineAnnealingLR).",
                 "onecycle": "The learning rate warms up to the chosen value, then falls far below it (OneCycleLR)."}
#: The settings on the Train page, in the order it draws them (the order of ``DEFAULTS`` and of ``?train=``).
PAGE_SETTINGS = ("arch", "dataset", "data_dir", "n_train", "n_test", "val_split", "flip", "crop", "normalize",
                 "optimizer", "lr", "momentum", "nesterov", "weight_decay", "scheduler", "step_size", "gamma",
                 "epochs", "batch_size", "seed", "device", "engine")


def widget_key(name: str) -> str:
    """The widget key of a setting (also its name in ``?train=``)."""
    return "train_batch" if name == "batch_size" else f"train_{name}"


#: Widget key → TrainConfig name of the settings typed as numbers (text boxes parsed by cnnedu.training.settings).
NUMBER_KEYS = {widget_key(name): name for name in PAGE_SETTINGS if name in FIELDS}

#: Widget keys and their defaults (``Setting.page_value``: a quick class demo, about 20 s on a laptop CPU,
#: no download, ~80 %); the number boxes hold text.
DEFAULTS: dict[str, Any] = {
    widget_key(name): format_number(SETTINGS[name].page_value) if name in FIELDS else SETTINGS[name].page_value
    for name in PAGE_SETTINGS
}
_KINDS = {widget_key(name): {"flag": bool, "number": float}[SETTINGS[name].kind]
          for name in PAGE_SETTINGS if name not in FIELDS and SETTINGS[name].kind in ("flag", "number")}
_OTHER = {widget_key(name): name for name in PAGE_SETTINGS if name not in FIELDS and name not in ("arch", "data_dir")}
#: How the selectboxes write their choices.
CHOICE_NAMES = {"optimizer": SETTINGS["optimizer"].names, "scheduler": SCHEDULE_NAMES, "engine": ENGINE_NAMES}


def widget(name: str) -> dict[str, Any]:
    """The label, key and help of a setting's widget, from its ``Setting``."""
    s = SETTINGS[name]
    return {"label": s.widget_label, "key": widget_key(name), "help": s.help}


def choice(name: str, **extra: Any) -> dict[str, Any]:
    """``widget`` of a choice setting, with its options and how they are written (``extra`` overrides)."""
    names = CHOICE_NAMES.get(name)
    return {**widget(name), "options": list(SETTINGS[name].choices), "format_func": names.get if names else str,
            **extra}


def slider(name: str) -> dict[str, Any]:
    """``widget`` of a number setting drawn as a slider over its allowed range."""
    return {**widget(name), "min_value": SETTINGS[name].low, "max_value": SETTINGS[name].high}


def settings_from_config(config: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """(widget values that reproduce a run's configuration, the run's custom network spec or None)."""
    s = dict(DEFAULTS)
    arch = config.get("arch")
    build = None
    if isinstance(arch, str) and arch in PRESETS:
        s["train_arch"] = arch
    elif isinstance(arch, dict):
        s["train_arch"], build = CURRENT_BUILD, arch
    for key, name in _OTHER.items():
        if config.get(name) is not None:
            s[key] = _KINDS.get(key, str)(config[name])
    for key, name in NUMBER_KEYS.items():
        value = config.get(name)
        if FIELDS[name].zero_means:  # None (all of them) is typed as 0
            value = value or 0
        if value is not None and not isinstance(value, bool) and isinstance(value, int | float):
            s[key] = format_number(value)
    s["train_data_dir"] = config.get("data_dir") or ""
    s["train_lr"] = format_number(effective_lr(config))
    return s, build


def clean(saved: Any) -> dict[str, Any]:
    """Settings read from the address bar, with anything unknown or of the wrong type left out."""
    if not isinstance(saved, dict):
        return {}
    out = {}
    for key, value in saved.items():
        if key in DEFAULTS and type(value) is type(DEFAULTS[key]):
            out[key] = value
        elif key == "train_flip" and isinstance(value, int | float) and not isinstance(value, bool):
            out[key] = min(1.0, max(0.0, float(value)))
    return out


def restore(session: Any, run_config: Any) -> dict[str, Any] | None:
    """Put the last settings back into the widgets: this tab's, else the address bar's (a reload, a second
    tab), else those of the watched run (``run_config()``, a config dict or None). Returns the watched run's
    custom network when the settings came from it (the page makes it the build if there is none)."""
    build = None
    saved = session.get(SAVED_KEY)
    if saved is None:
        from_url = clean(url_get(URL_NAME))
        if from_url:
            saved = {**DEFAULTS, **from_url}
        else:
            config = run_config()
            saved, build = settings_from_config(config) if config else (dict(DEFAULTS), None)
        session[SAVED_KEY] = saved
    for key, value in saved.items():
        if key not in session:
            session[key] = value
    return build


def save(session: Any) -> None:
    """Remember the widgets' values in the session and (what differs from the defaults) in the URL."""
    saved = {k: session[k] for k in DEFAULTS if k in session}
    session[SAVED_KEY] = saved
    changed = {k: v for k, v in saved.items() if DEFAULTS[k] != v}
    text_now = st.query_params.get(URL_NAME)
    if changed:
        if text_now != encode(changed):
            url_set(URL_NAME, changed)
    elif text_now is not None:
        url_set(URL_NAME, None)


def number_box(where: Any, name: str) -> int | float | None:
    """A text box for the numeric setting ``name``; its problem (if any) is shown right under it. None when
    invalid."""
    # No value=: it is part of the widget's identity, so a changing value= would make a new box on every run
    # (which shows the old text again). restore() has put the kept text into the session.
    text = where.text_input(**widget(name))
    parsed = parse_setting(name, text)
    if not parsed.ok:
        where.error(parsed.message, icon=":material/error:")
    return parsed.value


def field_example(key: str) -> str:
    return FIELDS[NUMBER_KEYS[key]].example


def restore_for_page(run_config: Any) -> None:
    """restore() for this tab; a run's custom network becomes the build of a fresh session."""
    build = restore(st.session_state, run_config)
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
    st.session_state[SAVED_KEY]["train_lr"] = format_number(DEFAULT_LR[st.session_state.train_optimizer])
    st.session_state.pop("train_lr", None)  # the box is drawn afresh with the new value


def preview_seed(session: Any) -> int:
    """The seed the augmentation preview draws with: the kept seed box's value, 0 while it is invalid."""
    return parse_setting("seed", session[SAVED_KEY]["train_seed"]).value or 0


def lr_caption(optimizer: str) -> str:
    return (f"The usual starting learning rate for {SETTINGS['optimizer'].names[optimizer]} is "
            f"{DEFAULT_LR[optimizer]:g}.")


def form_config(session: Any, arch: Any, data_dir: str | None, v: dict[str, Any]) -> TrainConfig:
    """The TrainConfig of the widgets: ``v`` holds the numbers typed (all valid), ``session`` the other
    widgets' values; a setting whose box is not shown (momentum for Adam) keeps its default."""
    s, optimizer = session, session.train_optimizer
    numbers = {name: v.get(name, SETTINGS[name].default) for name in FIELDS}
    numbers["n_train"], numbers["n_test"] = v["n_train"] or None, v["n_test"] or None  # 0 = all of them
    return TrainConfig(arch=arch, dataset=s.train_dataset, data_dir=data_dir, optimizer=optimizer,
                       nesterov=s.train_nesterov and optimizer == "sgd", scheduler=s.train_scheduler,
                       flip=s.train_flip, normalize=s.train_normalize, device=s.train_device,
                       engine=s.train_engine, **numbers)


def check_form(config: TrainConfig, spec: Any) -> tuple[list[str], list[str]]:
    """(the problem that blocks Start, or none; the memory notes) of the Train page's config."""
    try:
        config.validate()
        if config.device != "auto":
            pick_device(config.device)
        # no weights to learn, or too big for the memory budget: said before Start
        return [], check_network(spec, config) if spec is not None else []
    except TrainError as err:
        return [str(err)], []


def start_caption(invalid: list[str], problems: list[str]) -> str:
    """What the caption under Start says."""
    if invalid:
        return f":material/error: Fix the {len(invalid)} setting(s) marked in red below to start."
    if problems:
        return ":material/error: Start waits for the problem(s) shown at the end of the settings."
    return ("Runs queue up and train one at a time in the background: you can leave this page, reload it or "
            "open it in another tab. The Runs page lists them all.")
