"""Malformed specs are refused with a message that names the layer and the field, never a traceback."""

import json

import pytest

from cnnedu.arch.spec import load_spec_file, parse_spec
from cnnedu.arch.zoo import PRESETS, preset_spec
from cnnedu.errors import SpecError

BASE = {"input_shape": [3, 32, 32], "num_classes": 10}


def spec_with(layer):
    return {**BASE, "layers": [{"type": "ReLU"}, layer]}


@pytest.mark.parametrize("layer, field, words", [
    ({"type": "Convolution"}, "type", "unknown type 'Convolution'"),
    ({"type": "conv2d", "out_channels": 3, "kernel_size": 3}, "type", "Did you mean 'Conv2d'"),
    ({"type": "Conv2d", "out_channels": 3, "kernal_size": 3}, "kernal_size", "Did you mean 'kernel_size'"),
    ({"type": "Conv2d", "out_channels": 3}, "kernel_size", "needs 'kernel_size'"),
    ({"type": "Conv2d", "out_channels": 3, "kernel_size": 0}, "kernel_size", "≥ 1"),
    ({"type": "Conv2d", "out_channels": 3, "kernel_size": 3, "padding": -1}, "padding", "≥ 0"),
    ({"type": "Conv2d", "out_channels": 3, "kernel_size": 3, "stride": 2, "padding": "same"}, "padding",
     "only works with stride 1"),
    ({"type": "Conv2d", "out_channels": 3, "kernel_size": 2.5}, "kernel_size", "whole number"),
    ({"type": "Conv2d", "out_channels": 6, "kernel_size": 3, "groups": 4}, "groups", "divisible"),
    ({"type": "Dropout", "p": 1}, "p", "[0, 1)"),
    ({"type": "Dropout", "p": -0.1}, "p", "[0, 1)"),
    ({"type": "Linear", "out_features": "ten"}, "out_features", "whole number"),
    ({"type": "BatchNorm2d", "affine": "yes"}, "affine", "true or false"),
    ({"type": "MaxPool2d", "kernel_size": 2, "padding": 2}, "padding", "half the kernel"),
    ({"type": "ReLU", "name": "my relu"}, "name", "letters"),
    ({"type": "ReLU", "name": "train"}, "name", "taken by PyTorch"),  # nn.Module.train: build_model would crash
    ({"type": "ReLU", "name": "forward"}, "name", "taken by PyTorch"),
])
def test_bad_layers_name_layer_and_field(layer, field, words):
    with pytest.raises(SpecError) as info:
        parse_spec(spec_with(layer))
    assert info.value.layer == 1
    assert info.value.field == field
    assert words in str(info.value)
    assert "Layer 1" in str(info.value)


@pytest.mark.parametrize("spec, words", [
    ("{not json", "not valid JSON"),
    ({"num_classes": 10, "layers": []}, "needs an input_shape"),
    ({"input_shape": [3, 32], "layers": []}, "three whole numbers"),
    ({**BASE, "num_classes": 0, "layers": []}, "num_classes"),
    ({**BASE, "layers": {"type": "ReLU"}}, "list"),
    ({**BASE, "layer": []}, "Unknown key 'layer'"),
    ({**BASE, "layers": ["ReLU"]}, "must be an object"),
    ({**BASE, "layers": [{"type": "ReLU", "name": "a"}, {"type": "Tanh", "name": "a"}]}, "named 'a'"),
])
def test_bad_specs_say_what_is_wrong(spec, words):
    with pytest.raises(SpecError, match=words.replace("(", r"\(").replace("[", r"\[")):
        parse_spec(spec)


@pytest.mark.parametrize("preset_id", list(PRESETS))
def test_specs_round_trip_through_json(preset_id, tmp_path):
    spec = preset_spec(preset_id)
    assert parse_spec(spec.to_json()) == spec
    path = tmp_path / "spec.json"
    path.write_text(spec.to_json())
    assert load_spec_file(path) == spec


def test_pairs_and_defaults_are_normalised():
    spec = parse_spec(spec_with({"type": "Conv2d", "out_channels": 4, "kernel_size": [3, 3], "stride": [2, 1]}))
    assert spec.layers[1] == {"type": "Conv2d", "out_channels": 4, "kernel_size": 3, "stride": [2, 1]}
    assert json.loads(spec.to_json())["layers"][1]["stride"] == [2, 1]
    assert spec.names() == ["relu1", "conv1"]


def test_missing_spec_file_is_a_clear_error(tmp_path):
    with pytest.raises(SpecError, match="Cannot read the spec file .*No such file"):
        load_spec_file(tmp_path / "nope.json")


@pytest.mark.parametrize("field, value", [("out_features", 10**30), ("out_features", 2**63), ("out_features", 1e300)])
def test_a_huge_number_in_a_layer_is_refused_with_a_message_not_an_overflow(field, value):
    spec = {"input_shape": [1, 28, 28], "num_classes": 10,
            "layers": [{"type": "Flatten"}, {"type": "Linear", field: value}]}
    with pytest.raises(SpecError, match=r"Layer 1 \(Linear\): out_features is .* at most 1,000,000"):
        parse_spec(spec)


def test_a_huge_stride_or_kernel_pair_is_refused():
    spec = {"input_shape": [3, 32, 32], "num_classes": 10,
            "layers": [{"type": "Conv2d", "out_channels": 6, "kernel_size": [3, 10**20]}]}
    with pytest.raises(SpecError, match="kernel_size is a number with 21 digits"):
        parse_spec(spec)
