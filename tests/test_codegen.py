"""The generated PyTorch source runs on its own and builds the same network as cnnedu."""

import subprocess
import sys

import pytest
import torch

from cnnedu.codegen import class_name, pytorch_source
from cnnedu.errors import ArchitectureError
from cnnedu.nets import build_model, count_params
from cnnedu.spec import parse_spec
from cnnedu.zoo import PRESETS, preset_spec

HAND_SPECS = [
    {"name": "odd kernels", "input_shape": [3, 20, 24], "num_classes": 5, "layers": [
        {"type": "Conv2d", "out_channels": 8, "kernel_size": [3, 5], "stride": [1, 2], "padding": [1, 2],
         "bias": False},
        {"type": "BatchNorm2d"}, {"type": "LeakyReLU", "negative_slope": 0.2},
        {"type": "Conv2d", "out_channels": 8, "kernel_size": 3, "groups": 8, "dilation": 2, "padding": "same"},
        {"type": "AvgPool2d", "kernel_size": 3, "stride": 2, "ceil_mode": True},
        {"type": "Dropout2d", "p": 0.1}, {"type": "Flatten"}, {"type": "Linear", "out_features": 5},
        {"type": "LogSoftmax"}]},
    {"name": "blocks", "input_shape": [3, 16, 16], "num_classes": 4, "layers": [
        {"type": "Conv2d", "out_channels": 16, "kernel_size": 3, "padding": 1},
        {"type": "Bottleneck", "out_channels": 32, "stride": 2, "width": 8},
        {"type": "BasicBlock", "out_channels": 32, "preact": True},
        {"type": "DepthwiseSeparable", "out_channels": 64, "stride": 2},
        {"type": "AdaptiveAvgPool2d", "output_size": 1}, {"type": "Flatten"},
        {"type": "BatchNorm1d"}, {"type": "GELU"}, {"type": "Linear", "out_features": 4}]},
]


def run_source(spec):
    namespace: dict = {"__name__": "generated"}
    exec(compile(pytorch_source(spec), "<generated>", "exec"), namespace)
    return namespace[class_name(spec)]()


@pytest.mark.parametrize("spec", [preset_spec(p) for p in PRESETS] + [parse_spec(s) for s in HAND_SPECS],
                         ids=[*PRESETS, *(s["name"] for s in HAND_SPECS)])
def test_generated_code_builds_the_same_network(spec):
    generated = run_source(spec)
    ours = build_model(spec)
    assert count_params(generated) == count_params(ours)
    assert generated.state_dict().keys() == ours.state_dict().keys()
    x = torch.randn(2, *spec.input_shape)
    generated.eval()
    ours.eval()
    generated.load_state_dict(ours.state_dict())  # same names: cnnedu's weights load into the code
    assert torch.allclose(generated(x), ours(x), atol=1e-5)


def test_generated_file_runs_as_a_script(tmp_path):
    path = tmp_path / "lenet.py"
    path.write_text(pytorch_source(preset_spec("lenet-cifar10")))
    out = subprocess.run([sys.executable, str(path)], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert "output shape: (2, 10)" in out.stdout and "parameters: 62006" in out.stdout


def test_code_for_a_network_that_does_not_fit_names_the_layer():
    spec = preset_spec("lenet-cifar10").to_dict()
    spec["input_shape"] = [3, 8, 8]
    with pytest.raises(ArchitectureError, match="conv2"):
        pytorch_source(spec)
