"""Output heads: ``Softmax`` and ``LogSoftmax`` turn the scores into (log-)probabilities over the classes,
which changes what the network's output means (and the loss that trains it)."""

from __future__ import annotations

from torch import nn

from cnnedu.arch.layers.registry import LayerType

TYPES = (
    LayerType("Softmax", "softmax", (), "turns scores into probabilities that sum to 1", module=nn.Softmax,
              build=lambda given, p: nn.Softmax(dim=1), output="probs", code_fixed=(("dim", 1),)),
    LayerType("LogSoftmax", "logsoftmax", (), "log of softmax (pairs with NLL loss)", module=nn.LogSoftmax,
              build=lambda given, p: nn.LogSoftmax(dim=1), output="log_probs", code_fixed=(("dim", 1),)),
)
