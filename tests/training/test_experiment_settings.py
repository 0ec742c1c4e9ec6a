"""The trainer settings the experiments need (loss, subset, norm_stats, batch size 1, the step schedule),
each checked against plain torch or a value worked out by hand."""

from __future__ import annotations

import warnings

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from cnnedu.errors import TrainError
from cnnedu.training.checks import resolve_spec
from cnnedu.training.optim import make_loss
from cnnedu.training.run_data import training_data
from cnnedu.training.subset import subset_indices
from cnnedu.training.train import train
from tests.helpers import TINY, tiny


@pytest.fixture
def batch():
    g = torch.Generator().manual_seed(3)
    return torch.randn(10, 10, generator=g), torch.randint(0, 10, (10,), generator=g)


def test_each_loss_of_one_batch_equals_plain_torch(batch):
    out, y = batch
    one_hot = torch.eye(10)[y]
    expected = {"cross_entropy": nn.CrossEntropyLoss()(out, y),
                "nll": nn.NLLLoss()(nn.LogSoftmax(dim=1)(out), y),
                "mse": nn.MSELoss()(out, one_hot), "l1": nn.L1Loss()(out, one_hot)}
    for name, value in expected.items():
        fn = make_loss("logits", name)
        assert torch.allclose(fn(out, y), value), name
        assert torch.allclose(fn(out, y, reduction="sum") / len(y), value), name  # a test loss, per image


def test_l1_index_is_seed_001s_l1loss_on_class_indices_with_its_broadcast(batch):
    out, y = batch  # seed 001: batch size 10 = 10 classes, `nn.L1Loss()(y_hat, y_true)`
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch warns that the target size differs: that is the point
        torch_value = nn.L1Loss()(out, y)
    assert torch.allclose(make_loss("logits", "l1_index")(out, y), torch_value)
    by_hand = sum(abs(out[i, j] - y[j]) for i in range(10) for j in range(10)) / 100  # row j ↔ label j
    assert torch.allclose(torch_value, by_hand)
    # 20 images: two blocks of 10, each what torch gives for that block
    out2, y2 = torch.cat([out, out.flip(0)]), torch.cat([y, y.flip(0)])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        halves = (nn.L1Loss()(out2[:10], y2[:10]) + nn.L1Loss()(out2[10:], y2[10:])) / 2
    assert torch.allclose(make_loss("logits", "l1_index")(out2, y2), halves)


def test_cross_entropy_on_log_probabilities_is_nll_as_before():
    out = F.log_softmax(torch.randn(6, 4), dim=1)
    y = torch.tensor([0, 1, 2, 3, 0, 1])
    assert torch.allclose(make_loss("log_probs", "cross_entropy")(out, y), F.nll_loss(out, y))
    assert torch.allclose(make_loss("log_probs", "nll")(out, y), F.nll_loss(out, y))


def test_subset_rules_keep_the_images_worked_out_by_hand():
    labels = torch.tensor([0, 1, 0, 1, 2, 2, 0])
    assert subset_indices("even", labels, 0).tolist() == [0, 2, 4, 6]  # range(0, 7, 2), seed 001's set1
    assert subset_indices("odd", labels, 0).tolist() == [1, 3, 5]
    assert subset_indices(None, labels, 0).tolist() == list(range(7))
    two = subset_indices("per_class:2", labels, 5)
    assert sorted(labels[two].tolist()) == [0, 0, 1, 1, 2, 2]
    assert two.tolist() == sorted(two.tolist())
    half = subset_indices("fraction:0.5", labels, 1)
    assert len(half) == 4 and half.tolist() == subset_indices("fraction:0.5", labels, 1).tolist()
    assert len(set(half.tolist())) == 4
    many = torch.arange(100) % 10
    assert subset_indices("fraction:0.3", many, 1).tolist() != subset_indices("fraction:0.3", many, 2).tolist()


@pytest.mark.parametrize("rule", ["evens", "fraction:0", "fraction:1.5", "per_class:0", "per_class:2.5", ""])
def test_a_subset_rule_that_is_not_one_is_refused_with_the_forms(rule):
    with pytest.raises(TrainError, match="not|allowed"):
        tiny(subset=rule).validate()


def test_subset_applies_after_n_train_and_norm_stats_reports_the_measured_values():
    spec = resolve_spec(TINY)
    d = training_data(tiny(n_train=21, subset="even", norm_stats="mnist"), spec, [])
    assert len(d.train_y) == 11  # indices 0, 2, ..., 20 of the 21 images n_train picked
    assert d.mean == [0.1307] and d.std == [0.3081]  # the fixed pair, per channel
    pixels = d.train_x.double() / 255  # the measured pair, by plain torch
    info = d.info(spec)
    assert info["measured_mean"] == pytest.approx([pixels.mean().item()])
    assert info["measured_std"] == pytest.approx([pixels.std(unbiased=False).item()])
    measured = training_data(tiny(n_train=21, subset="even"), spec, [])
    assert measured.mean == pytest.approx(info["measured_mean"])


def test_batch_size_1_trains_one_image_per_step():
    result = train(tiny(n_train=12, n_test=8, epochs=1, batch_size=1))
    assert result.status == "done" and result.steps == 12


def test_the_step_schedule_cuts_the_rate_like_torch_steplr():
    events = []
    train(tiny(n_train=64, n_test=16, epochs=4, batch_size=32, optimizer="sgd", lr=0.1, scheduler="step",
               step_size=2, gamma=0.1), on_event=events.append)
    ours = [e["lr"] for e in events if e["kind"] == "step" and e["batch"] == 1]  # each epoch's first step
    opt = torch.optim.SGD([nn.Parameter(torch.zeros(1))], lr=0.1)
    sched = torch.optim.lr_scheduler.StepLR(opt, step_size=2, gamma=0.1)
    expected = []
    for _ in range(4):
        expected.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    assert ours == pytest.approx(expected)  # 0.1, 0.1, 0.01, 0.01: cut by 10 every 2 epochs (seed 004)
