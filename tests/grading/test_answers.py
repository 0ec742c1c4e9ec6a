"""Grading a hand calculation: every mistake in the coursework's own calculations is caught and named,
and right answers (in either channel order) are marked right."""

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from torch import nn

from cnnedu.arch.analysis import analyze
from cnnedu.arch.zoo import DOCUMENT_ANSWERS, PRESETS, preset_spec
from cnnedu.errors import AnswersError
from cnnedu.grading.arith import evaluate
from cnnedu.grading.cells import read_count, read_shape
from cnnedu.grading.form import AnswerSheet, verdict_table
from cnnedu.grading.grade import grade

TASK_1_2 = DOCUMENT_ANSWERS["lenet-64x64-gray"]  # 000 Task 1.2 as the document writes it


def verdicts_by_key(report):
    return {(v.layer, v.field): v for v in report.verdicts}


def test_000_task_1_2_every_mistake_is_caught_and_named():
    report = grade(preset_spec("lenet-64x64-gray"), TASK_1_2)
    v = verdicts_by_key(report)
    wrong = {key for key, verdict in v.items() if not verdict.ok}
    assert wrong == {(3, "params"), (5, "output_shape"), (7, "params"), (11, "output_shape"),
                     (None, "total_params")}

    conv2 = v[(3, "params")]  # 5²×1×16: the network's 1 input channel instead of conv1's 6
    assert conv2.correct == 2416 and conv2.mistakes == ["wrong_in_channels"]
    assert "input channels are 6" in conv2.hint and "1 input channel" in conv2.hint
    assert "5·5·6·16 + 16 = 2,416" in conv2.hint

    pool2 = v[(5, "output_shape")]  # (30 − 2)/2 + 1 = 15: pooled conv2's input, not its output
    assert pool2.correct == [16, 13, 13] and pool2.mistakes == ["wrong_input"]
    assert "pooled the 30×30 input of conv2 instead of its 26×26 output" in pool2.hint

    fc1 = v[(7, "params")]  # 15×15×16 features carried forward from the pool2 mistake
    assert fc1.correct == 324_600 and fc1.mistakes == ["wrong_in_features"]
    for words in ("15×15×16 = 3600", "16×13×13 = 2704", "in_features = 2704", "pool2, carried forward"):
        assert words in fc1.hint

    fc3 = v[(11, "output_shape")]  # 20×1 for 10 classes
    assert fc3.correct == [10] and fc3.mistakes == ["wrong_classes"]
    assert "one score per class" in fc3.hint and "10 classes" in fc3.hint

    total = v[(None, "total_params")]  # the sum of the layer counts above, two of which are wrong
    assert total.correct == 338_186 and "sum_of_wrong_layers" in total.mistakes
    assert "adds up your layer counts" in total.hint and "2 of them are wrong" in total.hint
    assert "conv2 (416, should be 2,416)" in total.hint and "fc1 (432,120, should be 324,600)" in total.hint


def test_000_task_1_2_right_answers_are_right_and_the_channel_order_is_noted():
    v = verdicts_by_key(grade(preset_spec("lenet-64x64-gray"), TASK_1_2))
    for key in [(0, "output_shape"), (0, "params"), (2, "output_shape"), (3, "output_shape"),
                (7, "output_shape"), (9, "output_shape"), (9, "params"), (11, "params")]:
        assert v[key].ok and v[key].hint == "", key
    assert "PyTorch orders the dimensions C×H×W: 6×60×60" in v[(0, "output_shape")].note
    assert v[(7, "output_shape")].note == ""  # "120×1" is simply 120 features


@pytest.mark.parametrize("preset_id, claim, mistakes, words", [
    # 003 Task 3.1: (1*3*3*6+6)+0+(6*5*5*16+16)+0+(16*6*27*256)+256*4 = 667,052: no FC biases
    ("gaze-cnn", "667,052", "missing_linear_bias", ["biases of fc1 and fc2", "256 + 4 = 260"]),
    # "params in CNN with batch norm = 667,052": the FC biases and BatchNorm's γ, β are both missing
    ("gaze-cnn-bn", "667,052", "missing_linear_bias+bn_forgotten",
     ["biases of fc1 and fc2", "BatchNorm parameters γ and β of bn1 and bn2", "12 + 32 = 44"]),
    # 36*120*100 + 100*100 + 100*100 + 100*4 = 452,400: no biases at all
    ("gaze-fc-deep", "452,400", "missing_bias", ["biases of fc1, fc2, fc3 and fc4", "= 304"]),
])
def test_003_task_3_1_totals_name_what_is_missing(preset_id, claim, mistakes, words):
    (verdict,) = grade(preset_spec(preset_id), {"total_params": claim}).verdicts
    assert not verdict.ok and verdict.layer is None
    assert verdict.mistakes == [mistakes]
    for word in words:
        assert word in verdict.hint
    assert verdict.formula.endswith(f"= {verdict.correct:,}")


def test_003_task_3_1_worked_sum_layer_by_layer():
    answers = {"layers": {"conv1": {"params": "1*3*3*6+6 = 60"}, "pool1": {"params": 0},
                          "conv2": {"params": "6*5*5*16+16 = 2416"}, "pool2": {"params": 0},
                          "fc1": {"params": 16 * 6 * 27 * 256}, "fc2": {"params": "256*4 = 1024"}},
               "total_params": "667,052"}
    v = verdicts_by_key(grade(preset_spec("gaze-cnn"), answers))
    assert all(v[(i, "params")].ok for i in (0, 2, 3, 5))
    assert v[(7, "params")].mistakes == ["missing_bias"] and "256 outputs also has one bias" in v[(7, "params")].hint
    assert v[(9, "params")].mistakes == ["missing_bias"]
    total = v[(None, "total_params")]
    assert total.mistakes == ["sum_of_wrong_layers", "missing_linear_bias"]
    assert "2 of them are wrong" in total.hint and "biases of fc1 and fc2" in total.hint


def right_answers(preset_id, channels_last=False):
    result = analyze(preset_spec(preset_id))
    layers = []
    for row in result.top_rows():
        shape = list(row.output_shape)
        if channels_last and len(shape) == 3:
            shape = "×".join(map(str, shape[1:] + shape[:1]))
        layers.append({"output_shape": shape, "params": f"{row.params:,}"})
    return {"layers": layers, "total_params": result.totals.params}


@pytest.mark.parametrize("preset_id", list(PRESETS))
def test_right_answers_are_marked_right_on_every_preset(preset_id):
    report = grade(preset_spec(preset_id), right_answers(preset_id))
    assert report.wrong == [] and report.right == len(report.verdicts)
    hwc = grade(preset_spec(preset_id), right_answers(preset_id, channels_last=True))
    assert hwc.wrong == []


BN_NET = {"name": "small", "input_shape": [3, 32, 32], "num_classes": 10, "layers": [
    {"type": "Conv2d", "out_channels": 8, "kernel_size": 3, "padding": 1, "stride": 2},  # 0: 8×16×16
    {"type": "BatchNorm2d"},  # 1
    {"type": "ReLU"},  # 2
    {"type": "MaxPool2d", "kernel_size": 2},  # 3: 8×8×8
    {"type": "Conv2d", "out_channels": 16, "kernel_size": 3, "dilation": 2},  # 4: 16×4×4
    {"type": "Conv2d", "out_channels": 16, "kernel_size": 3, "groups": 4, "padding": 1},  # 5: 16×4×4
    {"type": "Flatten"},  # 6: 256
    {"type": "Linear", "out_features": 32},  # 7
    {"type": "Linear", "out_features": 10}]}  # 8


@pytest.mark.parametrize("layer, field, claim, tag, words", [
    (0, "params", 3 * 3 * 3 * 8, "missing_bias", ["biases", "8 filters"]),
    (0, "params", 3 * 3 * 3 * 8 + 1, "bias_count", ["one per filter"]),
    (0, "output_shape", [8, 32, 32], "stride_ignored", ["stride"]),
    # ⌊(32 − 3 + 0)/2⌋ + 1 = 15 without the padding, ⌊(32 − 3 + 2)/2⌋ = 15 without the + 1: both are possible
    (0, "output_shape", "8x15x15", ["padding_ignored", "off_by_one"], ["2 different slips", "padding", "+ 1"]),
    (0, "output_shape", [8, 11, 11], "stride_is_kernel", ["kernel size 3 as the stride", "moves 2"]),  # ⌊31/3⌋+1
    (4, "output_shape", [16, 8, 8], "same_padding_assumed", ['padding "same"', "padding is 0"]),  # 8×8 kept
    (0, "output_shape", [3, 16, 16], "channels", ["one channel per filter", "out_channels = 8"]),
    (1, "params", 32, "bn_stats", ["running mean and variance", "buffers", "2·8 = 16"]),
    (1, "params", 0, "bn_forgotten", ["γ", "β"]),
    (1, "params", 8, "bn_half", ["two values per channel"]),
    (2, "params", 5, "no_params", ["no learned parameters"]),
    (3, "output_shape", [8, 16, 16], "pool_ignored", ["no pooling", "16×16 to 8×8"]),
    (3, "output_shape", [8, 7, 7], "off_by_one", ["+ 1"]),
    (4, "output_shape", [16, 6, 6], "dilation_ignored", ["dilation"]),
    (4, "params", 3 * 3 * 3 * 16 + 16, "wrong_in_channels", ["input channels are 8", "network's input"]),
    (5, "params", 3 * 3 * 16 * 16 + 16, "groups_ignored", ["groups = 4", "16 / 4 = 4"]),
    (6, "output_shape", 8 * 8 * 8, "wrong_input", ["You flattened 8×8×8, the output of pool1"]),
    (6, "output_shape", 1000, "flatten", ["Flatten multiplies C·H·W: 16·4·4 = 256"]),
    (7, "params", 256 * 32, "missing_bias", ["biases"]),
    (7, "params", 1024 * 32 + 32, "wrong_in_features", ["in_features = 256"]),
    (7, "output_shape", [256], "linear_output", ["out_features = 32"]),
    (8, "output_shape", 32, "wrong_classes", ["10 classes"]),
])
def test_each_mistake_detector_names_its_mistake(layer, field, claim, tag, words):
    (verdict,) = grade(BN_NET, {"layers": {str(layer): {field: claim}}}).verdicts
    assert not verdict.ok
    assert verdict.mistakes == (tag if isinstance(tag, list) else [tag]), verdict.hint
    for word in words:
        assert word in verdict.hint


def test_the_graders_correct_values_are_plain_torchs():
    """What the grader calls correct for BN_NET is what the same layers written in torch.nn give."""
    layers = [nn.Conv2d(3, 8, 3, 2, 1), nn.BatchNorm2d(8), nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(8, 16, 3, dilation=2),
              nn.Conv2d(16, 16, 3, padding=1, groups=4), nn.Flatten(), nn.Linear(256, 32), nn.Linear(32, 10)]
    x = torch.zeros(1, 3, 32, 32)
    answers = {"layers": [{"output_shape": "1", "params": 1} for _ in layers], "total_params": 1}
    verdicts = verdicts_by_key(grade(BN_NET, answers))
    for i, layer in enumerate(layers):
        x = layer(x)
        assert verdicts[(i, "output_shape")].correct == list(x.shape[1:])
        assert verdicts[(i, "params")].correct == sum(p.numel() for p in layer.parameters())
    assert verdicts[(None, "total_params")].correct == sum(p.numel() for m in layers for p in m.parameters())


def test_a_pool_stride_taken_to_be_its_kernel():
    """002's CNN3 pools 3×3 with stride 1 (pool2: 14×14 → 12×12); with stride 3 it would be
    ⌊(14 − 3)/3⌋ + 1 = 4."""
    (verdict,) = grade(preset_spec("fashion-cnn3"), {"layers": {"pool2": {"output_shape": "128x4x4"}}}).verdicts
    assert verdict.correct == [128, 12, 12] and verdict.mistakes == ["stride_is_kernel"]
    assert "kernel size 3 as the stride" in verdict.hint and "only when no stride is given" in verdict.hint


def test_groups_ignored_inside_a_depthwise_separable_block():
    """MobileNet's first block, 32 → 64 channels: 3·3·1·32 + 2·32 + 1·1·32·64 + 2·64 = 2,528. A student who
    gives the depthwise conv all 32 input channels per filter writes 3·3·32·32 + 64 + 2048 + 128 = 11,456."""
    spec = preset_spec("mobilenet-cifar10")
    (verdict,) = grade(spec, {"layers": {"dws1": {"params": 11_456}}}).verdicts
    assert verdict.correct == 2528 and verdict.mistakes == ["groups_ignored"]
    assert "groups = 32" in verdict.hint and "9,216 instead of 288" in verdict.hint
    # and with BatchNorm's γ, β left out as well: 9,216 + 2,048
    (verdict,) = grade(spec, {"layers": {"dws1": {"params": 11_264}}}).verdicts
    assert verdict.mistakes == ["bn_forgotten+groups_ignored"]


def test_a_linear_layer_fed_a_vector_reads_naturally():
    """fc2 of LeNet (120 → 84) counted with fc1's 400 inputs: 400·84 + 84 = 33,684."""
    (verdict,) = grade(preset_spec("lenet-cifar10"), {"layers": {"fc2": {"params": 33_684}}}).verdicts
    assert verdict.mistakes == ["wrong_in_features"]
    assert "an input of 400 features" in verdict.hint and "400 = 400" not in verdict.hint


def test_a_wrong_answer_carried_forward_is_recognised():
    answers = {"layers": {"conv1": {"output_shape": [8, 15, 15]}, "pool1": {"output_shape": [8, 7, 7]}}}
    v = verdicts_by_key(grade(BN_NET | {"layers": [dict(layer, name=None) for layer in BN_NET["layers"]]},
                              answers))
    assert v[(0, "output_shape")].mistakes == ["padding_ignored", "off_by_one"]
    assert v[(3, "output_shape")].mistakes == ["carried_forward"]
    assert "follows from your answer for conv1 (8×15×15)" in v[(3, "output_shape")].hint


@pytest.mark.parametrize("claim, tag, words", [
    (62_006 - 6 - 16, "missing_conv_bias", ["biases of conv1 and conv2"]),
    (62_006 - 6 - 16 - 120 - 84 - 10, "missing_bias", ["biases of conv1, conv2, fc1, fc2 and fc3"]),
    (62_006 - 850, "missing_layer", ["all of fc3"]),
])
def test_totals_that_leave_out_a_part(claim, tag, words):
    (verdict,) = grade(preset_spec("lenet-cifar10"), {"total_params": claim}).verdicts
    assert verdict.mistakes == [tag]
    for word in words:
        assert word in verdict.hint


def test_total_that_counts_batchnorm_statistics():
    (verdict,) = grade(preset_spec("lenet-cifar10-bn"), {"total_params": 62_050 + 44}).verdicts
    assert verdict.mistakes == ["bn_stats"] and "running mean and variance" in verdict.hint


def test_a_residual_block_without_its_shortcut_or_batchnorm():
    result = analyze(preset_spec("resnet-cifar10"))
    block = next(r for r in result.rows if r.name == "stack1_block0")
    bn = sum(r.params for r in result.rows if r.index == block.index and r.type == "BatchNorm2d")
    shortcut = next(r.params for r in result.rows if r.name == "stack1_block0.shortcut")
    for claim, words in [(block.params - shortcut, "shortcut"), (block.params - bn, "BatchNorm")]:
        (verdict,) = grade(preset_spec("resnet-cifar10"),
                           {"layers": {"stack1_block0": {"params": claim}}}).verdicts
        assert not verdict.ok and words in verdict.hint


def test_answer_formats_are_read_forgivingly():
    spec = preset_spec("lenet-cifar10")
    for answers in (
        {"layers": [{"output_shape": [6, 28, 28], "params": 456}]},
        {"layers": {"0": {"shape": "6 x 28 x 28", "parameters": "456"}}},
        {"layers": {"conv1": {"output_shape": "28×28×6", "params": "5·5·3·6 + 6 = 456"}}},
        {"layers": [{"layer": "conv1", "output_shape": "(6, 28, 28)", "params": 456.0}]},
        [{"output_shape": "6*28*28", "params": "4 56"}],
        '{"layers": [{"output_shape": "6x28x28", "params": 456}]}',
    ):
        report = grade(spec, answers)
        assert [v.ok for v in report.verdicts] == [True, True], answers
    report = grade(spec, {"layers": [None, {}, {"output_shape": ""}], "total_params": "62,006"})
    assert [(v.field, v.ok) for v in report.verdicts] == [("total_params", True)]


@pytest.mark.parametrize("answers, words", [
    ({"layers": {"conv9": {"params": 1}}}, "no layer 'conv9'"),
    ({"layers": {"40": {"params": 1}}}, "no layer 40"),
    ({"layers": [{"params": 1}] * 20}, "answers for 20 layers"),
    ({"layers": [{"parms": 1}]}, "Did you mean 'params'"),
    ({"totl": 3}, "Unknown key 'totl'"),
    ({"layers": [{"layer": "conv1", "params": 1}, {"layer": 0, "params": 2}]}, "answered twice"),
    ("{not json", "not valid JSON"),
])
def test_unreadable_answers_raise_a_clear_error(answers, words):
    with pytest.raises(AnswersError, match=None) as info:
        grade(preset_spec("lenet-cifar10"), answers)
    assert words in str(info.value)


def test_report_as_json_data():
    report = grade(preset_spec("lenet-64x64-gray"), TASK_1_2)
    data = report.to_dict()
    assert data["right"] == report.right == 8 and data["graded"] == 13
    first = data["verdicts"][0]
    assert first["correct"] == [6, 60, 60] and first["name"] == "conv1" and first["ok"]
    assert report.verdicts[-1].correct_text == "338,186"


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(claims=st.lists(st.tuples(st.integers(0, 11), st.sampled_from(["output_shape", "params"]),
                                 st.one_of(st.integers(1, 500_000), st.lists(st.integers(1, 70), min_size=1,
                                                                             max_size=3))),
                       min_size=1, max_size=6, unique_by=lambda c: (c[0], c[1])),
       total=st.integers(0, 10**6))
def test_any_wrong_answer_gets_a_hint_never_an_exception(claims, total):
    answers = {"layers": {}, "total_params": total}
    for layer, field, value in claims:
        if field == "params" and isinstance(value, list):
            value = value[0]
        answers["layers"].setdefault(str(layer), {})[field] = value
    for verdict in grade(preset_spec("lenet-64x64-gray"), answers).verdicts:
        assert verdict.ok == (verdict.hint == ""), verdict


# ------------------------------------------------------------------- unreadable cells, arithmetic


@pytest.mark.parametrize("answers, where, words", [
    ({"layers": [{"output_shape": "six by six"}]}, "Layer 0 (conv1), your output shape",
     "cannot read 'six by six' as a shape"),
    ({"layers": [{"params": "lots"}]}, "Layer 0 (conv1), your params", "cannot read 'lots'"),
    ({"total_params": -3}, "Your total", "cannot be negative"),
    ({"layers": {"conv2": {"params": "abc"}}}, "Layer 3 (conv2), your params", "cannot read 'abc'"),
])
def test_an_unreadable_cell_is_a_problem_of_its_own(answers, where, words):
    report = grade(preset_spec("lenet-cifar10"), answers)
    assert report.verdicts == []
    (problem,) = report.problems
    assert problem.where == where and words in problem.message
    assert str(problem).startswith(f"{where}: ") and " — write " in str(problem)


def test_one_unreadable_cell_does_not_stop_the_others_being_graded():
    answers = {"layers": [dict(a or {}) for a in TASK_1_2["layers"]], "total_params": TASK_1_2["total_params"]}
    answers["layers"][3]["params"] = "5*5*6*16+16"  # conv2, now right: 5·5·6·16 + 16 = 2416
    answers["layers"][7]["params"] = "abc"  # fc1, unreadable
    report = grade(preset_spec("lenet-64x64-gray"), answers)
    v = verdicts_by_key(report)
    assert (7, "params") not in v and len(report.verdicts) == 12
    assert v[(3, "params")].ok and v[(3, "params")].correct == 2416
    assert v[(0, "params")].ok and v[(0, "params")].correct == 156  # 5·5·1·6 + 6
    assert not v[(5, "output_shape")].ok and not v[(None, "total_params")].ok
    (problem,) = report.problems
    assert (problem.layer, problem.field, problem.name) == (7, "params", "fc1")
    assert str(problem) == ("Layer 7 (fc1), your params: cannot read 'abc' as a number of parameters — "
                            "write a number like 456 or a sum like 5*5*3*6+6")
    assert report.to_dict()["problems"][0]["text"] == str(problem)


@pytest.mark.parametrize("text, value", [
    ("5*5*3*6+6", 456), ("5·5·3·6 + 6", 456), ("5×5×3×6+6", 456), ("(5*5*3+1)*6", 456),
    ("5x5x3x6+6", 456), ("5^2*3*6+6", 456), ("5**2*3*6+6", 456), ("5²·3·6 + 6", 456),
    ("5*5*3*6 + 6 = 456", 456), ("62,006", 62_006), ("62 006", 62_006), ("1,234,567", 1_234_567),
    ("5*5*1*6+6", 156),  # LeNet on 1×64×64, conv1: 5·5·1·6 + 6
    ("5*5*6*16+16", 2416), ("2704*120 + 120", 324_600), ("16*13*13", 2704), ("0", 0), ("007", 7),
    ("120 − 20", 100), ("(60 - 2)/2 + 1", 30),
])
def test_arithmetic_is_read_as_the_student_means_it(text, value):
    assert evaluate(text) == value
    assert read_count(text) == value


@pytest.mark.parametrize("text, words", [
    ("²", "cannot read '²'"), ("9" * 5000, "5,000 characters long"), ("9" * 150, "far too large"),
    ("9**9**9", "far too large"), ("2^99", "far too large"), ("__import__('os')", "cannot read"),
    ("abc", "cannot read 'abc'"), ("1/0", "divides by zero"), ("7/2", "not a whole number"),
    ("5*", "cannot read"), ("(" * 150 + "1" + ")" * 45, "cannot read"), ("2**-1", "negative power"),
    ("lambda: 1", "cannot read"), ("1e9", "cannot read"), ("4.5", "cannot read"), ("=", "cannot read"),
])
def test_hostile_or_garbled_counts_give_a_clear_message(text, words):
    with pytest.raises(AnswersError) as info:
        read_count(text)
    assert words in str(info.value) and "write a number like 456" in str(info.value).lower()
    (problem,) = grade(preset_spec("lenet-cifar10"), {"layers": {"conv1": {"params": text}}}).problems
    assert words in str(problem)


def test_a_negative_sum_is_not_a_count():
    with pytest.raises(AnswersError, match="cannot be negative"):
        read_count("6 - 456")


@pytest.mark.parametrize("text, shape", [
    ("6x60x60", (6, 60, 60)), ("60 x 60 x 6", (60, 60, 6)), ("(6, 60, 60)", (6, 60, 60)),
    ("60×60×6", (60, 60, 6)), ("(64 − 5)/1 + 1 = 60 × 60 × 6", (60, 60, 6)), ("400", (400,)), (400, (400,)),
])
def test_shapes_keep_working(text, shape):
    assert read_shape(text) == shape


@pytest.mark.parametrize("text", ["²", "6x60x²", "9" * 5000, "abc", "6x0x60"])
def test_unreadable_shapes_give_a_clear_message(text):
    with pytest.raises(AnswersError) as info:
        read_shape(text)
    assert "cannot read" in str(info.value) and "6x28x28" in str(info.value)


def test_the_answer_sheet_round_trips_and_reads_damaged_links_as_empty():
    names = preset_spec("lenet-64x64-gray").names()
    sheet = AnswerSheet.from_answers(TASK_1_2, names)
    assert sheet.cells[0] == ["60 x 60 x 6", "156"] and sheet.cells[1] == ["", ""] and sheet.total == "443706"
    again = AnswerSheet.from_json(sheet.to_json(), len(names))
    assert again == sheet and again.answers() == AnswerSheet.from_answers(again.answers(), names).answers()
    assert len(sheet.to_json()["cells"]) == 12
    for junk in (None, "x", {"cells": "x"}, {"cells": [[1, {"a": 2}], "row", [None]], "total": [1]}):
        assert AnswerSheet.from_json(junk, 12).cells[1] == ["", ""]
    assert AnswerSheet.from_json({"cells": [["a" * 999, 5]]}, 2).cells == [["a" * 200, "5"], ["", ""]]
    assert AnswerSheet.empty(3).is_empty and not sheet.is_empty
    rows = verdict_table(grade(preset_spec("lenet-64x64-gray"), sheet.answers()))
    assert rows[0]["layer"] == "0 conv1" and rows[0][""] == "✓" and rows[-1]["correct"] == "338,186"


def _random_sum(rng, depth: int) -> tuple[str, int]:
    """A random sum of small numbers with + - * **, unary signs, brackets and spaces, and a bound on the size
    of every value met on the way (so no step passes MAX_COUNT when the bound does not)."""
    kind = rng.choice(["number"] * 2 + ["op", "sign", "power", "brackets"] * (depth > 0))
    if kind == "number":
        n = rng.randint(0, 12)
        return str(n), n
    if kind == "op":
        (a, ba), (b, bb) = _random_sum(rng, depth - 1), _random_sum(rng, depth - 1)
        op = rng.choice("+-*")
        return f"{a}{' ' * rng.randint(0, 1)}{op}{' ' * rng.randint(0, 1)}{b}", ba * bb if op == "*" else ba + bb
    if kind == "sign":
        a, ba = _random_sum(rng, depth - 1)
        return rng.choice("+-") + a, ba
    if kind == "power":
        (a, ba), k = _random_sum(rng, 0), rng.randint(0, 3)
        return f"{a}**{rng.choice(['', '-', '+']) if k == 0 else ''}{k}", max(ba**k, 1)
    a, ba = _random_sum(rng, depth - 1)
    return f"({a})", ba


def test_sums_are_computed_as_python_computes_them_even_from_8_threads_at_once(monkeypatch):
    """The Check page grades in the server's request threads, several at once; the reader has its own
    parser (CPython 3.11's ``ast`` fails when threads parse at once, python/cpython#106905). Python's own
    arithmetic is the reference: precedence, signs, right-associative powers."""
    import ast
    import random
    from concurrent.futures import ThreadPoolExecutor

    from cnnedu.grading.limits import MAX_COUNT

    rng = random.Random(12)
    cases = [(text, bound) for text, bound in (_random_sum(rng, 3) for _ in range(600)) if bound <= MAX_COUNT]
    cases += [(t, 1) for t in ("-2**2", "2**3**2", "2*-3", "2- -3", "--5", "-(3-5)*2", "+7", "(2)**(3)")]
    assert len(cases) > 400
    expected = [eval(text) for text, _ in cases]  # noqa: S307 (our own generated arithmetic)
    parsed = []
    monkeypatch.setattr(ast, "parse", lambda *a, _f=ast.parse, **k: parsed.append(a) or _f(*a, **k))
    with ThreadPoolExecutor(max_workers=8) as pool:
        results = [list(pool.map(lambda case: evaluate(case[0]), cases)) for _ in range(2)]
    monkeypatch.undo()
    assert parsed == [] and results == [expected, expected]
    for text in ("5//2", "(1)(2)", "2  3", "5**", "()", "1+(2", "2***3", "3 * * 2"):
        with pytest.raises(AnswersError, match="cannot read"):
            evaluate(text)
