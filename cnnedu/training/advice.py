"""What the trainer tells a student when a run goes wrong or learns nothing: the Softmax warning, the
loss that counts as exploded, the divergence message, the "no better than guessing" hint and the
cancelled message. Both engines use them."""

from __future__ import annotations

import math
from typing import Any

from cnnedu.training.config import OPTIMIZER_NAMES, TrainConfig

SOFTMAX_WARNING = (
    "The network ends in Softmax, so it outputs probabilities. PyTorch's CrossEntropyLoss expects raw "
    "scores (logits) and applies softmax itself: given probabilities it applies softmax twice, which "
    "squashes the gradients so the network learns slowly or not at all. cnnedu trains on the log of "
    "the probabilities instead (the NLL loss), which works. In your own code, drop the final Softmax "
    "and use CrossEntropyLoss, or end with LogSoftmax and use NLLLoss.")


def explosion_limit(num_classes: int) -> float:
    """A mean batch loss above this means the weights blew up. An untrained net starts near ln(classes)
    (2.3 for 10 classes); only enormous outputs (logits in the hundreds) give a cross-entropy of 50 times
    that, and once there ReLUs die and the net is stuck at chance (000 Task 1.5: lr 0.1 → 10%)."""
    return max(50.0 * math.log(max(2, num_classes)), 25.0)


def divergence_message(config: TrainConfig, epoch: int, step: int, value: float, first: float | None) -> str:
    """What to tell a student whose loss became NaN, infinite or exploded, and what to try."""
    if math.isnan(value):
        what = "became NaN (not a number)"
    elif math.isinf(value):
        what = "became infinite"
    else:
        start = f" (it started near {first:.3g})" if first is not None and math.isfinite(first) else ""
        what = f"exploded to {value:.3g}{start}"
    lr, opt = config.learning_rate, config.optimizer
    name = OPTIMIZER_NAMES[opt]
    head = f"The loss {what} at epoch {epoch}, step {step}: "
    if lr > (0.05 if opt == "sgd" else 0.003):
        try_ = ("Try 0.01 or 0.001, or Adam with 0.001." if opt == "sgd"
                else "Try 0.001 or 0.0001, or SGD with 0.01 and momentum 0.9.")
        return (f"{head}the learning rate {lr:g} is too large for {name} — the weights overshoot and "
                f"blow up. {try_}")
    tips = [f"a smaller learning rate (e.g. {lr / 10:g})"]
    if not config.normalize:
        tips.append("normalizing the inputs")
    tips.append("BatchNorm after the convolutions")
    return (f"{head}the weights grew out of control even with learning rate {lr:g}. Try "
            f"{', '.join(tips[:-1])} or {tips[-1]}.")


def chance_warning(config: TrainConfig, test_acc: float, num_classes: int) -> str | None:
    """A hint when a finished run is no better than guessing (000 Task 1.5: lr 0.1 → 10%)."""
    chance = 1.0 / max(1, num_classes)
    if num_classes < 2 or test_acc > chance * 1.5:
        return None
    tips = f"try a smaller learning rate (e.g. {config.learning_rate / 10:g}), "
    tips += "normalize the inputs, " if not config.normalize else ""
    return (f"The test accuracy {test_acc:.1%} is about what guessing gives ({chance:.0%} for {num_classes} "
            f"classes): the network did not learn. With {OPTIMIZER_NAMES[config.optimizer]} and learning rate "
            f"{config.learning_rate:g}, {tips}or train for more epochs.")


def cancelled_message(result: Any, step: int) -> str:
    """The message of a run stopped by the user (``result``: its ``TrainResult`` so far)."""
    return (f"Stopped by the user at epoch {len(result.history) + 1}, step {step}; the metrics measured so "
            "far are kept.")
