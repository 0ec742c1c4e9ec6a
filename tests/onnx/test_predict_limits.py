"""The two attacks of issue 8 end within the stated limits with a message, and the server's memory stays
where it was: the 401-byte metadata bomb (input_shape 3×100000×100000) and a valid model that computes for
ever. The static refusal answers the obvious Loop at once; a model that passes it (a chain of big
MatMuls) is stopped by the child process's time limit, and a model that needs gigabytes by its memory cap.
"""

from __future__ import annotations

import io
import os
import time

import numpy as np
import pytest
from PIL import Image

from cnnedu import budgets
from cnnedu.errors import PredictError
from cnnedu.onnx import sandbox
from cnnedu.onnx.predict import OnnxModel, predict
from tests.onnx_builders import build

SLACK_S = 5


def png() -> bytes:
    buf = io.BytesIO()
    Image.fromarray(np.full((16, 16), 128, dtype=np.uint8), "L").save(buf, "PNG")
    return buf.getvalue()


def rss_bytes(pid: int | str = "self") -> int:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    return 0


def attempt(data: bytes) -> tuple[PredictError, float]:
    start = time.monotonic()
    with pytest.raises(PredictError) as caught:
        predict(OnnxModel.from_bytes(data, name="attack.onnx"), png())
    return caught.value, time.monotonic() - start


def test_the_metadata_bomb_is_refused_at_once_and_costs_no_memory():
    data = build({"meta": {"cnnedu.input_shape": "[3,100000,100000]"}})
    assert len(data) < 10_000  # a few kB (the tester's was 401 bytes)
    before = rss_bytes()
    err, seconds = attempt(data)
    assert "limit of 4096 pixels a side" in str(err)
    assert seconds < budgets.PREDICT_SECONDS + SLACK_S
    assert rss_bytes() - before < 200 * budgets.MB  # it used to climb past 6 GB


def test_the_endless_loop_is_refused_before_it_runs():
    err, seconds = attempt(build({"graph": "loop", "trip_count": 10**12}))
    assert "Loop of 1,000,000,000,000 steps" in str(err)
    assert seconds < budgets.PREDICT_SECONDS + SLACK_S


def test_a_model_that_computes_for_ever_is_killed_at_the_time_limit(monkeypatch):
    monkeypatch.setattr(budgets, "PREDICT_SECONDS", 3.0)
    data = build({"graph": "slow", "side": 1500, "count": 1000})  # minutes of MatMuls, no loop at all
    model = OnnxModel.from_bytes(data, name="slow.onnx")
    [pid] = [p for p in sandbox.live_pids() if p in _pids_of(model)]
    before = rss_bytes()
    start = time.monotonic()
    with pytest.raises(PredictError, match=r"took longer than 3 s") as caught:
        predict(model, png())
    assert time.monotonic() - start < 3.0 + SLACK_S
    assert "CNNEDU_PREDICT_SECONDS" in str(caught.value)  # the fix names the knob
    assert not _alive(pid), "the process running the model must be killed, not left computing"
    assert rss_bytes() - before < 100 * budgets.MB
    # the same model again gets a fresh process and the same message; another model is unaffected
    with pytest.raises(PredictError, match=r"took longer than 3 s"):
        predict(model, png())
    [p] = predict(OnnxModel.from_bytes(build({"graph": "tiny"})), png())
    assert 0 < p.prob <= 1


def test_a_model_that_needs_gigabytes_is_stopped_at_the_memory_limit():
    model = OnnxModel.from_bytes(build({"graph": "memory", "side": 30000}), name="hungry.onnx")  # 3.6 GB
    [pid] = _pids_of(model)
    before = rss_bytes()
    peak = 0
    start = time.monotonic()
    with pytest.raises(PredictError) as caught:
        predict(model, png())
    assert f"needed more than {budgets.PREDICT_MEMORY_BYTES // budgets.MB} MB" in str(caught.value)
    assert time.monotonic() - start < budgets.PREDICT_SECONDS + SLACK_S
    assert not _alive(pid)
    peak = max(peak, rss_bytes())
    assert peak - before < 100 * budgets.MB  # the server never held the 3.6 GB


def test_one_model_uses_one_thread():
    model = OnnxModel.from_bytes(build({"graph": "tiny"}))
    predict(model, png())
    [pid] = _pids_of(model)
    limits = open(f"/proc/{pid}/limits").read()
    line = next(x for x in limits.splitlines() if x.startswith("Max address space"))
    assert str(budgets.PREDICT_MEMORY_BYTES) in line
    threads = len(os.listdir(f"/proc/{pid}/task"))
    assert threads <= 4, f"{threads} threads in the model's process"  # Python's main thread + ORT's few


def _pids_of(model: OnnxModel) -> list[int]:
    proc = sandbox._processes.get(model.sha256)
    return [proc.proc.pid] if proc is not None and proc.alive else []


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/status") as f:
            return "State:\tZ" not in f.read()
    except FileNotFoundError:
        return False
