"""The coursework presets build the networks the documents describe.

Each preset is checked against an independent plain-PyTorch transcription of its seed document
(tests/seed_reference.py, which does not use cnnedu): same parameters, same output shape.
"""

from __future__ import annotations

import json
import re

import pytest
import torch

from cnnedu.arch.nets import build_model, count_params, output_kind, trace
from cnnedu.arch.spec import parse_spec
from cnnedu.arch.zoo import PRESETS, get_preset, preset_spec, resolve_arch
from cnnedu.errors import SpecError
from tests.seed_reference import REFERENCE_MODELS, FullyConnectedNet, ResNet

CONTRACT_IDS = {
    "lenet-cifar10", "lenet-cifar10-bn", "lenet-64x64-gray", "mobilenet-cifar10", "lenet5-cifar10",
    "lenet5-cifar10-dropout", "mnist-cnn", "mnist-cnn2", "fashion-cnn3", "gaze-fc2", "gaze-fc-deep",
    "gaze-cnn", "gaze-cnn-bn", "resnet-cifar10", "resnet-cifar10-bottleneck", "resnet-cifar10-preact",
}


def _param_shapes(model: torch.nn.Module) -> list[tuple[int, ...]]:
    return sorted(tuple(p.shape) for p in model.parameters())


def _reference_count(model: torch.nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def test_every_coursework_network_is_a_preset():
    assert set(PRESETS) == CONTRACT_IDS
    assert set(REFERENCE_MODELS) == CONTRACT_IDS
    assert next(iter(PRESETS)) == "lenet-cifar10"  # the teaching order starts with the classic


@pytest.mark.parametrize("preset_id", list(PRESETS))
def test_preset_matches_the_document(preset_id):
    spec = preset_spec(preset_id)
    model = build_model(spec)
    reference = REFERENCE_MODELS[preset_id]()

    total, trainable = count_params(model)
    assert total == _reference_count(reference)
    assert trainable == total  # nothing is frozen in a fresh model
    # Same weight tensors, not just the same total: catches two mistakes that cancel out.
    assert _param_shapes(model) == _param_shapes(reference)

    torch.manual_seed(0)
    images = torch.rand(2, *spec.input_shape)
    model.eval()
    reference.eval()
    with torch.no_grad():
        out = model(images)
        ref_out = reference(images)
    assert list(out.shape) == [2, spec.num_classes]
    assert out.shape == ref_out.shape
    assert torch.isfinite(out).all()


def _wiring(model: torch.nn.Module) -> list[tuple[str, tuple[int, ...]]]:
    """What a forward pass does, in order, from torch.fx: each layer as (kind with its sizes, the
    positions of the layers whose outputs it reads; -1 is the input). Functional calls (F.relu, view)
    count like modules (nn.ReLU, Flatten), so two ways of writing the same network read the same."""
    graph = torch.fx.symbolic_trace(model).graph
    modules = dict(model.named_modules())
    steps: list[tuple[str, tuple[int, ...]]] = []
    where: dict[torch.fx.Node, int] = {}
    for node in graph.nodes:
        kind = _kind(node, modules)
        if node.op == "placeholder":
            where[node] = -1
        elif kind is not None:
            steps.append((kind, tuple(where[n] for n in node.all_input_nodes if n in where)))
            where[node] = len(steps) - 1
    return steps


def _kind(node: torch.fx.Node, modules: dict[str, torch.nn.Module]) -> str | None:
    two = torch.nn.modules.utils._pair
    if node.op == "call_module":
        m = modules[node.target]
        if isinstance(m, torch.nn.Conv2d):
            return (f"conv {m.in_channels}→{m.out_channels} k{m.kernel_size} s{m.stride} p{m.padding} "
                    f"groups {m.groups} bias {m.bias is not None}")
        if isinstance(m, (torch.nn.MaxPool2d, torch.nn.AvgPool2d)):
            return f"{type(m).__name__} k{two(m.kernel_size)} s{two(m.stride)} p{two(m.padding)}"
        if isinstance(m, torch.nn.Linear):
            return f"linear {m.in_features}→{m.out_features} bias {m.bias is not None}"
        if isinstance(m, (torch.nn.BatchNorm1d, torch.nn.BatchNorm2d)):
            return f"batchnorm {m.num_features}"
        if isinstance(m, torch.nn.Dropout):
            return f"dropout {m.p}"
        names = {torch.nn.ReLU: "relu", torch.nn.Flatten: "flatten", torch.nn.Softmax: "softmax",
                 torch.nn.LogSoftmax: "log_softmax", torch.nn.AdaptiveAvgPool2d: "global average pool"}
        return names[type(m)]
    if node.op in ("call_function", "call_method"):
        name = getattr(node.target, "__name__", str(node.target))
        if name == "avg_pool2d":
            k = two(node.args[1])
            return f"AvgPool2d k{k} s{k} p(0, 0)"
        kinds = {"relu": "relu", "add": "add", "view": "flatten", "reshape": "flatten", "flatten": "flatten",
                 "softmax": "softmax", "log_softmax": "log_softmax"}
        return kinds[name] if name != "size" else None
    return None


@pytest.mark.parametrize("preset_id", list(PRESETS))
def test_preset_runs_its_layers_in_the_documents_order(preset_id):
    """Same layers, same order, same wiring (which output each layer reads, the residual additions
    too) as the plain-PyTorch transcription of the seed document."""
    ours = _wiring(trace(preset_spec(preset_id)).model())  # on the meta device: no weights to draw
    with torch.device("meta"):
        reference = _wiring(REFERENCE_MODELS[preset_id]())
    assert [kind for kind, _ in ours] == [kind for kind, _ in reference]
    assert ours == reference


# Independent anchors, counted by hand (weights + biases; BatchNorm adds 2 per channel):
#   lenet-cifar10:  conv1 3·6·25+6 = 456, conv2 6·16·25+16 = 2,416, fc1 400·120+120 = 48,120,
#                   fc2 120·84+84 = 10,164, fc3 84·10+10 = 850                      → 62,006
#   lenet-64x64-gray: conv1 1·6·25+6 = 156, conv2 2,416, fc1 (16·13·13 = 2704)·120+120 = 324,600,
#                   fc2 10,164, fc3 850                                             → 338,186
#                   (the document's hand calculation says 443,706)
#   mnist-cnn:      conv1 16·25+16 = 416, conv2 32·16·9+32 = 4,640, fc1 800·128+128 = 102,528,
#                   fc2 128·10+10 = 1,290                                           → 108,874
#   gaze-fc-deep:   4320·100+100 = 432,100, 2 × (100·100+100) = 20,200, 100·4+4 = 404 → 452,704
#                   (the document's 452,400 forgot the biases)
#   gaze-cnn:       conv1 1·6·9+6 = 60, conv2 6·16·25+16 = 2,416, fc1 2592·256+256 = 663,808,
#                   fc2 256·4+4 = 1,028                                             → 667,312
#                   (the document's 667,052 forgot the FC biases)
#   gaze-cnn-bn:    667,312 + BN(6) 12 + BN(16) 32                                  → 667,356
#                   (the document says 667,052 again: no biases, no BatchNorm parameters)
HAND_COUNTS = {
    "lenet-cifar10": 62_006,
    "lenet-64x64-gray": 338_186,
    "mnist-cnn": 108_874,
    "gaze-fc-deep": 452_704,
    "gaze-cnn": 667_312,
    "gaze-cnn-bn": 667_356,
}


@pytest.mark.parametrize("preset_id", list(HAND_COUNTS))
def test_parameter_counts_match_hand_calculation(preset_id):
    assert count_params(build_model(preset_spec(preset_id)))[0] == HAND_COUNTS[preset_id]


def test_fc1_input_is_inferred_for_the_64x64_input():
    model = build_model(preset_spec("lenet-64x64-gray"))
    assert model.fc1.in_features == 16 * 13 * 13 == 2704


def test_layers_carry_the_documents_names():
    assert {"conv1", "pool1", "conv2", "pool2", "fc1", "fc2", "fc3"} <= set(preset_spec("lenet-cifar10").names())
    assert {"C1", "S1", "C2", "C3", "S2", "F6", "F7", "F8"} <= set(preset_spec("lenet5-cifar10").names())
    assert {"conv1", "bn1", "pool1", "bn2", "fc1", "fc2"} <= set(preset_spec("gaze-cnn-bn").names())
    assert "stack2_block2" in preset_spec("resnet-cifar10").names()


def test_batchnorm_sits_where_each_document_puts_it():
    lenet_bn = [layer["type"] for layer in preset_spec("lenet-cifar10-bn").layers[:4]]
    assert lenet_bn == ["Conv2d", "BatchNorm2d", "ReLU", "MaxPool2d"]
    gaze_bn = [layer["type"] for layer in preset_spec("gaze-cnn-bn").layers[:4]]
    assert gaze_bn == ["Conv2d", "ReLU", "MaxPool2d", "BatchNorm2d"]


def test_dropout_presets():
    types = [layer["type"] for layer in preset_spec("lenet5-cifar10-dropout").layers]
    assert types.count("Dropout") == 2
    drops = [layer for layer in preset_spec("lenet5-cifar10-dropout").layers if layer["type"] == "Dropout"]
    assert [d["p"] for d in drops] == [0.25, 0.25]
    assert "Dropout" not in [layer["type"] for layer in preset_spec("lenet5-cifar10").layers]


def test_output_kinds():
    assert output_kind(preset_spec("lenet5-cifar10")) == "probs"
    assert output_kind(preset_spec("mnist-cnn")) == "log_probs"
    assert output_kind(preset_spec("fashion-cnn3")) == "log_probs"
    assert output_kind(preset_spec("gaze-cnn")) == "logits"
    assert output_kind(preset_spec("resnet-cifar10")) == "logits"


def test_softmax_preset_outputs_probabilities():
    model = build_model(preset_spec("lenet5-cifar10")).eval()
    with torch.no_grad():
        probs = model(torch.rand(2, 3, 32, 32))
    assert torch.allclose(probs.sum(dim=1), torch.ones(2))


@pytest.mark.parametrize("preset_id", list(PRESETS))
def test_preset_round_trips_through_json(preset_id):
    spec = preset_spec(preset_id)
    assert parse_spec(spec.to_json()) == spec
    assert parse_spec(json.loads(spec.to_json())) == spec


@pytest.mark.parametrize("preset_id", list(PRESETS))
def test_preset_has_provenance(preset_id):
    preset = get_preset(preset_id)
    assert preset.id == preset_id
    assert re.fullmatch(r"00[0-4]_[0-9a-f]{16}\.txt", preset.source)
    assert preset.task.strip()
    assert preset.title.strip()
    assert preset.dataset.strip()
    assert 20 < len(preset.description) < 700
    assert set(preset.param_help) == set(preset.params)
    assert preset_spec(preset_id).name == preset.title


def test_block_count_is_a_parameter():
    for block, preset_id in (("standard", "resnet-cifar10"), ("preact", "resnet-cifar10-preact"),
                             ("bottleneck", "resnet-cifar10-bottleneck")):
        model = build_model(preset_spec(preset_id, blocks=1))
        assert count_params(model)[0] == _reference_count(ResNet(block, resnet_size=1))
    blocks = [layer for layer in preset_spec("resnet-cifar10", blocks=2).layers if layer["type"] == "BasicBlock"]
    assert len(blocks) == 6
    assert [b["stride"] for b in blocks] == [1, 1, 2, 1, 2, 1]


def test_hidden_sizes_are_a_parameter():
    model = build_model(preset_spec("gaze-fc-deep", hidden=[50, 20]))
    assert count_params(model)[0] == _reference_count(FullyConnectedNet([50, 20]))
    model = build_model(preset_spec("gaze-fc2", hidden=64))
    assert count_params(model)[0] == _reference_count(FullyConnectedNet([64]))


def test_bad_preset_parameters_are_explained():
    with pytest.raises(SpecError, match="blocks"):
        preset_spec("resnet-cifar10", depth=3)
    with pytest.raises(SpecError, match="no setting"):
        preset_spec("lenet-cifar10", blocks=3)
    with pytest.raises(SpecError, match="whole number"):
        preset_spec("resnet-cifar10", blocks=0)
    with pytest.raises(SpecError, match="whole number"):
        preset_spec("resnet-cifar10", blocks="two")
    with pytest.raises(SpecError, match="hidden units"):
        preset_spec("gaze-fc-deep", hidden=[100, -1])
    with pytest.raises(SpecError, match=r"\[0, 1\)"):
        preset_spec("fashion-cnn3", dropout=1.5)


def test_unknown_preset_lists_the_valid_ids():
    with pytest.raises(SpecError) as caught:
        get_preset("lenet-cifar")
    message = str(caught.value)
    assert "lenet-cifar10" in message
    assert "resnet-cifar10-bottleneck" in message


def test_resolve_arch_with_a_preset_id():
    assert resolve_arch("gaze-cnn") == preset_spec("gaze-cnn")


def test_resolve_arch_with_a_json_file(tmp_path):
    spec = preset_spec("mnist-cnn2")
    path = tmp_path / "my_cnn.json"
    path.write_text(spec.to_json(), encoding="utf-8")
    assert resolve_arch(str(path)) == spec


def test_resolve_arch_with_a_bad_name():
    with pytest.raises(SpecError) as caught:
        resolve_arch("alexnet")
    assert "mnist-cnn" in str(caught.value)
    assert ".json" in str(caught.value)


def test_resolve_arch_with_a_missing_json_file(tmp_path):
    with pytest.raises(SpecError, match="Cannot read the spec file .*No such file"):
        resolve_arch(str(tmp_path / "missing.json"))
