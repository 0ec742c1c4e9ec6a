"""The generated PyTorch source runs on its own and builds the same network as cnnedu."""

import subprocess
import sys
from pathlib import Path

import pytest
import torch

from cnnedu.arch.codegen import class_name, pytorch_source
from cnnedu.arch.nets import build_model, count_params
from cnnedu.arch.spec import parse_spec
from cnnedu.arch.zoo import PRESETS, preset_spec
from cnnedu.errors import ArchitectureError

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


def test_code_reads_like_the_coursework_with_a_forward_and_shapes():
    source = pytorch_source(preset_spec("lenet-64x64-gray"))
    assert "class LeNetOn64x64Grayscale(nn.Module):" in source
    assert "self.fc1 = nn.Linear(in_features=2704, out_features=120)  # → 120" in source
    assert "        x = self.pool2(x)  # batch × 16×13×13" in source
    assert "class BasicBlock" not in source  # only the blocks the network uses
    blocks = pytorch_source(preset_spec("resnet-cifar10-bottleneck"))
    assert "class Bottleneck(nn.Module):" in blocks and "def _shortcut(" in blocks
    assert "class BasicBlock" not in blocks and "class DepthwiseSeparable" not in blocks


def test_generated_code_is_ruff_clean(tmp_path):
    for preset_id in ("mobilenet-cifar10", "resnet-cifar10", "fashion-cnn3"):
        (tmp_path / f"{preset_id.replace('-', '_')}.py").write_text(pytorch_source(preset_spec(preset_id)))
    ruff = Path(sys.executable).parent / "ruff"
    out = subprocess.run([str(ruff), "check", "--no-cache", "--isolated", "--line-length", "130", str(tmp_path)],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stdout + out.stderr


def test_layer_names_that_are_python_keywords_still_work():
    spec = parse_spec({"name": "BasicBlock", "input_shape": [1, 8, 8], "num_classes": 2, "layers": [
        {"type": "Conv2d", "out_channels": 2, "kernel_size": 3, "name": "lambda"},
        {"type": "ReLU", "name": "if"}, {"type": "Flatten", "name": "class_"},
        {"type": "Linear", "out_features": 2, "name": "None"}]})
    model = run_source(spec)
    assert class_name(spec) == "BasicBlockNet"  # not the block class of the same name
    assert count_params(model) == count_params(build_model(spec))
    assert model(torch.zeros(2, 1, 8, 8)).shape == (2, 2)


def test_a_block_network_runs_as_a_script(tmp_path):
    path = tmp_path / "mobilenet.py"
    path.write_text(pytorch_source(preset_spec("mobilenet-cifar10")))
    out = subprocess.run([sys.executable, str(path)], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert "output shape: (2, 10)" in out.stdout and "parameters: 3217226" in out.stdout



def test_code_generated_from_8_threads_at_once_is_the_same_and_reads_no_source_file(monkeypatch):
    """The Build page's "PyTorch code" tab runs in the server's request threads, many at once in a class.
    ``inspect.getsource`` of a class parses its module with ``ast``, which CPython 3.11 cannot do from
    several threads at once (python/cpython#106905: "SystemError: AST constructor recursion depth
    mismatch"); the block sources are read once, at import, so generating code never parses anything."""
    import ast
    import inspect
    from concurrent.futures import ThreadPoolExecutor

    specs = [preset_spec("resnet-cifar10"), preset_spec("mobilenet-cifar10"), parse_spec(HAND_SPECS[1])]
    expected = [pytorch_source(spec) for spec in specs]  # test_generated_code_builds_the_same_network runs them
    parsed: list[str] = []
    for module, name in ((ast, "parse"), (inspect, "getsource"), (inspect, "findsource")):
        original = getattr(module, name)
        monkeypatch.setattr(module, name, lambda *a, _f=original, _n=name, **k: parsed.append(_n) or _f(*a, **k))
    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(lambda i: pytorch_source(specs[i % len(specs)]), range(32)))
    monkeypatch.undo()
    assert parsed == []
    assert results == [expected[i % len(specs)] for i in range(32)]
