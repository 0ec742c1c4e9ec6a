"""The run store and the job runner: real SQLite, real worker processes, real ``python -m cnnedu``.

Every test has its own CNNEDU_HOME (tests/conftest.py); the worker processes inherit it.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from cnnedu.errors import RunStoreError
from cnnedu.runs import store as runs
from cnnedu.runs.folder import RunFolder
from cnnedu.runs.jobs import cpu_cores, threads_per_run
from cnnedu.runs.worker import run_inline
from cnnedu.training.config import TrainConfig
from tests.helpers import tiny, wait_for

REPO = Path(__file__).resolve().parents[2]




def cli(*args: str, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "cnnedu", *args], cwd=REPO, capture_output=True, text=True,
                          env=dict(os.environ), timeout=240, **kwargs)


def test_a_background_run_finishes_and_its_saved_weights_reproduce_the_test_accuracy():
    run_id = runs.start_run(tiny())
    assert run_id.startswith("r0001-tiny-synthetic")
    run = runs.wait(run_id, timeout=120)
    assert run.status == "done", run.message
    assert run.epochs_done == 2 and run.test_acc > 0.6
    kinds = [e["kind"] for e in runs.events(run_id)]
    assert kinds[0] == "start" and kinds.count("epoch") == 2 and kinds[-1] == "done"
    later = runs.events(run_id, since=runs.events(run_id)[2]["id"])
    assert [e["kind"] for e in later] == kinds[3:]
    folder = RunFolder(run_id)
    for path in (folder.weights, folder.spec, folder.meta, folder.results, folder.config, folder.log):
        assert path.is_file(), path.name
    state = torch.load(folder.weights, weights_only=True)  # tensors only: nothing unpickled
    assert all(isinstance(v, torch.Tensor) for v in state.values())

    model, spec, meta = runs.load_model(run_id)
    assert spec.input_shape == (1, 16, 16) and meta["channel_order"] == "L" and len(meta["classes"]) == 4
    results = json.loads(folder.results.read_text())
    assert len(results["confusion"]) == 4
    from cnnedu.data import load_dataset

    ds = load_dataset("synthetic", input_shape=(1, 16, 16), num_classes=4, seed=0, n_train=800, n_test=200)
    mean = torch.tensor(meta["mean"]).view(1, -1, 1, 1)
    std = torch.tensor(meta["std"]).view(1, -1, 1, 1)
    with torch.no_grad():
        pred = model((ds.test_x.float() / 255 - mean) / std).argmax(1)
    assert (pred == ds.test_y).float().mean().item() == pytest.approx(run.test_acc)


def test_cancelling_a_running_run_stops_it_mid_epoch_and_keeps_its_metrics():
    run_id = runs.start_run(tiny(epochs=40, n_train=4000, log_every=1))  # epochs long enough to cancel inside
    # inside epoch 2 (right after an epoch's event the worker saves its checkpoint before the next batch)
    wait_for(lambda: any(e["epoch"] == 2 for e in runs.events(run_id, kinds=["step"])), what="epoch 2")
    runs.cancel(run_id)
    run = runs.wait(run_id, timeout=60)
    assert run.status == "cancelled"
    assert 1 <= run.epochs_done < 40
    evs = runs.events(run_id)
    assert evs[-1]["kind"] == "cancelled"
    last_step = [e for e in evs if e["kind"] == "step"][-1]
    # it stopped inside the next epoch (or, when the request came as an epoch ended, right there): never
    # after finishing another epoch it was asked not to train
    assert last_step["epoch"] in (run.epochs_done, run.epochs_done + 1)
    assert run.epochs_done <= max(e["epoch"] for e in evs if e["kind"] == "step")
    assert RunFolder(run_id).weights.is_file()  # a cancelled run keeps its weights too


def test_a_killed_worker_is_marked_interrupted_and_its_metrics_are_kept():
    run_id = runs.start_run(tiny(epochs=40, n_train=2000))
    wait_for(lambda: runs.events(run_id, kinds=["epoch"]), what="the first epoch")
    run = runs.get_run(run_id)
    assert run.status == "running" and run.pid
    os.kill(run.pid, signal.SIGKILL)
    run = wait_for(lambda: (r := runs.get_run(run_id)).status != "running" and r, timeout=20,
                   what="reconcile to notice")  # get_run calls reconcile()
    assert run.status == "interrupted"
    assert "stopped without finishing" in run.message
    evs = runs.events(run_id)
    assert [e for e in evs if e["kind"] == "epoch"] and evs[-1]["kind"] == "interrupted"


def test_two_runs_started_together_both_finish_with_their_own_metrics(monkeypatch):
    monkeypatch.setenv("CNNEDU_MAX_RUNS", "2")
    assert threads_per_run() == max(1, (cpu_cores() - 1) // 2)
    first = runs.start_run(tiny(threads=None, epochs=2))
    second = runs.start_run(tiny(threads=None, epochs=3, seed=1, lr=0.002))
    assert {runs.get_run(first).status, runs.get_run(second).status} == {"running"}
    done = [runs.wait(first, timeout=120), runs.wait(second, timeout=120)]
    assert [r.status for r in done] == ["done", "done"]
    assert [len(runs.events(r.id, kinds=["epoch"])) for r in done] == [2, 3]
    starts = [runs.events(r.id, kinds=["start"])[0] for r in done]
    assert [s["config"]["epochs"] for s in starts] == [2, 3]
    assert [r.id for r in runs.list_runs()] == [second, first]  # newest first


def test_a_run_waits_in_the_queue_until_a_slot_is_free():
    first = runs.start_run(tiny(epochs=3))
    second = runs.start_run(tiny(epochs=1))
    assert runs.get_run(second).status == "queued"  # the default limit is one run at a time
    assert runs.wait(second, timeout=120).status == "done"  # started by the first one's worker
    assert runs.get_run(first).status == "done"
    third = runs.start_run(tiny(epochs=50))
    fourth = runs.start_run(tiny())
    runs.cancel(fourth)  # a queued run is cancelled at once
    assert runs.get_run(fourth).status == "cancelled"
    runs.delete(fourth)
    fifth = runs.start_run(tiny())
    assert fourth.startswith("r0004-") and fifth.startswith("r0005-")  # a deleted run's number is not reused
    runs.cancel(fifth)
    runs.delete(third)  # cancels it first
    assert third not in [r.id for r in runs.list_runs()]
    assert not RunFolder(third).path.exists()


def test_a_diverging_run_is_recorded_as_failed_with_the_explanation():
    run_id, result = run_inline(tiny(optimizer="sgd", lr=10.0, momentum=0.9))
    run = runs.get_run(run_id)
    assert run.status == "failed" and result.status == "failed"
    assert "too large for SGD" in run.message
    assert runs.events(run_id)[-1]["kind"] == "failed"
    with pytest.raises(RunStoreError, match="no saved model"):
        runs.load_model(run_id)


def test_unknown_runs_and_bad_settings_are_clear_errors():
    with pytest.raises(RunStoreError, match="There is no run 'r9999'"):
        runs.get_run("r9999")
    from cnnedu.errors import CnnEduError

    with pytest.raises(CnnEduError, match="no-such-net"):
        runs.start_run(TrainConfig(arch="no-such-net"))
    assert runs.list_runs() == []


def test_cli_train_then_runs_lists_it():
    """The CLI's quick demo: mnist-cnn on synthetic shapes, 2 epochs, above 90% (timed for the report)."""
    t0 = time.perf_counter()
    proc = cli("train", "--arch", "mnist-cnn", "--dataset", "synthetic", "--epochs", "2", "--n-train", "20000",
               "--threads", "1", "--json")
    seconds = time.perf_counter() - t0
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    print(f"cold `python -m cnnedu train` (mnist-cnn, synthetic 20000, 2 epochs): {seconds:.1f} s, "
          f"test accuracy {out['test_acc']:.2%}")
    assert out["status"] == "done" and out["test_acc"] > 0.90 and out["epochs_done"] == 2
    assert "epoch 2/2" in proc.stderr
    listed = json.loads(cli("runs", "--json").stdout)
    assert [(r["id"], r["status"]) for r in listed] == [(out["run_id"], "done")]
    assert "r0001-mnist-cnn-synthetic" in cli("runs").stdout


def test_cli_ctrl_c_cancels_cleanly_and_a_diverged_run_exits_non_zero():
    proc = subprocess.Popen([sys.executable, "-m", "cnnedu", "train", "--arch", "mnist-cnn", "--dataset",
                             "synthetic", "--epochs", "30", "--n-train", "2000", "--n-test", "200", "--threads", "1"],
                            cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    lines = []
    for line in proc.stdout:
        lines.append(line)
        if line.startswith("epoch 1/30"):
            break
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    (run,) = runs.list_runs()
    assert run.status == "cancelled" and run.epochs_done >= 1
    assert runs.events(run.id, kinds=["epoch"])

    diverged = cli("train", "--arch", "mnist-cnn", "--dataset", "synthetic", "--epochs", "1", "--n-train", "500",
                   "--optimizer", "sgd", "--lr", "10", "--threads", "1")
    assert diverged.returncode == 1
    assert "too large for SGD" in diverged.stderr


def test_a_classroom_time_limit_stops_a_long_run_and_keeps_its_metrics_and_weights(monkeypatch):
    monkeypatch.setenv("CNNEDU_RUN_LIMIT_MIN", str(4 / 60))  # 4 seconds of training, then stop
    run_id = runs.start_run(tiny(epochs=200, n_train=4000))
    run = runs.wait(run_id, timeout=120)
    assert run.status == "cancelled"
    assert "time limit of" in run.message and "min per run" in run.message, run.message
    assert run.epochs_done < 200
    trained = [e for e in runs.events(run_id) if e["kind"] == "cancelled"]
    assert trained and "time limit" in trained[-1]["message"]  # the event says so too (the Train page shows it)
    assert RunFolder(run_id).weights.is_file()
