"""From a network's scores to probabilities.

The network's last layer decides how its outputs become probabilities: logits go through softmax,
log-probabilities through exp, and probabilities are used as they are. ``ModelMeta.output`` names which
of the three a network gives. Both onnxruntime's and PyTorch's outputs go through :func:`to_probs`.

    to_probs(np.array([[0.0, 0.0]]), "logits")     # [[0.5, 0.5]]
"""

from __future__ import annotations

import numpy as np

from cnnedu.errors import PredictError


def to_probs(raw: np.ndarray, output: str) -> np.ndarray:
    """Turn raw outputs [N, K] into probabilities: softmax for logits, exp for log-probs, as-is for probs."""
    raw = np.asarray(raw, dtype=np.float64)
    if output == "logits":
        shifted = np.exp(raw - raw.max(axis=1, keepdims=True))
        probs = shifted / shifted.sum(axis=1, keepdims=True)
    elif output == "log_probs":
        probs = np.exp(raw)
    elif output == "probs":
        probs = raw
    else:
        raise PredictError(f"Unknown output kind {output!r}; expected logits, probs or log_probs.")
    return probs.astype(np.float32)
