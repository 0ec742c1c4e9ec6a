"""The one description of the training settings (cnnedu.training.config): every place that shows or checks
a setting reads it from ``SETTINGS``, so they cannot drift apart."""

from __future__ import annotations

import argparse
from dataclasses import fields

import pytest

from cnnedu.errors import TrainError
from cnnedu.training.checks import crop_problem
from cnnedu.training.config import SETTINGS, TrainConfig, arch_label, learning_rate
from cnnedu.training.settings import FIELDS, parse_setting


def test_every_field_has_a_setting_with_its_default():
    config = TrainConfig()
    assert list(SETTINGS) == [f.name for f in fields(TrainConfig)]
    for name, s in SETTINGS.items():
        assert s.name == name and s.default == getattr(config, name)
    config.validate()  # the defaults are allowed


@pytest.mark.parametrize("name", [n for n, s in SETTINGS.items() if s.kind in ("whole", "number")])
def test_validate_allows_exactly_the_range_of_the_setting(name):
    s = SETTINGS[name]
    TrainConfig(**{name: s.low if not s.low_open else s.low + 0.5 * (s.high - s.low)}).validate()
    TrainConfig(**{name: s.high if not s.high_open else s.high - 1e-9}).validate()
    below = s.low if s.low_open else s.low - 1
    with pytest.raises(TrainError, match=f"The setting {name}=.* is not allowed: {s.need_text()}"):
        TrainConfig(**{name: below}).validate()


def test_the_train_page_allows_no_more_than_validate():
    for name, f in FIELDS.items():
        s = SETTINGS[name]
        assert f.high <= s.high and f.low <= s.low and f.title == s.title
        assert parse_setting(name, f.example).ok, name
        value = parse_setting(name, f.example).value
        if not (f.zero_means and value == 0):
            s.check(value)


def test_the_cli_has_an_option_per_setting_with_a_help():
    from cnnedu.cli import train as cli_train

    p = argparse.ArgumentParser()
    cli_train._train_arguments(p)
    dests = {a.dest: a for a in p._actions}
    for name, s in SETTINGS.items():
        assert (name in dests) == (s.cli is not None), name
        if s.kind == "choice" and s.cli is not None:
            assert tuple(dests[name].choices) == s.choices
    args = p.parse_args(["--arch", "a.json", "--dataset", "mnist", "--no-convert", "--augment", "crop=2"])
    config = cli_train.config_from_args(args)
    assert (config.convert_input, config.crop, config.epochs) == (False, 2, SETTINGS["epochs"].default)


def test_the_names_of_a_network_and_the_usual_learning_rate():
    assert arch_label("nets/lenet.json") == arch_label("C:\\nets\\lenet.JSON") == "lenet"
    assert arch_label({"name": "tiny"}) == "tiny" and arch_label({}) == "custom"
    assert learning_rate("adam", None) == 0.001 and learning_rate("sgd", 0.5) == 0.5


def test_a_crop_padding_must_be_smaller_than_the_images():
    from cnnedu.arch.zoo import preset_spec

    spec = preset_spec("mnist-cnn")  # 28×28
    assert crop_problem(spec, 4) is None and crop_problem(spec, None) is None
    assert "use less than 28" in crop_problem(spec, 28)
