"""The analysis table: the formulas shown agree with the shapes PyTorch measures; counts are right;
a network that does not fit gets a diagnostic naming the layer and the fix."""

import re

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from torch import nn

from cnnedu.arch.analysis import analyze
from cnnedu.arch.nets import build_model, count_params, trace
from cnnedu.arch.zoo import PRESETS, preset_spec
from cnnedu.errors import ArchitectureError


def formula_values(row) -> list[int]:
    """The numbers after '=' in a conv/pool size formula (one, or H and W)."""
    return [int(v) for v in re.findall(r"= (\d+)", row.formula.split("; channels")[0])]


def check_formulas(result) -> None:
    for row in result.rows:
        if row.type in ("Conv2d", "MaxPool2d", "AvgPool2d") and "same" not in row.formula:
            values = formula_values(row)
            assert values, row.formula
            h, w = row.output_shape[1], row.output_shape[2]
            assert values == ([h] if len(values) == 1 else [h, w]), (row.name, row.formula, row.output_shape)
            if len(values) == 1:
                assert h == w
        if row.type == "Flatten":
            assert row.formula.endswith(f"= {row.output_shape[0]}")


@pytest.mark.parametrize("preset_id", list(PRESETS))
def test_formulas_agree_with_torch_on_every_preset(preset_id):
    result = analyze(preset_spec(preset_id))
    assert result.ok
    check_formulas(result)
    model = build_model(preset_spec(preset_id))
    total, trainable = count_params(model)
    assert (result.totals.params, result.totals.trainable_params) == (total, trainable)
    # Every row's count is its torch module's count (sub-layers inside blocks too).
    modules = dict(model.named_modules())
    for row in result.rows:
        if row.name in modules:
            assert row.params == sum(p.numel() for p in modules[row.name].parameters()), row.name
    # The real forward pass gives the shape the table shows.
    model.eval()
    with torch.no_grad():
        out = model(torch.zeros(1, *preset_spec(preset_id).input_shape))
    assert tuple(out.shape[1:]) == result.rows[-1].output_shape


layer_strategy = st.one_of(
    st.fixed_dictionaries({"type": st.just("Conv2d"), "out_channels": st.integers(1, 6),
                           "kernel_size": st.integers(1, 7), "stride": st.integers(1, 3),
                           "padding": st.integers(0, 3), "dilation": st.integers(1, 3)}),
    st.fixed_dictionaries({"type": st.just("MaxPool2d"), "kernel_size": st.integers(1, 4),
                           "stride": st.integers(1, 3), "dilation": st.integers(1, 2),
                           "ceil_mode": st.booleans()}),
    st.fixed_dictionaries({"type": st.just("AvgPool2d"), "kernel_size": st.integers(1, 4),
                           "stride": st.integers(1, 3), "ceil_mode": st.booleans()}),
    st.just({"type": "ReLU"}), st.just({"type": "BatchNorm2d"}),
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(size=st.tuples(st.integers(1, 3), st.integers(4, 40), st.integers(4, 40)),
       layers=st.lists(layer_strategy, min_size=1, max_size=6))
def test_formulas_agree_with_torch_on_random_specs(size, layers):
    for layer in layers:  # a pool's padding may be at most half its kernel
        if layer["type"] in ("MaxPool2d", "AvgPool2d"):
            layer["padding"] = layer["kernel_size"] // 2 if layer["kernel_size"] > 1 else 0
    spec = {"input_shape": list(size), "num_classes": 3,
            "layers": [*layers, {"type": "Flatten"}, {"type": "Linear", "out_features": 3}]}
    result = analyze(spec)  # never raises for a misfit: the error is in the result
    check_formulas(result)
    if result.error is not None:
        assert isinstance(result.error, ArchitectureError)
        assert result.error.layer is not None and f"Layer {result.error.layer}" in str(result.error)
    else:
        model = build_model(spec).eval()
        with torch.no_grad():
            assert model(torch.zeros(2, *size)).shape == (2, 3)


def test_batchnorm_statistics_are_buffers_not_parameters():
    result = analyze(preset_spec("lenet-cifar10-bn"))
    bn = next(r for r in result.rows if r.type == "BatchNorm2d")
    assert bn.params == 12 and bn.buffers == 12
    assert "buffers, not parameters" in bn.note
    assert result.totals.params == 62_050


def test_linear_that_expects_the_wrong_number_of_features():
    spec = preset_spec("lenet-cifar10").to_dict()
    spec["input_shape"] = [1, 64, 64]  # 000 Task 1.2: the Task 1.1 layers on a 64×64 image
    error = trace(spec).error
    assert error.layer == 7
    assert "expects 400 features but receives 16×13×13 = 2704" in str(error)
    assert "Set in_features to 2704" in str(error)


def test_kernel_larger_than_the_input_after_a_layer():
    spec = preset_spec("lenet-cifar10").to_dict()
    spec["input_shape"] = [3, 12, 12]
    error = analyze(spec).error
    assert "kernel 5 is larger than the 4×4 input after layer 2" in str(error)
    assert error.layer == 3


def test_missing_flatten_and_wrong_class_count_are_explained():
    spec = preset_spec("mnist-cnn").to_dict()
    del spec["layers"][6]  # the Flatten
    assert "Add a Flatten" in str(analyze(spec).error)
    spec = preset_spec("mnist-cnn").to_dict()
    spec["num_classes"] = 7
    assert "ends with 10 outputs but the spec has 7 classes" in str(analyze(spec).error)


def test_stride_that_does_not_divide_warns_about_lost_pixels():
    result = analyze(preset_spec("gaze-cnn"))
    assert any("never seen" in message and "13×55" in message for _, message in result.warnings)


def test_conv_formula_and_counts_with_the_students_numbers():
    row = analyze(preset_spec("lenet-cifar10")).rows[0]
    assert row.formula.startswith("⌊(32 − 5 + 2·0)/1⌋ + 1 = 28")
    assert row.params_formula == "5·5·3·6 + 6 = 456"
    assert (row.weights, row.biases, row.macs) == (450, 6, 6 * 28 * 28 * 75)


def test_blocks_show_their_sub_layers_and_projection_shortcut():
    result = analyze(preset_spec("resnet-cifar10"))
    subs = [r for r in result.rows if r.depth == 1 and r.name.startswith("stack1_block0.")]
    assert any(r.name.endswith("shortcut") and r.params == 64 * 128 + 128 for r in subs)
    block = next(r for r in result.rows if r.name == "stack1_block0")
    assert "projection shortcut" in block.note and block.params == sum(r.params for r in subs)
    assert isinstance(dict(build_model(preset_spec("resnet-cifar10")).named_modules())["stack1_block0.shortcut"],
                      nn.Conv2d)


def test_block_rows_are_measured_in_one_walk_and_ignore_other_threads():
    """analyze() records the layers inside blocks during its single trace with a global forward hook;
    forward passes of another thread (a training run) must not leak into the table, and the hook goes away."""
    import threading

    from torch.nn.modules import module as torch_module

    quiet = analyze(preset_spec("resnet-cifar10-bottleneck")).to_dict()
    model = build_model(preset_spec("resnet-cifar10-bottleneck")).eval()
    stop = threading.Event()

    def busy() -> None:
        with torch.no_grad():
            while not stop.is_set():
                model(torch.zeros(1, 3, 32, 32))

    worker = threading.Thread(target=busy)
    worker.start()
    try:
        for _ in range(3):
            assert analyze(preset_spec("resnet-cifar10-bottleneck")).to_dict() == quiet
    finally:
        stop.set()
        worker.join()
    assert not torch_module._global_forward_hooks


def test_same_padding_with_an_even_kernel_is_explained_not_a_torch_warning(recwarn):
    spec = {"input_shape": [1, 8, 8], "num_classes": 2, "layers": [
        {"type": "Conv2d", "out_channels": 2, "kernel_size": 4, "padding": "same"},
        {"type": "Flatten"}, {"type": "Linear", "out_features": 2}]}
    result = analyze(spec)
    assert result.ok and result.rows[0].output_shape == (2, 8, 8)
    assert any("even kernel" in message for _, message in result.warnings)
    assert not [w for w in recwarn if issubclass(w.category, UserWarning)]


def test_an_unnamed_layer_added_to_a_preset_gets_a_free_name():
    spec = preset_spec("lenet-cifar10").to_dict()  # its layers are named conv1, pool1, fc1, ...
    spec["layers"].insert(8, {"type": "Linear", "out_features": 120})
    names = analyze(spec).spec.names()
    assert len(set(names)) == len(names) and "fc4" in names


def test_multiply_adds_in_both_conventions_by_hand():
    """LeNet on CIFAR-10. Products: conv1 6·28·28·(3·5·5) = 352,800, conv2 16·10·10·(6·5·5) = 240,000, fc
    400·120 + 120·84 + 84·10 = 58,920 → 651,720. torchinfo adds each bias once per output position:
    6·28·28 + 16·10·10 + 120 + 84 + 10 = 6,518 → 658,238."""
    result = analyze(preset_spec("lenet-cifar10"))
    assert (result.totals.macs, result.totals.macs_torchinfo) == (651_720, 658_238)
    conv1 = result.rows[0]
    assert (conv1.macs, conv1.macs_torchinfo) == (352_800, 352_800 + 6 * 28 * 28)
    # BatchNorm: torchinfo counts γ and β once (2·6 + 2·16 = 44), not per pixel
    assert analyze(preset_spec("lenet-cifar10-bn")).totals.macs_torchinfo == 658_238 + 44


@pytest.mark.parametrize("preset_id", ["resnet-cifar10", "resnet-cifar10-preact"])
def test_activation_memory_counts_every_call_of_a_module(preset_id):
    """A block's ReLU runs twice on same-shaped inputs; both outputs are kept for the backward pass.
    Measured with plain forward hooks on every leaf module: the sum of all outputs, call by call."""
    model = trace(preset_spec(preset_id)).model().eval()
    sizes = []
    hooks = [m.register_forward_hook(lambda _m, _i, out: sizes.append(out[0].numel() * 4))
             for m in model.modules() if not list(m.children())]
    with torch.no_grad():
        model(torch.zeros(1, 3, 32, 32, device="meta"))
    for hook in hooks:
        hook.remove()
    result = analyze(preset_spec(preset_id))
    assert result.totals.activation_bytes == sum(sizes)
    assert len(result.leaf_rows()) == len(sizes)
    block = [r for r in result.rows if r.name.startswith("stack0_block0.")]
    relus = [r for r in block if r.type == "ReLU"]
    assert len(relus) == 2 and relus[1].params == 0 and "counted once" in relus[1].note
