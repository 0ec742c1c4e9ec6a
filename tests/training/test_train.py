"""The trainer, in-process: real torch, small synthetic data, a few hundred steps at most."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch

from cnnedu.errors import TrainError
from cnnedu.training.config import ENGINES, OPTIMIZERS, SCHEDULERS, TrainConfig
from cnnedu.training.train import train
from tests.helpers import TINY, tiny


def collect(config: TrainConfig, **kwargs):
    events: list[dict] = []
    result = train(config, on_event=events.append, **kwargs)
    return result, events


def test_a_small_run_learns_and_reports_every_event():
    result, events = collect(tiny(val_split=0.1, log_every=5))
    kinds = [e["kind"] for e in events]
    assert kinds[0] == "start" and kinds[-1] == "done"
    assert kinds.count("epoch") == 2 and kinds.count("step") >= 2 * 4
    start = events[0]
    assert start["dataset"]["n_train"] == 720 and start["dataset"]["n_val"] == 80
    assert start["device"] == "cpu" and start["params"] == result.params > 0
    epoch = [e for e in events if e["kind"] == "epoch"][-1]
    for key in ("train_loss", "train_acc", "val_loss", "val_acc", "test_loss", "test_acc", "lr",
                "images_per_s", "elapsed_s", "eta_s"):
        assert epoch[key] is not None, key
    step = next(e for e in events if e["kind"] == "step")
    assert {"step", "epoch", "loss", "lr"} <= set(step)
    assert result.status == "done" and result.test_acc > 0.6  # 4 classes: chance is 25%
    # per-class accuracy and the confusion matrix of the test split
    assert len(result.confusion) == 4 and sum(map(sum, result.confusion)) == 200
    correct = sum(result.confusion[i][i] for i in range(4))
    assert correct / 200 == pytest.approx(result.test_acc)
    assert len(result.per_class_acc) == 4


def test_the_same_seed_gives_the_same_run_and_another_seed_does_not():
    def losses(seed: int) -> list[float]:
        _, events = collect(tiny(seed=seed, epochs=1, log_every=1, flip=0.5, crop=2))
        return [e["loss"] for e in events if e["kind"] == "step"]

    first, second, other = losses(3), losses(3), losses(4)
    assert first == second
    assert first != other


def test_cancel_stops_within_one_batch_and_keeps_the_metrics():
    calls = []

    def stop_after_30() -> bool:
        calls.append(1)
        return len(calls) > 30

    result, events = collect(tiny(epochs=5, log_every=1), should_stop=stop_after_30)
    assert result.status == "cancelled"
    assert result.steps == 30  # 25 steps per epoch: stopped in the middle of epoch 2
    assert result.epochs_done == 1 and len(result.history) == 1
    assert "epoch 2" in result.message
    assert events[-1]["kind"] == "cancelled"
    assert len([e for e in events if e["kind"] == "step"]) == 30


def test_a_diverging_loss_stops_the_run_and_says_what_to_try():
    result, events = collect(tiny(optimizer="sgd", lr=10.0, momentum=0.9, normalize=True, epochs=3))
    assert result.status == "failed"
    assert events[-1]["kind"] == "failed"
    message = result.message
    assert any(word in message for word in ("NaN", "infinite", "exploded"))
    assert "learning rate 10 is too large for SGD" in message
    assert "Try 0.01 or 0.001" in message and "epoch 1, step" in message


def test_a_network_ending_in_softmax_gets_a_warning_and_still_learns():
    spec = {**TINY, "name": "tiny-softmax", "layers": [*TINY["layers"], {"type": "Softmax"}]}
    result, events = collect(tiny(arch=spec))
    warnings = events[0]["warnings"]
    assert any("Softmax" in w and "CrossEntropyLoss" in w for w in warnings)
    assert result.output == "probs"
    assert result.status == "done" and result.test_acc > 0.6


def test_images_of_another_shape_are_converted_with_a_warning_or_refused(tmp_path):
    from PIL import Image

    folder = tmp_path / "shapes"
    g = torch.Generator().manual_seed(0)
    for k, name in enumerate(["a", "b", "c", "d"]):
        (folder / name).mkdir(parents=True)
        for i in range(6):  # colour 20×20 images; the network wants gray 16×16
            pixels = (torch.rand(20, 20, 3, generator=g) * 60 + 60 * k).to(torch.uint8).numpy()
            Image.fromarray(pixels, "RGB").save(folder / name / f"{i}.png")
    with pytest.raises(TrainError) as err:
        train(tiny(dataset="folder", data_dir=str(folder), convert_input=False, n_train=None, n_test=None))
    assert "3×20×20" in str(err.value) and "1×16×16" in str(err.value)
    result, events = collect(tiny(dataset="folder", data_dir=str(folder), n_train=None, n_test=None, epochs=1))
    assert result.status == "done"  # read from the files at the network's size
    assert result.dataset["input_shape"] == [1, 16, 16]


@pytest.mark.skipif(not Path("/usr/share/datasets/fashion-mnist").is_dir(), reason="needs dataset-fashion-mnist")
def test_fashion_mnist_is_converted_for_a_cifar_network_with_a_warning():
    result, events = collect(TrainConfig(arch="lenet-cifar10", dataset="fashion-mnist", n_train=256,
                                         n_test=100, epochs=1, batch_size=64, threads=1))
    warning = " ".join(events[0]["warnings"])
    assert "1×28×28" in warning and "3×32×32" in warning and "grayscale → RGB" in warning
    assert result.status == "done" and result.dataset["input_shape"] == [3, 32, 32]
    with pytest.raises(TrainError, match="1×28×28"):
        train(TrainConfig(arch="lenet-cifar10", dataset="fashion-mnist", n_train=256, n_test=100,
                          convert_input=False))


def test_settings_round_trip_through_json_and_bad_ones_are_named():
    config = tiny(scheduler="onecycle", flip=0.5, crop=2, threads=1, lr=None)
    again = TrainConfig.from_json(config.to_json())
    assert again == config
    assert again.learning_rate == 0.001  # adam's usual rate when lr is empty
    with pytest.raises(TrainError, match="Did you mean 'epochs'"):
        TrainConfig.from_dict({"epoch": 3})
    for bad in (dict(optimizer="lbfgs"), dict(lr=-1.0), dict(epochs=0), dict(val_split=0.95),
                dict(scheduler="warmup"), dict(flip=2.0)):
        with pytest.raises(TrainError):
            tiny(**bad).validate()


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has a CUDA GPU")
def test_asking_for_cuda_without_a_gpu_is_a_clear_error():
    events: list[dict] = []
    with pytest.raises(TrainError, match="no CUDA GPU") as err:
        train(tiny(device="cuda"), on_event=events.append)
    assert 'device "cpu"' in str(err.value)
    assert events[-1]["kind"] == "failed"


@pytest.mark.parametrize("scheduler", ["step", "cosine", "onecycle"])
def test_schedules_change_the_learning_rate(scheduler):
    result, events = collect(tiny(optimizer="sgd", lr=0.05, scheduler=scheduler, step_size=1, gamma=0.5,
                                  epochs=2, flip=0.5, crop=2))
    rates = [e["lr"] for e in events if e["kind"] == "epoch"]
    assert result.status == "done"
    assert rates[-1] < 0.05 and not math.isclose(rates[0], rates[-1])


def test_the_cli_offers_exactly_the_trainers_choices():
    import argparse

    from cnnedu.cli import train as cli_train
    from cnnedu.training.config import DEVICES

    p = argparse.ArgumentParser()
    cli_train._train_arguments(p)
    choices = {a.dest: tuple(a.choices) for a in p._actions if a.choices}
    assert choices["optimizer"] == OPTIMIZERS and choices["scheduler"] == SCHEDULERS
    assert choices["engine"] == ENGINES and choices["device"] == DEVICES
    assert cli_train.parse_augment("flip,crop") == {"flip": 0.5, "crop": 4}
    assert cli_train.parse_augment("flip=0.25, crop=2") == {"flip": 0.25, "crop": 2}
    with pytest.raises(TrainError, match="Unknown augmentation 'rotate'"):
        cli_train.parse_augment("rotate")
