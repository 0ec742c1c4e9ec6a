"""ONNX export: the file carries its metadata, takes any batch size, and predicts like PyTorch.

Real torch.onnx (dynamo exporter), real onnx, real onnxruntime, real files.
"""

from __future__ import annotations

import re
from collections import OrderedDict
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest
import torch
from torch import nn

from cnnedu.errors import ExportError, PredictError
from cnnedu.onnx.export import export_bytes, export_onnx, meta_for_spec
from cnnedu.onnx.meta import KEY_CLASSES, KEY_INPUT_SHAPE, REQUIRED_KEYS, ModelMeta
from cnnedu.onnx.predict import OnnxModel

CLASSES = ["T-shirt", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Boot"]


def small_cnn(channels: int = 1, classes: int = 10) -> nn.Sequential:
    torch.manual_seed(0)
    return nn.Sequential(OrderedDict(
        conv1=nn.Conv2d(channels, 4, 3, padding=1), bn1=nn.BatchNorm2d(4), relu1=nn.ReLU(),
        pool1=nn.MaxPool2d(2), conv2=nn.Conv2d(4, 8, 3), relu2=nn.ReLU(), pool2=nn.AdaptiveAvgPool2d(2),
        flatten=nn.Flatten(), fc=nn.Linear(32, classes)))


def small_meta(**changes) -> ModelMeta:
    meta = ModelMeta(classes=list(CLASSES), input_shape=(1, 16, 16), channel_order="L", mean=[0.286],
                     std=[0.353], output="logits", arch="small-cnn",
                     spec={"name": "small", "layers": []}, training={"epochs": 2, "test_accuracy": 0.81})
    for key, value in changes.items():
        setattr(meta, key, value)
    return meta


@pytest.fixture(scope="module")
def exported(tmp_path_factory) -> tuple[nn.Module, ModelMeta, Path, object]:
    model, meta = small_cnn(), small_meta()
    path = tmp_path_factory.mktemp("export") / "small.onnx"
    report = export_onnx(model, meta, path)
    return model, meta, path, report


def test_metadata_round_trips_through_the_file(exported):
    _, meta, path, _ = exported
    proto = onnx.load(str(path))
    props = {p.key: p.value for p in proto.metadata_props}
    assert set(REQUIRED_KEYS) <= set(props)
    assert ModelMeta.from_props(props) == meta
    assert OnnxModel.from_path(path).meta == meta


def test_file_is_one_self_contained_onnx_model(exported):
    _, _, path, report = exported
    assert sorted(p.name for p in path.parent.iterdir()) == ["small.onnx"]  # no side file of weights
    proto = onnx.load(str(path), load_external_data=False)
    assert all(t.data_location != onnx.TensorProto.EXTERNAL for t in proto.graph.initializer)
    onnx.checker.check_model(proto)
    assert [i.name for i in proto.graph.input] == ["input"]
    assert [o.name for o in proto.graph.output] == ["output"]
    assert report.size_bytes == path.stat().st_size
    assert report.opset >= 17


@pytest.mark.parametrize("batch", [1, 7])
def test_any_batch_size_runs_and_matches_pytorch(exported, batch):
    model, _, path, _ = exported
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    x = torch.randn(batch, 1, 16, 16, generator=torch.Generator().manual_seed(batch))
    got = session.run(["output"], {"input": x.numpy()})[0]
    with torch.no_grad():
        expected = model.eval()(x).numpy()
    assert got.shape == (batch, 10)
    np.testing.assert_allclose(got, expected, atol=1e-4)


def test_report_states_the_parity_check(exported):
    _, _, path, report = exported
    assert report.path == path
    assert 0 <= report.max_abs_diff < 1e-4
    assert set(report.batch_sizes_checked) >= {1, 3}
    assert report.seconds > 0


def test_export_leaves_the_callers_model_as_it_was():
    model = small_cnn().train()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    data, report = export_bytes(model, small_meta())
    assert model.training  # still in training mode: export works on a copy
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())
    assert data[:2] and report.path is None and report.size_bytes == len(data)


class ValueDependentGate(nn.Module):
    """A layer whose forward takes a Python decision on tensor values: torch.export cannot capture it."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.mean() > 0:
            return x * 2
        return x


def test_unexportable_layer_is_named():
    model = small_cnn()
    model = nn.Sequential(OrderedDict(list(model.named_children())[:3] + [("gate", ValueDependentGate())]
                                      + list(model.named_children())[3:]))
    with pytest.raises(ExportError) as info:
        export_bytes(model, small_meta())
    text = str(info.value)
    assert "'gate'" in text and "ValueDependentGate" in text
    assert "data-dependent" in text  # the exporter's own reason, in one line


def test_nested_culprit_is_named_by_its_full_path():
    model = nn.Sequential(OrderedDict(
        stem=nn.Conv2d(1, 4, 3), block=nn.Sequential(OrderedDict(act=nn.ReLU(), gate=ValueDependentGate())),
        pool=nn.AdaptiveAvgPool2d(1), flatten=nn.Flatten(), fc=nn.Linear(4, 10)))
    with pytest.raises(ExportError, match=r"'block\.gate' \(ValueDependentGate\)"):
        export_bytes(model, small_meta())


def test_metadata_that_does_not_fit_the_network_is_refused():
    with pytest.raises(ExportError, match="10 outputs but the metadata names 3 classes"):
        export_bytes(small_cnn(), small_meta(classes=["a", "b", "c"]))
    with pytest.raises(ExportError, match="does not run on an input of shape"):
        export_bytes(small_cnn(), small_meta(input_shape=(3, 16, 16), channel_order="RGB", mean=[0.5] * 3,
                                             std=[0.5] * 3))
    with pytest.raises(ExportError, match="channel_order"):
        export_bytes(small_cnn(), small_meta(channel_order="RGB"))


def test_unwritable_destination_is_an_export_error(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    with pytest.raises(ExportError, match="Could not write"):
        export_onnx(small_cnn(), small_meta(), blocker / "model.onnx")


def test_meta_props_missing_or_bad_values_are_named():
    props = small_meta().to_props()
    missing = {k: v for k, v in props.items() if k != KEY_CLASSES}
    with pytest.raises(PredictError, match=KEY_CLASSES):
        ModelMeta.from_props(missing)
    with pytest.raises(PredictError, match=KEY_INPUT_SHAPE):
        ModelMeta.from_props({**props, KEY_INPUT_SHAPE: "[1, 16"})
    with pytest.raises(PredictError, match="std"):
        ModelMeta.from_props({**props, "cnnedu.std": "[0.0]"})
    assert ModelMeta.from_props(props) == small_meta()


# ---------------------------------------------------------------------------------- coursework presets


@pytest.mark.parametrize("preset", ["lenet-cifar10", "mnist-cnn", "resnet-cifar10"])
def test_coursework_presets_export_with_parity(preset, tmp_path):
    from cnnedu.arch.nets import build_model
    from cnnedu.arch.zoo import preset_spec

    spec = preset_spec(preset)
    torch.manual_seed(0)
    model = build_model(spec)
    meta = meta_for_spec(spec, [f"c{i}" for i in range(spec.num_classes)], mean=[0.5] * spec.input_shape[0],
                         std=[0.25] * spec.input_shape[0], arch=preset)
    report = export_onnx(model, meta, tmp_path / f"{preset}.onnx")
    assert report.max_abs_diff < 1e-4
    loaded = OnnxModel.from_path(tmp_path / f"{preset}.onnx")
    assert loaded.meta.arch == preset and loaded.meta.spec == spec.to_dict()
    assert loaded.meta.output == ("log_probs" if preset == "mnist-cnn" else "logits")


def test_parity_is_also_checked_with_perturbed_weights_when_outputs_do_not_vary():
    """A network whose output is the same for every image (here the weights are zero, so only the bias
    passes; an untrained MobileNet is the same in practice) makes a parity check of exactly 0 that proves
    nothing: the report says so and checks a copy with perturbed weights, whose outputs do vary."""
    model = nn.Sequential(nn.Flatten(), nn.Linear(16 * 16, len(CLASSES)))
    with torch.no_grad():
        model[1].weight.zero_()
        outputs = model.eval()(torch.randn(4, 1, 16, 16))
    assert torch.equal(outputs[0], outputs[3])  # the premise: one answer for every input
    _, report = export_bytes(model, small_meta())
    assert report.output_spread < 1e-6
    assert report.perturbed_max_abs_diff is not None and report.perturbed_max_abs_diff < 1e-4
    assert "same output for every test input" in report.perturbed_note
    assert float(re.search(r"outputs varying by ([0-9.e+-]+)", report.perturbed_note).group(1)) > 0.01
    assert model[1].weight.abs().sum() == 0  # the caller's network is untouched


def test_a_network_whose_outputs_vary_is_checked_once(exported):
    _, _, _, report = exported
    assert report.output_spread > 10 * report.tolerance and report.perturbed_max_abs_diff is None
    assert report.perturbed_note == ""
