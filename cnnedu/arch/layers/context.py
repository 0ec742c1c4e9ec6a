"""What a layer is built for: where it sits, the shape that reaches it, and the checks (with the words of
their errors) that the family modules' ``build`` functions share."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from cnnedu.arch.spec import pair
from cnnedu.errors import ArchitectureError


def shape_text(shape: tuple[int, ...] | None) -> str:
    """(16, 5, 5) → '16×5×5'."""
    return "×".join(str(s) for s in shape) if shape else "?"


@dataclass(frozen=True)
class LayerInput:
    """Layer ``index`` (``name``, of type ``type``) receives a tensor of ``shape`` (without the batch).
    ``features_from`` is '16×13×13 = ' when the features come straight from a Flatten, else ''."""

    index: int
    name: str
    type: str
    shape: tuple[int, ...]
    features_from: str = ""

    @property
    def where(self) -> str:
        return f"Layer {self.index} ({self.name}, {self.type})"

    def mismatch(self, field: str, given: int, unit: str, received: str = "") -> ArchitectureError:
        """The error for a layer whose ``field`` says ``given`` channels/features where ``shape[0]`` arrive."""
        arrived = self.shape[0]
        return ArchitectureError(
            f"{self.where} expects {given} {unit} but receives {received}{arrived}.",
            f"Set {field} to {arrived}, or leave it empty.", layer=self.index,
            received=f"{arrived} {unit}", needed=f"{given} {unit}")

    def check_window(self, kernel: Any, padding: Any, dilation: Any) -> None:
        """A kernel (spread by its dilation) must fit inside the padded input."""
        if isinstance(padding, str):
            return  # "same" pads as needed, "valid" handled by the size check below via padding 0
        shape, index = self.shape, self.index
        k, pad, d = pair(kernel), pair(padding), pair(dilation)
        for axis, size in ((0, shape[1]), (1, shape[2])):
            span = d[axis] * (k[axis] - 1) + 1
            if span > size + 2 * pad[axis]:
                kernel_text = f"{k[0]}×{k[1]}" if k[0] != k[1] else str(k[0])
                after = f"after layer {index - 1}" if index > 0 else "at the input"
                pad_text = f" padded by {pad[axis]}" if pad[axis] else ""
                raise ArchitectureError(
                    f"{self.where}: kernel {kernel_text} is larger than the {shape[1]}×{shape[2]} input{pad_text} "
                    f"{after}.", "Use a smaller kernel, add padding, or remove a pooling layer before it.",
                    layer=index, received=f"{shape[1]}×{shape[2]}", needed=f"at least {span}×{span}")
