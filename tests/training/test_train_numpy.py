"""The NumPy engine (cnnedu/training/numpy_engine.py): seed 003's FullyConnectedNet trained through the real run path.

That the NumPy net and a torch twin with the same weights and batches take the same steps is tested in
tests/scratch/test_scratch.py (cnnedu/scratch/compare.py); here: that the engine feeds it the torch trainer's data,
batches and initial weights, reports the torch trainer's events, saves weights the rest of the app can
open, and refuses what it cannot train.
"""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from cnnedu.cli.main import main
from cnnedu.data import load_dataset
from cnnedu.errors import TrainError
from cnnedu.runs import store as runs
from cnnedu.training.config import TrainConfig
from cnnedu.training.train import train
from tests.helpers import TINY

# gaze-fc2's shape (Flatten – Linear – ReLU – Linear, 4 quadrants) on a small image
FC2 = {"name": "fc2-small", "input_shape": [1, 12, 16], "num_classes": 4, "layers": [
    {"type": "Flatten"}, {"type": "Linear", "out_features": 32}, {"type": "ReLU"},
    {"type": "Linear", "out_features": 4}]}


def small(**overrides) -> TrainConfig:
    settings = dict(arch=FC2, dataset="synthetic", n_train=240, n_test=80, epochs=2, batch_size=32,
                    optimizer="sgd", lr=0.05, momentum=0.9, seed=0, threads=1, log_every=1, engine="numpy")
    settings.update(overrides)
    return TrainConfig(**settings)


def test_a_numpy_run_from_the_cli_is_recorded_starts_at_chance_and_its_saved_weights_predict(
        tmp_path, capsys):
    arch = tmp_path / "fc2-small.json"
    arch.write_text(json.dumps(FC2))
    code = main(["train", "--arch", str(arch), "--dataset", "synthetic", "--engine", "numpy", "--n-train", "240",
                 "--n-test", "80", "--epochs", "2", "--batch-size", "32", "--lr", "0.05", "--json"])
    out = capsys.readouterr()
    assert code == 0, out.err
    assert "(NumPy engine)" in out.err and "epoch 2/2" in out.err
    run_id = json.loads(out.out)["run_id"]
    run = runs.get_run(run_id)
    assert run.status == "done" and run.epochs_done == 2 and run.config["engine"] == "numpy"
    events = runs.events(run_id)
    assert [e["kind"] for e in events if e["kind"] != "step"] == ["start", "epoch", "epoch", "done"]
    assert any("NumPy engine" in w for w in events[0]["warnings"])
    assert any("v ← μ·v − lr·dw" in w for w in events[0]["warnings"])  # the coursework's momentum, said
    # an untrained network guesses: its first loss is about ln(4), the loss of a uniform guess
    first = next(e for e in events if e["kind"] == "step")
    assert first["step"] == 1 and abs(first["loss"] - math.log(4)) < 0.15
    # the weights were copied back into the torch network: it reproduces the recorded test accuracy
    model, spec, meta = runs.load_model(run_id)
    ds = load_dataset("synthetic", input_shape=(1, 12, 16), num_classes=4, seed=0, n_train=240, n_test=80)
    x = (ds.test_x.double() / 255 - meta["mean"][0]) / meta["std"][0]
    with torch.no_grad():
        pred = model.double()(x).argmax(1)
    assert (pred == ds.test_y).double().mean().item() == pytest.approx(run.test_acc)
    assert meta["training"]["engine"] == "numpy"


def test_a_numpy_run_follows_the_torch_run_of_the_same_settings():
    """Same data, normalisation, batches and initial weights; momentum at a constant learning rate takes the
    same steps in the coursework's form and in PyTorch's: the losses agree to float32 round-off."""
    runs_ = {}
    for engine in ("torch", "numpy"):
        events: list[dict] = []
        result = train(small(engine=engine, val_split=0.1), on_event=events.append)
        assert result.status == "done", result.message
        runs_[engine] = (result, events)
    (t, t_events), (n, n_events) = runs_["torch"], runs_["numpy"]
    assert [sorted(e) for e in n_events] == [sorted(e) for e in t_events]  # the same events, the same keys
    t_steps = [e["loss"] for e in t_events if e["kind"] == "step"]
    n_steps = [e["loss"] for e in n_events if e["kind"] == "step"]
    assert len(n_steps) == len(t_steps) == 2 * 7  # 216 images in batches of 32: 7 steps per epoch
    assert np.allclose(n_steps, t_steps, atol=1e-4)
    assert [h["val_loss"] for h in n.history] == pytest.approx([h["val_loss"] for h in t.history], abs=1e-4)
    assert n.test_acc == pytest.approx(t.test_acc, abs=1 / 80)


def test_batchnorm_and_dropout_train_and_the_saved_network_matches_the_numpy_one():
    arch = {**FC2, "layers": [
        {"type": "Flatten"}, {"type": "Linear", "out_features": 32}, {"type": "BatchNorm1d"}, {"type": "ReLU"},
        {"type": "Dropout", "p": 0.2}, {"type": "Linear", "out_features": 4}]}
    result = train(small(arch=arch, momentum=0.0, scheduler="step", step_size=1, gamma=0.5))
    assert result.status == "done" and result.history[-1]["lr"] == pytest.approx(0.05 * 0.5**2)
    ds = load_dataset("synthetic", input_shape=(1, 12, 16), num_classes=4, seed=0, n_train=240, n_test=80)
    x = (ds.test_x.float() / 255 - result.mean[0]) / result.std[0]
    model = result.model.eval()  # BatchNorm with the NumPy net's running averages, Dropout off
    with torch.no_grad():
        out = model.double()(x.double())
    assert (out.argmax(1) == ds.test_y).double().mean().item() == pytest.approx(result.test_acc)
    assert F.cross_entropy(out, ds.test_y).item() == pytest.approx(result.test_loss, abs=1e-5)


def test_a_cancelled_numpy_run_stops_within_one_batch():
    calls: list[int] = []
    result = train(small(epochs=5), should_stop=lambda: calls.append(1) or len(calls) > 3)
    assert result.status == "cancelled" and result.steps == 3 and result.epochs_done == 0


BN_SOME = {**FC2, "layers": [
    {"type": "Flatten"}, {"type": "Linear", "out_features": 8}, {"type": "BatchNorm1d"}, {"type": "ReLU"},
    {"type": "Linear", "out_features": 8}, {"type": "ReLU"}, {"type": "Linear", "out_features": 4}]}
SOFTMAX = {**FC2, "layers": [*FC2["layers"], {"type": "Softmax"}]}


@pytest.mark.parametrize("overrides, words", [
    (dict(arch=TINY), ["layer 0 (conv1, Conv2d)", "use the torch engine"]),
    (dict(arch=BN_SOME), ["BatchNorm1d after some hidden Linear layers", "use the torch engine"]),
    (dict(arch=SOFTMAX), ["(softmax1, Softmax)", "remove the softmax"]),
    (dict(optimizer="adam", lr=0.001), ["SGD (with or without momentum) only, not adam", "torch engine"]),
    (dict(device="cuda"), ["CPU only", 'choose device "cpu"']),
    (dict(flip=0.5), ["does not flip or crop", "torch engine"]),
    (dict(engine="jax"), ["engine='jax'", "torch, numpy"]),
])
def test_what_the_numpy_engine_cannot_train_is_refused_before_the_run_is_recorded(overrides, words):
    with pytest.raises(TrainError) as err:
        runs.create_run(small(**overrides))
    for word in words:
        assert word.lower() in str(err.value).lower()
    assert runs.list_runs() == []


def test_the_engine_round_trips_and_a_config_from_before_it_loads_as_torch():
    config = small()
    assert TrainConfig.from_json(config.to_json()) == config and config.to_dict()["engine"] == "numpy"
    old = small().to_dict()
    del old["engine"]
    assert TrainConfig.from_dict(old).engine == "torch"


def test_the_runs_comparison_names_the_engine_when_it_is_what_differs():
    from cnnedu.ui.runs_view import differing_settings, optimizer_text

    torch_run, numpy_run = small(engine="torch").to_dict(), small().to_dict()
    del torch_run["engine"]  # a run recorded before engines existed was a torch run
    assert differing_settings([torch_run, numpy_run]) == ["engine"]
    assert optimizer_text(numpy_run) == "SGD (momentum 0.9), NumPy engine"
    assert optimizer_text(torch_run) == "SGD (momentum 0.9)"
