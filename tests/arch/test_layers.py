"""The layer-type registry (cnnedu/arch/layers/): every registered type, whatever it is, works in a spec,
in ``build_model``, in the analysis table and in the generated code, so a new type is one record in one
family module."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from cnnedu.arch.analysis import analyze
from cnnedu.arch.codegen import class_name, pytorch_source
from cnnedu.arch.layers.registry import REQUIRED, for_module, layer_type, layer_types, settings
from cnnedu.arch.nets import build_model, count_params
from cnnedu.arch.spec import parse_spec

_SAMPLE = {"int": 4, "pair": 3}  # a value for each required field, by kind


def one_layer_spec(name: str) -> dict:
    """A small network with one ``name`` layer (its required fields filled in) that fits and ends in 3 classes."""
    kind = layer_type(name)
    layer = {"type": name} | {f.name: _SAMPLE[f.kind] for f in kind.fields if f.default is REQUIRED}
    before = [{"type": "Flatten"}] if kind.takes == "vector" else []
    return {"name": f"one {name}", "input_shape": [4, 8, 8], "num_classes": 3,
            "layers": [*before, layer, {"type": "Flatten"}, {"type": "Linear", "out_features": 3}]}


def test_the_types_keep_their_order():
    """The order of the Build page's choices and of "Use one of: ..." in errors (new types may come between)."""
    first = ["Conv2d", "MaxPool2d", "AvgPool2d", "AdaptiveAvgPool2d", "BatchNorm2d", "BatchNorm1d", "Dropout",
             "Dropout2d", "ReLU", "LeakyReLU", "Tanh", "Sigmoid", "GELU", "Flatten", "Linear", "Softmax",
             "LogSoftmax", "DepthwiseSeparable", "BasicBlock", "Bottleneck"]
    assert [name for name in layer_types() if name in first] == first


def test_a_pool_without_a_stride_steps_by_its_kernel():
    assert settings({"type": "MaxPool2d", "kernel_size": 3})["stride"] == 3
    assert settings({"type": "AvgPool2d", "kernel_size": [2, 3], "stride": 1})["stride"] == 1
    assert settings({"type": "Conv2d", "out_channels": 4, "kernel_size": 3})["stride"] == 1
    model = build_model(one_layer_spec("MaxPool2d"))
    assert model[0].stride == (3, 3)


@pytest.mark.parametrize("name", list(layer_types()))
def test_every_type_builds_analyses_and_generates_the_same_module(name):
    spec = parse_spec(one_layer_spec(name))
    index = len(spec.layers) - 3
    model = build_model(spec)
    assert for_module(model[index]) is layer_type(name)
    analysis = analyze(spec)
    assert analysis.ok, analysis.error
    row = analysis.top_rows()[index]
    assert row.type == name and row.formula and row.params_formula
    assert row.params == sum(p.numel() for p in model[index].parameters())
    namespace: dict = {"__name__": "generated"}
    exec(compile(pytorch_source(spec), "<generated>", "exec"), namespace)
    generated = namespace[class_name(spec)]()
    assert type(list(generated.children())[index]).__name__ == type(model[index]).__name__
    assert count_params(generated) == count_params(model)
    generated.load_state_dict(model.state_dict())  # the same names and shapes
    x = torch.randn(2, *spec.input_shape)
    assert torch.allclose(generated.eval()(x), model.eval()(x), atol=1e-6)


def test_a_module_no_type_builds_has_no_type():
    assert for_module(nn.Identity()) is None


def test_relu6_is_a_layer_type_like_torchs():
    spec = parse_spec({"name": "relu6 net", "input_shape": [2, 5, 5], "num_classes": 50,
                       "layers": [{"type": "ReLU6"}, {"type": "Flatten"}]})
    model = build_model(spec)
    assert isinstance(model[0], nn.ReLU6) and spec.names()[0] == "relu6_1"
    x = torch.randn(3, 2, 5, 5) * 10
    assert torch.equal(model[0](x), nn.ReLU6()(x))
    row = analyze(spec).top_rows()[0]
    assert (row.input_shape, row.output_shape) == ((2, 5, 5), (2, 5, 5)) == (tuple(x.shape[1:]),) * 2
    assert (row.params, row.params_formula, row.formula) == (0, "0", "same shape as the input")
    source = pytorch_source(spec)
    assert "nn.ReLU6()" in source
    namespace: dict = {"__name__": "generated"}
    exec(compile(source, "<generated>", "exec"), namespace)
    generated = namespace[class_name(spec)]()
    assert isinstance(generated.relu6_1, nn.ReLU6) and count_params(generated) == (0, 0)
