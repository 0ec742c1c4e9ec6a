"""A training subset by rule (``TrainConfig.subset``), applied after ``n_train`` has picked its images.

- ``None``: all of them.
- ``"even"`` / ``"odd"``: every other image by index, 0, 2, 4, … or 1, 3, 5, … — seed 001's
  ``list(range(0, len(train_data), 2))`` and ``list(range(1, len(train_data), 2))``.
- ``"fraction:F"`` (0 < F <= 1): a random ``round(F * n)`` of them (at least one), the same for the same seed.
- ``"per_class:N"``: the first ``N`` of each class in a random order drawn from the seed (all of a class
  that has fewer).

The kept images stay in their original order.
"""

from __future__ import annotations

from cnnedu.errors import TrainError

_FORMS = "even, odd, fraction:F (0 < F <= 1) or per_class:N (a whole number from 1)"


def parse_subset(rule: str | None) -> tuple[str, float] | None:
    """``rule`` as (kind, number); None for all images. A ``TrainError`` names a rule that is not one."""
    if rule is None:
        return None
    text = str(rule).strip().lower()
    if text in ("even", "odd"):
        return text, 0.0
    kind, _, value = text.partition(":")
    try:
        number = float(value)
    except ValueError:
        number = float("nan")
    if kind == "fraction" and 0.0 < number <= 1.0:
        return kind, number
    if kind == "per_class" and number >= 1 and number == int(number):
        return kind, int(number)
    raise TrainError(f"The training subset {rule!r} is not a rule cnnedu knows.", f"Use {_FORMS}.")


def subset_indices(rule: str | None, labels, seed: int):
    """The indices (a sorted LongTensor) of the training images that ``rule`` keeps, out of ``labels``."""
    import torch

    n = len(labels)
    parsed = parse_subset(rule)
    if parsed is None:
        return torch.arange(n)
    kind, number = parsed
    if kind in ("even", "odd"):
        return torch.arange(0 if kind == "even" else 1, n, 2)
    g = torch.Generator().manual_seed(int(seed) * 7919 + 2)
    order = torch.randperm(n, generator=g)
    if kind == "fraction":
        return order[:max(1, round(number * n))].sort().values
    ranked = labels[order]
    keep = [order[ranked == c][:number] for c in torch.unique(labels)]
    return torch.cat(keep).sort().values
