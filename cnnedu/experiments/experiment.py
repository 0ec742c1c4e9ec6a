"""One experiment: a base ``TrainConfig``, the one setting that varies and its values, the document's
reported numbers and conclusion beside what is known to be true (``Experiment``), at two ``SCALES``.

``vary`` is one ``TrainConfig`` field ("arch" too); a few experiments change several fields together
(seed 000's "normalization + augmentation"): then ``vary`` names them joined by "+" and each value is a
dict of those fields. The runs of one experiment share the seed and every other setting, and carry its
tag ``"ID@scale"`` in ``TrainConfig.experiment`` so that they can be found again.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from cnnedu.errors import CnnEduError
from cnnedu.training.config import TrainConfig

#: "quick": one epoch on a few hundred images, under a minute (to show an experiment running in class; its
#: numbers mean little); "classroom": fewer epochs and images, a few minutes on a 2-core CPU; "document":
#: the document's own.
SCALES = ("quick", "classroom", "document")
QUICK = {"epochs": 1, "n_train": 400, "n_test": 200}
QUICK_NOTE = "1 epoch on 400 training and 200 test images: to see it run, not to read its numbers"


@dataclass(frozen=True)
class Experiment:
    """One controlled comparison from a seed document (the module docstring says what each field is)."""

    id: str
    seed: str
    document: str
    task: str
    title: str
    question: str
    vary: str
    values: tuple
    labels: tuple[str, ...]
    reported: tuple[float | None, ...]
    document_concluded: str
    known_true: str
    base: dict = field(default_factory=dict)
    classroom: dict = field(default_factory=dict)
    classroom_note: str = ""

    @property
    def varied_fields(self) -> tuple[str, ...]:
        """The ``TrainConfig`` fields that differ between the runs (one, or several joined by "+")."""
        return tuple(self.vary.split("+"))

    def overrides(self, value: Any) -> dict[str, Any]:
        """The fields one value sets."""
        return dict(value) if "+" in self.vary else {self.vary: value}

    def scale_note(self, scale: str) -> str:
        """How the runs at ``scale`` differ from the document's set-up."""
        return {"quick": QUICK_NOTE, "classroom": self.classroom_note}.get(scale, "the document's epochs, batch size and data")

    def tag(self, scale: str) -> str:
        """How this experiment's runs are tagged (``TrainConfig.experiment``): "ID@scale"."""
        return f"{self.id}@{scale}"

    def configs(self, scale: str = "classroom", seed: int | None = None) -> list[TrainConfig]:
        """One ``TrainConfig`` per value, in the order of ``values``: the same seed and every other setting."""
        if scale not in SCALES:
            raise CnnEduError(f"There is no scale '{scale}'.", f"Use one of: {', '.join(SCALES)}.")
        shared = {**self.base, **({**self.classroom, **QUICK} if scale == "quick" else
                                   self.classroom if scale == "classroom" else {})}
        shared["experiment"] = self.tag(scale)
        if seed is not None:
            shared["seed"] = seed
        return [TrainConfig(**{**shared, **self.overrides(v)}) for v in self.values]
