"""Runs on a Ray cluster (``CNNEDU_EXECUTOR=ray``): a local Ray head (``ray start --head`` on localhost)
trains real runs queued in the run store. Events stream into the store while the run trains; the weights
come back and reproduce the test accuracy; export to ONNX works; cancel stops the run on the node; a worker
process lost on the node marks the run interrupted."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import torch

from cnnedu.runs import store as runs
from tests.e2e_helpers import free_port
from tests.helpers import tiny, wait_for

REPO = Path(__file__).resolve().parents[2]
RAY = Path(sys.executable).parent / "ray"


@pytest.fixture(scope="module")
def ray_head(tmp_path_factory) -> Iterator[str]:
    """A Ray head on localhost for the module's tests; its address."""
    port = free_port()
    temp = tmp_path_factory.mktemp("ray")
    env = dict(os.environ, RAY_USAGE_STATS_ENABLED="0", RAY_AUTH_MODE="disabled")  # localhost only
    started = subprocess.run([str(RAY), "start", "--head", f"--port={port}", "--num-cpus=2", "--include-dashboard=false",
                              f"--temp-dir={temp}", "--disable-usage-stats"], env=env, capture_output=True, text=True,
                             timeout=120)
    assert started.returncode == 0, started.stdout[-2000:] + started.stderr[-2000:]
    try:
        yield f"127.0.0.1:{port}"
    finally:
        subprocess.run([str(RAY), "stop", "--force"], env=env, capture_output=True, timeout=120)


@pytest.fixture
def on_ray(ray_head, monkeypatch) -> str:
    monkeypatch.setenv("CNNEDU_EXECUTOR", "ray")
    monkeypatch.setenv("RAY_ADDRESS", ray_head)
    monkeypatch.setenv("RAY_AUTH_MODE", "disabled")
    return ray_head


def _ray_task_pids() -> list[int]:
    """The Ray worker processes running a cnnedu training task (Ray names them after the task)."""
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if (entry / "cmdline").read_bytes().startswith(b"ray::_train_task"):
                    pids.append(int(entry.name))
            except OSError:
                pass
    return pids


def test_a_run_trains_on_the_ray_cluster_streams_its_events_and_its_weights_come_back(on_ray, tmp_path):
    run_id = runs.start_run(tiny(epochs=2, n_train=1200, log_every=5))
    # events arrive in the store while the run trains on the node, not only at the end
    wait_for(lambda: any(e["kind"] == "epoch" for e in runs.events(run_id)), timeout=120, what="the first epoch's event")
    assert runs.get_run(run_id).status == "running"
    run = runs.wait(run_id, timeout=240)
    assert run.status == "done", run.message
    kinds = [e["kind"] for e in runs.events(run_id)]
    assert kinds[0] == "start" and kinds.count("epoch") == 2 and kinds[-1] == "done"
    assert _ray_task_pids() == []  # the task has ended on the node

    # the weights saved on this machine reproduce the accuracy the node measured
    model, spec, meta = runs.load_model(run_id)
    from cnnedu.data import load_dataset

    ds = load_dataset("synthetic", input_shape=spec.input_shape, num_classes=spec.num_classes, seed=0,
                      n_train=1200, n_test=200)
    mean = torch.tensor(meta["mean"]).view(1, -1, 1, 1)
    std = torch.tensor(meta["std"]).view(1, -1, 1, 1)
    with torch.no_grad():
        pred = model((ds.test_x.float() / 255 - mean) / std).argmax(1)
    assert (pred == ds.test_y).float().mean().item() == pytest.approx(run.test_acc)

    out = tmp_path / "model.onnx"
    done = subprocess.run([sys.executable, "-m", "cnnedu", "export", run_id, "-o", str(out)], cwd=REPO,
                          capture_output=True, text=True, env=dict(os.environ), timeout=240)
    assert done.returncode == 0, done.stderr[-2000:]
    assert out.stat().st_size > 1000


def test_cancel_stops_the_run_on_the_node_and_keeps_its_metrics(on_ray):
    run_id = runs.start_run(tiny(epochs=40, n_train=4000, log_every=1))
    wait_for(lambda: any(e["epoch"] == 2 for e in runs.events(run_id, kinds=["step"])), timeout=120, what="epoch 2")
    runs.cancel(run_id)
    run = runs.wait(run_id, timeout=120)
    assert run.status == "cancelled", run.message
    assert 1 <= run.epochs_done < 40
    wait_for(lambda: _ray_task_pids() == [], timeout=60, what="the task to end on the node")


def test_a_lost_ray_worker_marks_the_run_interrupted_with_its_last_weights(on_ray):
    run_id = runs.start_run(tiny(epochs=40, n_train=4000, log_every=1))
    wait_for(lambda: any(e["epoch"] == 2 for e in runs.events(run_id, kinds=["step"])), timeout=120, what="epoch 2")
    (pid,) = wait_for(_ray_task_pids, timeout=120, what="the task's process")
    os.kill(pid, signal.SIGKILL)  # as if the node went away
    run = runs.wait(run_id, timeout=120)
    assert run.status == "interrupted", (run.status, run.message)
    assert "lost" in run.message and run.epochs_done >= 1
    model, _, meta = runs.load_model(run_id)  # the checkpoint of a finished epoch is kept
    assert meta["weights_epoch"] >= 1


def test_a_ray_address_where_no_head_answers_fails_the_run_with_a_message_instead_of_waiting(monkeypatch):
    monkeypatch.setenv("CNNEDU_EXECUTOR", "ray")
    monkeypatch.setenv("RAY_ADDRESS", f"127.0.0.1:{free_port()}")  # nothing listens there
    run = runs.wait(runs.start_run(tiny(epochs=1)), timeout=120)
    assert run.status == "failed", (run.status, run.message)
    assert "No Ray head answers at 127.0.0.1:" in run.message and "ray start --head" in run.message


@pytest.mark.parametrize("address", ["abc", "ray://", ":6379", "head:port", "127.0.0.1:99999999"])
def test_a_ray_address_that_is_not_host_and_port_says_so(address):
    from cnnedu.errors import CnnEduError
    from cnnedu.runs.ray_executor import _check_reachable

    with pytest.raises(CnnEduError, match="is not host:port"):
        _check_reachable(address)
