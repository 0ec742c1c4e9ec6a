"""The Train page's settings: their defaults, the widget values that reproduce a run, number boxes that say
what is wrong right under themselves, and keeping the settings across a reload, the sidebar and a second
tab (in the session and in the address bar, ``?train=``: only what differs from the defaults)."""

from __future__ import annotations

from typing import Any

import streamlit as st

from cnnedu.arch.zoo import PRESETS
from cnnedu.errors import TrainError
from cnnedu.training.settings import FIELDS, format_number, parse_setting
from cnnedu.training.train import DEFAULT_LR, pick_device
from cnnedu.ui.common import CURRENT_BUILD
from cnnedu.ui.runs_view import effective_lr
from cnnedu.ui.state import BUILD_KEY, encode, set_the_build, url_get, url_set

SAVED_KEY = "train_settings"  # the last settings: widgets forget their values when the page is left
URL_NAME = "train"  # ?train=: the settings that differ from the defaults
SCHEDULE_NAMES = {"none": "constant", "step": "step", "cosine": "cosine", "onecycle": "one-cycle"}
SCHEDULE_HELP = {"none": "The learning rate stays the same for the whole run.",
                 "step": "The learning rate is multiplied by gamma every few epochs (StepLR, 003 Task 2.2).",
                 "cosine": "The learning rate falls to 0 along a half cosine over the run (CosineAnnealingLR).",
                 "onecycle": "The learning rate warms up to the chosen value, then falls far below it (OneCycleLR)."}

#: Widget key → TrainConfig name of the settings typed as numbers (text boxes parsed by cnnedu.training.settings).
NUMBER_KEYS = {
    "train_n_train": "n_train", "train_n_test": "n_test", "train_val_split": "val_split", "train_crop": "crop",
    "train_lr": "lr", "train_momentum": "momentum", "train_weight_decay": "weight_decay",
    "train_step_size": "step_size", "train_gamma": "gamma", "train_epochs": "epochs",
    "train_batch": "batch_size", "train_seed": "seed",
}

# Widget keys and their defaults: a quick class demo (about 20 s on a laptop CPU, no download, ~80 %).
DEFAULTS: dict[str, Any] = {
    "train_arch": "mnist-cnn", "train_dataset": "synthetic", "train_data_dir": "",
    "train_n_train": "2000", "train_n_test": "500", "train_val_split": "0.1",
    "train_flip": 0.0, "train_crop": "0", "train_normalize": True,
    "train_optimizer": "adam", "train_lr": "0.001", "train_momentum": "0.9", "train_nesterov": False,
    "train_weight_decay": "0", "train_scheduler": "none", "train_step_size": "1", "train_gamma": "0.1",
    "train_epochs": "5", "train_batch": "64", "train_seed": "0", "train_device": "auto",
    "train_engine": "torch",
}
_KINDS = {"train_flip": float, "train_normalize": bool, "train_nesterov": bool}
_OTHER = {"train_dataset": "dataset", "train_flip": "flip", "train_normalize": "normalize",
          "train_optimizer": "optimizer", "train_nesterov": "nesterov", "train_scheduler": "scheduler",
          "train_device": "device", "train_engine": "engine"}
ENGINE_NAMES = {"torch": "PyTorch", "numpy": "NumPy, from scratch (seed 003)"}


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
        if name in ("n_train", "n_test"):
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


def number_box(where: Any, label: str, key: str, help: str | None = None) -> int | float | None:
    """A text box for a numeric setting; its problem (if any) is shown right under it. None when invalid."""
    # No value=: it is part of the widget's identity, so a changing value= would make a new box on every run
    # (which shows the old text again). restore() has put the kept text into the session.
    text = where.text_input(label, key=key, help=help)
    parsed = parse_setting(NUMBER_KEYS[key], text)
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
