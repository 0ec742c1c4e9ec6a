"""`python -m cnnedu presets | summary | check`: the numbers, the JSON shape, clear errors."""

import json
import subprocess
import sys

import pytest
import torch
import torchinfo
from torch.utils.flop_counter import FlopCounterMode

from cnnedu.arch.nets import build_model, count_params
from cnnedu.arch.zoo import PRESETS, preset_spec
from cnnedu.cli.main import main
from tests.seed_reference import REFERENCE_MODELS


def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "cnnedu", *args], capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize("preset_id", list(PRESETS))
def test_summary_json_totals_match_the_seed_documents(preset_id, capsys):
    assert main(["summary", preset_id, "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    reference = REFERENCE_MODELS[preset_id]()  # transcribed from the seed document in plain PyTorch
    expected = sum(p.numel() for p in reference.parameters())
    assert data["totals"]["params"] == expected
    assert data["totals"]["trainable_params"] == expected
    # multiply-adds of the transcription: torch's FLOP counter / 2 (products only) and torchinfo's count
    with torch.device("meta"):
        reference = REFERENCE_MODELS[preset_id]().eval()
    image = torch.zeros(1, *preset_spec(preset_id).input_shape, device="meta")
    with FlopCounterMode(display=False) as flops, torch.no_grad():
        reference(image)
    assert data["totals"]["macs"] == flops.get_total_flops() // 2
    info = torchinfo.summary(reference, input_data=image, verbose=0, device="meta")
    assert data["totals"]["macs_torchinfo"] == info.total_mult_adds
    for layer in data["layers"]:
        assert {"name", "type", "input_shape", "output_shape", "params", "trainable_params", "macs",
                "macs_torchinfo", "formula"} <= set(layer)
    assert data["layers"][-1]["output_shape"] == [preset_spec(preset_id).num_classes]


def test_summary_as_a_real_process_and_with_another_input():
    out = run_cli("summary", "lenet-64x64-gray", "--json")
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["totals"]["params"] == 338_186
    table = run_cli("summary", "mnist-cnn")
    assert "⌊(28 − 5 + 2·0)/1⌋ + 1 = 24" in table.stdout and "108,874" in table.stdout


def test_presets_lists_every_id(capsys):
    assert main(["presets", "--json"]) == 0
    items = json.loads(capsys.readouterr().out)
    assert [i["id"] for i in items] == list(PRESETS)
    assert all(i["params"] == count_params(build_model(preset_spec(i["id"])))[0] for i in items[:4])


@pytest.mark.parametrize("content, words", [
    ('{"input_shape": [3, 32, 32], "layers": [{"type": "Conv2d", "kernal_size": 3}]}', "kernal_size"),
    ("not json at all", "not valid JSON"),
    ('{"input_shape": [3, 32, 32], "num_classes": 10, "layers": [{"type": "Linear", "out_features": 10}]}',
     "Add a Flatten"),
])
def test_malformed_spec_files_get_one_clear_line(tmp_path, content, words):
    path = tmp_path / "spec.json"
    path.write_text(content)
    out = run_cli("summary", str(path))
    assert out.returncode == 2
    assert words in out.stdout + out.stderr
    assert "Traceback" not in out.stderr


def test_unknown_preset_lists_the_valid_ones(capsys):
    assert main(["summary", "lenet"]) == 2
    assert "lenet-cifar10" in capsys.readouterr().err


def test_check_grades_the_hand_calculation_of_000_task_1_2(tmp_path, capsys):
    answers = {"layers": [{"output_shape": "60x60x6", "params": 156}, {}, {"output_shape": "30x30x6"},
                          {"output_shape": "26x26x16", "params": 416}, {}, {"output_shape": "15x15x16"},
                          {}, {"output_shape": [120], "params": 432120}, {},
                          {"output_shape": [84], "params": 10164}, {}, {"output_shape": [20], "params": 850}],
               "total_params": 443706}
    path = tmp_path / "answers.json"
    path.write_text(json.dumps(answers))
    assert main(["check", "lenet-64x64-gray", str(path), "--json"]) == 0
    verdicts = json.loads(capsys.readouterr().out)
    wrong = {(v["layer"], v["field"]) for v in verdicts if not v["ok"]}
    assert wrong == {(3, "params"), (5, "output_shape"), (7, "params"), (11, "output_shape"),
                     (None, "total_params")}
    assert all(v["hint"] for v in verdicts if not v["ok"])
    total = next(v for v in verdicts if v["field"] == "total_params")
    assert total["correct"] == 338_186


def test_check_with_an_unreadable_answers_file(tmp_path):
    path = tmp_path / "answers.json"
    path.write_text("{oops")
    out = run_cli("check", "lenet-cifar10", str(path))
    assert out.returncode == 2 and f"The answers file {path} is not valid JSON" in out.stderr
    assert "Traceback" not in out.stderr


def test_check_prints_each_claim_with_the_correct_value_and_the_mistake(tmp_path, capsys):
    answers = {"layers": {"conv1": {"output_shape": "28x28x6", "params": 450}}, "total_params": "62,006"}
    path = tmp_path / "answers.json"
    path.write_text(json.dumps(answers))
    assert main(["check", "lenet-cifar10", str(path)]) == 0
    out = capsys.readouterr().out
    assert "✓ 0 conv1" in out and "PyTorch orders the dimensions C×H×W: 6×28×28" in out
    assert "✗ 0 conv1" in out and "correct: 456" in out and "You left out the biases" in out
    assert "2 of 3 right" in out


def test_check_with_answers_that_name_no_such_layer(tmp_path, capsys):
    path = tmp_path / "answers.json"
    path.write_text('{"layers": {"conv9": {"params": 1}}}')
    assert main(["check", "lenet-cifar10", str(path)]) == 2
    assert "no layer 'conv9'" in capsys.readouterr().err
