"""Scores become probabilities by the output kind a network declares."""

import numpy as np
import torch

from cnnedu.onnx.scores import to_probs


def test_output_kinds_become_probabilities():
    logits = np.array([[2.0, 1.0, 0.0]])
    probs = to_probs(logits, "logits")
    np.testing.assert_allclose(probs, torch.softmax(torch.tensor(logits), 1).numpy(), rtol=1e-6)
    np.testing.assert_allclose(to_probs(np.log(probs), "log_probs"), probs, rtol=1e-6)
    np.testing.assert_allclose(to_probs(probs, "probs"), probs)
    assert to_probs(np.array([[1000.0, 0.0]]), "logits")[0, 0] == 1.0  # no overflow
