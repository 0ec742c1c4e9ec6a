"""The fault suite: what a classroom server does to the run store and its workers, and what a user then sees.

Real worker processes, real SQLite, real files, real ``python -m cnnedu``: a worker killed with SIGKILL in
epoch 3, a server killed and restarted under a running worker, a full disk (simulated: the
``CNNEDU_TEST_DISK_FULL`` hook of ``cnnedu.paths.write_files`` makes a write fail with ENOSPC inside the
worker), the store deleted under a running worker, runs started from several processes at once, zombie
workers, a damaged row, unusable CNNEDU_HOME folders, networks that cannot train, and the memory estimate
checked against a measurement. Tiny networks on small synthetic data (tests/helpers.py).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from cnnedu.errors import RunStoreError, StorageError, TrainError
from cnnedu.runs import store as runs
from cnnedu.runs.database import db_path
from cnnedu.runs.folder import RunFolder
from cnnedu.runs.jobs import reconcile
from cnnedu.runs.processes import alive
from cnnedu.runs.trained import has_weights, trained_label
from cnnedu.runs.worker import run_inline
from cnnedu.training.config import TrainConfig
from cnnedu.training.train import train
from tests.helpers import TINY, tiny

REPO = Path(__file__).resolve().parents[2]


def wait_for(condition, timeout: float = 60.0, what: str = "condition", poll: float = 0.02):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(poll)
    raise AssertionError(f"timed out waiting for {what}")


def cli(*args: str, env: dict[str, str] | None = None, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "cnnedu", *args], cwd=REPO, capture_output=True, text=True,
                          env={**os.environ, **(env or {})}, timeout=timeout)


def python(code: str, env: dict[str, str] | None = None) -> subprocess.Popen:
    """A separate Python process running ``code`` (a "server" that starts workers)."""
    return subprocess.Popen([sys.executable, "-c", textwrap.dedent(code)], cwd=REPO,
                            env={**os.environ, "PYTHONPATH": str(REPO), **(env or {})},
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def no_tmp_files(run_id: str) -> bool:
    return not RunFolder(run_id).staged()


def weights_equal(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def slow(**overrides) -> TrainConfig:
    """A tiny run whose epochs last about a second, so a test can act inside one."""
    return tiny(**{"epochs": 40, "n_train": 2000, **overrides})


# ---------------------------------------------------------------------------------------------- killed


def test_a_worker_killed_in_epoch_3_keeps_its_epoch_2_weights_and_exports_them_to_onnx(tmp_path):
    config = slow()
    run_id = runs.start_run(config)
    run = wait_for(lambda: (r := runs.get_run(run_id)).weights_epoch == 2 and r, what="the epoch-2 checkpoint")
    os.kill(run.pid, signal.SIGKILL)  # in epoch 3: its checkpoint is written just before epoch 3 starts
    run = wait_for(lambda: (r := runs.get_run(run_id)).status != "running" and r, timeout=20, what="reconcile")

    assert run.status == "interrupted" and run.epochs_done == 2 and run.weights_epoch == 2
    assert "weights of epoch 2 are saved" in run.message
    assert len(runs.events(run_id, kinds=["epoch"])) == 2
    assert no_tmp_files(run_id)
    assert has_weights(run) and [r.id for r in runs.trained_runs()] == [run_id]  # Look inside, Predict
    assert "interrupted: the weights of epoch 2 of 40" in trained_label(run)

    # the checkpoint holds exactly the weights after epoch 2: the same seed on CPU trains the same run
    checkpoint = torch.load(RunFolder(run_id).weights, weights_only=True)
    again = train(TrainConfig.from_dict({**config.to_dict(), "epochs": 2}))
    assert weights_equal(checkpoint, {k: v.detach().cpu() for k, v in again.model.state_dict().items()})

    from cnnedu.onnx.export import export_onnx
    from cnnedu.onnx.load import load_for_export

    out = tmp_path / "interrupted.onnx"
    loaded = load_for_export(run_id)  # what `python -m cnnedu export RUN_ID` and the Predict page do
    assert any("weights of epoch 2 of 40" in note for note in loaded.notes)
    export_onnx(loaded.model, loaded.meta, out)
    import onnx
    from onnx import numpy_helper

    initializers = [numpy_helper.to_array(t) for t in onnx.load(str(out)).graph.initializer]
    for name, tensor in checkpoint.items():  # every weight of the checkpoint is in the ONNX file, unchanged
        assert any(a.shape == tuple(tensor.shape) and np.array_equal(a, tensor.numpy()) for a in initializers), name


def test_the_server_killed_and_restarted_under_a_running_worker_and_the_run_still_finishes():
    server = python("""
        import sys, time
        from cnnedu.runs import store as runs
        from tests.helpers import tiny
        print(runs.start_run(tiny(epochs=4, n_train=1500)), flush=True)
        time.sleep(600)
    """)
    run_id = server.stdout.readline().strip()
    assert run_id.startswith("r0001-"), server.stderr.read() if server.poll() is not None else run_id
    wait_for(lambda: runs.events(run_id, kinds=["epoch"]), what="the first epoch")
    server.kill()  # the app server dies; its worker runs in its own session and goes on
    server.wait()
    restarted = python("""
        import time
        from cnnedu.runs import store as runs
        while any(r.active for r in runs.list_runs()):  # a page polling the store
            time.sleep(0.2)
    """)
    run = runs.wait(run_id, timeout=120)
    restarted.wait(timeout=30)
    assert run.status == "done" and run.epochs_done == 4 and run.weights_epoch == 4
    assert runs.load_model(run_id)[2]["status"] == "done"


# ------------------------------------------------------------------------------------------- full disk


def test_a_full_disk_at_the_final_save_fails_the_run_plainly_and_keeps_its_metrics(monkeypatch):
    monkeypatch.setenv("CNNEDU_TEST_DISK_FULL", f"{RunFolder.WEIGHTS}:3")  # epochs 1 and 2 are saved, the final save fails
    run_id = runs.start_run(tiny(epochs=3))
    run = runs.wait(run_id, timeout=120)
    assert run.status == "failed"  # never "done" without its weights
    assert run.message.startswith("The disk is full: the weights of epoch 3 could not be saved.")
    assert "keeps the weights of epoch 2" in run.message and "Free some space" in run.message
    assert "Traceback" not in run.message and "RuntimeError" not in run.message
    assert no_tmp_files(run_id)
    assert run.epochs_done == 3 and len(runs.events(run_id, kinds=["epoch"])) == 3  # the metrics are kept
    assert run.results["test_acc"] == run.test_acc and run.results["status"] == "failed"
    assert [e["kind"] for e in runs.events(run_id) if e["kind"] != "step"][-1] == "failed"
    assert "done" not in [e["kind"] for e in runs.events(run_id)]
    meta = runs.load_model(run_id)[2]  # the epoch-2 checkpoint is whole and can be used
    assert meta["weights_epoch"] == 2
    assert "Traceback" not in RunFolder(run_id).log.read_text()


def test_a_full_disk_at_an_epoch_checkpoint_fails_the_cli_run_without_a_traceback():
    proc = cli("train", "--arch", str(_tiny_spec_file()), "--dataset", "synthetic", "--epochs", "3",
               "--n-train", "400", "--n-test", "100", "--threads", "1",
               env={"CNNEDU_TEST_DISK_FULL": f"{RunFolder.WEIGHTS}:2"})  # epoch 1 is saved, the epoch-2 checkpoint fails
    assert proc.returncode == 1
    assert "The disk is full: the weights of epoch 2 could not be saved." in proc.stderr
    assert "Traceback" not in proc.stderr + proc.stdout
    (run,) = runs.list_runs()
    assert run.status == "failed" and "keeps the weights of epoch 1" in run.message
    assert run.epochs_done == 2 and len(runs.events(run.id, kinds=["epoch"])) == 2
    assert run.results and run.results["epochs_done"] == 2  # what it measured stays
    assert no_tmp_files(run.id) and run.weights_epoch == 1
    assert runs.load_model(run.id)[2]["weights_epoch"] == 1


def test_a_full_disk_at_the_first_checkpoint_leaves_no_model_at_all(monkeypatch):
    monkeypatch.setenv("CNNEDU_TEST_DISK_FULL", f"{RunFolder.WEIGHTS}:1")
    run_id, result = run_inline(tiny(epochs=2))
    run = runs.get_run(run_id)
    assert result is None and run.status == "failed" and "disk is full" in run.message
    assert no_tmp_files(run_id) and not RunFolder(run_id).weights.exists()
    assert not has_weights(run)
    with pytest.raises(RunStoreError, match="no saved model"):
        runs.load_model(run_id)


def _tiny_spec_file() -> Path:
    path = Path(os.environ["CNNEDU_HOME"]).parent / "tiny.json"
    path.write_text(json.dumps(TINY))
    return path


# --------------------------------------------------------------------------------- store deleted / races


def test_deleting_the_store_under_a_running_worker_leaves_the_next_run_alone():
    orphan_id = runs.start_run(slow(seed=5))
    wait_for(lambda: runs.events(orphan_id, kinds=["epoch"]), what="the first epoch")
    orphan_pid = runs.get_run(orphan_id).pid
    home = Path(os.environ["CNNEDU_HOME"])
    while home.exists():  # a student "cleans up" while a run trains: rm -rf (the worker writes meanwhile)
        shutil.rmtree(home, ignore_errors=True)

    config = tiny(epochs=2, seed=1)
    new_id = runs.start_run(config)
    assert new_id == orphan_id  # a fresh store numbers from 1 again: the same id
    run = runs.wait(new_id, timeout=120)
    wait_for(lambda: not alive(orphan_pid), timeout=30, what="the orphaned worker to stop")

    assert run.status == "done" and run.epochs_done == 2 and run.weights_epoch == 2
    kinds = [e["kind"] for e in runs.events(new_id) if e["kind"] != "step"]
    assert kinds == ["start", "epoch", "epoch", "done"]  # nothing of the orphan's
    assert runs.events(new_id, kinds=["start"])[0]["config"]["seed"] == 1
    meta = runs.load_model(new_id)[2]
    assert meta["training"]["seed"] == 1 and meta["training"]["epochs_planned"] == 2
    weights = torch.load(RunFolder(new_id).weights, weights_only=True)
    again = train(config)
    assert weights_equal(weights, {k: v.detach().cpu() for k, v in again.model.state_dict().items()})
    assert run.test_acc == pytest.approx(again.test_acc)


def test_runs_started_from_several_processes_never_train_more_than_the_limit_at_once(monkeypatch):
    monkeypatch.setenv("CNNEDU_MAX_RUNS", "1")
    spec = _tiny_spec_file()
    shells = [subprocess.Popen([sys.executable, "-m", "cnnedu", "train", "--arch", str(spec), "--dataset",
                                "synthetic", "--epochs", "2", "--n-train", "400", "--n-test", "100",
                                "--threads", "1", "--seed", str(i)], cwd=REPO, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True) for i in range(2)]
    background = [runs.start_run(tiny(n_train=400, n_test=100, seed=10 + i)) for i in range(2)]
    db = db_path()
    most = 0
    seen = set()
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline:
        with sqlite3.connect(db, timeout=30) as con:
            rows = con.execute("SELECT id, status FROM runs").fetchall()
        running = [i for i, status in rows if status == "running"]
        most = max(most, len(running))
        seen.update(running)
        if len(rows) == 4 and all(status not in ("queued", "running") for _, status in rows):
            break
        reconcile()  # the app's pages poll like this
        time.sleep(0.05)
    outputs = [p.communicate(timeout=60) for p in shells]
    assert most == 1, f"{most} runs trained at once"
    assert [p.returncode for p in shells] == [0, 0], [err for _, err in outputs]
    assert any("waiting for a free slot: 1 run is training (r000" in out for out, _ in outputs)
    listed = runs.list_runs()
    assert len(listed) == 4 and {r.status for r in listed} == {"done"} and len(seen) == 4
    assert all(runs.get_run(r).status == "done" for r in background)


def test_finished_workers_do_not_stay_zombies_under_the_server():
    server = python("""
        import sys, time
        from cnnedu.runs import store as runs
        from tests.helpers import tiny
        for seed in range(2):
            runs.start_run(tiny(epochs=1, n_train=300, n_test=60, seed=seed))
        print("started", flush=True)
        time.sleep(600)  # a server that does not poll the store
    """, env={"CNNEDU_MAX_RUNS": "2"})
    try:
        assert server.stdout.readline().strip() == "started"
        wait_for(lambda: len(runs.list_runs()) == 2 and not any(r.active for r in runs.list_runs()), timeout=120,
                 what="the two runs to finish", poll=0.2)
        assert {r.status for r in runs.list_runs()} == {"done"}

        def children() -> list[tuple[int, str]]:
            pids = []
            for task in Path(f"/proc/{server.pid}/task").iterdir():
                pids += [int(p) for p in (task / "children").read_text().split()]
            return [(pid, Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]) for pid in pids]

        wait_for(lambda: not children(), timeout=20, what="every worker to be reaped", poll=0.2)
    finally:
        server.kill()
        server.wait()


# ------------------------------------------------------------------------------------- a damaged store


def test_a_row_with_damaged_json_is_shown_as_damaged_and_the_others_list_fine():
    good, _ = run_inline(tiny(epochs=1, n_train=200, n_test=50))
    bad_config, _ = run_inline(tiny(epochs=1, n_train=200, n_test=50))
    bad_results, _ = run_inline(tiny(epochs=1, n_train=200, n_test=50))
    with sqlite3.connect(db_path()) as con:
        con.execute("UPDATE runs SET config = '{\"epochs\": 2, ' WHERE id = ?", (bad_config,))
        con.execute("UPDATE runs SET results = '[1, 2' WHERE id = ?", (bad_results,))
    listed = {r.id: r for r in runs.list_runs()}
    assert list(listed) == [bad_results, bad_config, good]
    assert listed[good].damaged == "" and listed[good].status == "done"
    assert listed[bad_config].damaged == "config" and "damaged" in listed[bad_config].message
    assert listed[bad_results].damaged == "results" and listed[bad_results].results is None
    assert [r.id for r in runs.trained_runs()] == [bad_results, good]  # the one without settings is not offered

    proc = cli("runs")
    assert proc.returncode == 0 and "Traceback" not in proc.stderr
    assert f"{bad_config}  done (damaged record)" in proc.stdout and good in proc.stdout
    assert [r["damaged"] for r in json.loads(json.dumps([r.to_dict() for r in runs.list_runs()]))] == [
        "results", "config", ""]  # what `runs --json` prints

    from tests.helpers import open_page

    at = open_page("pages/runs.py")
    table = at.dataframe[0].value
    assert list(table["run"]) == [bad_results, bad_config, good]
    assert "damaged" in table.loc[table["run"] == bad_config, "status"].item()


@pytest.mark.parametrize("where", ["file", "proc"])
def test_a_home_that_cannot_be_written_is_a_plain_error_with_the_fix(tmp_path, monkeypatch, where):
    if where == "file":
        home = tmp_path / "not-a-folder"
        home.write_text("x")
    else:
        home = Path("/proc/cnnedu-home")
    monkeypatch.setenv("CNNEDU_HOME", str(home))
    monkeypatch.delenv("CNNEDU_DATA")
    from cnnedu import paths

    for fn in (paths.home, paths.data_dir):
        with pytest.raises(StorageError, match="Set CNNEDU_HOME to a folder you can write to"):
            fn()
    proc = cli("runs")
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert str(home) in proc.stderr and "Set CNNEDU_HOME" in proc.stderr


# ------------------------------------------------------------------------------ networks that cannot train


@pytest.mark.parametrize("layers, shape", [([{"type": "Flatten"}], [4, 1, 1]),
                                           ([{"type": "ReLU"}, {"type": "MaxPool2d", "kernel_size": 2},
                                             {"type": "Flatten"}], [1, 4, 4])])
def test_a_network_without_weights_is_refused_before_it_is_recorded(layers, shape):
    spec = {"name": "no-weights", "input_shape": shape, "num_classes": 4, "layers": layers}
    with pytest.raises(TrainError, match="no weights to learn") as err:
        runs.start_run(TrainConfig(arch=spec, dataset="synthetic"))
    assert "Linear layer with out_features = 4" in str(err.value)
    assert runs.list_runs() == []


def test_an_empty_validation_split_is_no_validation_not_zero_accuracy():
    events = []
    result = train(tiny(n_train=4, n_test=40, batch_size=4, epochs=1, val_split=0.1), on_event=events.append)
    start = next(e for e in events if e["kind"] == "start")
    assert start["dataset"]["n_val"] == 0
    assert any("no validation images" in w for w in start["warnings"])
    assert result.history[0]["val_acc"] is None and result.history[0]["val_loss"] is None


BIG = {"name": "wide", "input_shape": [3, 36, 36], "num_classes": 4, "layers": [
    {"type": "Conv2d", "out_channels": 20000, "kernel_size": 3, "padding": 1}, {"type": "ReLU"},
    {"type": "MaxPool2d", "kernel_size": 36}, {"type": "Flatten"}, {"type": "Linear", "out_features": 4}]}


def test_a_run_too_big_for_the_memory_budget_is_refused_with_the_estimate_and_the_fix():
    from cnnedu.arch.analysis import analyze

    assert analyze(BIG).top_rows()[0].activation_bytes > 100e6  # over 100 MB per image
    with pytest.raises(TrainError) as err:
        runs.start_run(TrainConfig(arch=BIG, dataset="synthetic", batch_size=64))
    text = str(err.value)
    assert "would need about" in text and "GiB" in text and "CNNEDU_RUN_MEMORY_MB" in text
    assert "smaller batch size (at most" in text and "fewer channels" in text
    assert runs.list_runs() == []


def test_a_run_above_the_warning_share_of_the_budget_starts_with_a_warning(monkeypatch):
    from cnnedu import budgets
    from cnnedu.arch.analysis import training_memory

    need = training_memory(TINY, 32, "adam").total
    monkeypatch.setattr(budgets, "RUN_MEMORY_BYTES", int(need / 0.7))  # 70% of the budget
    events = []
    train(tiny(epochs=1, n_train=200, n_test=50), on_event=events.append)
    warnings = next(e for e in events if e["kind"] == "start")["warnings"]
    assert any("This run needs about" in w and "70%" in w for w in warnings)


MEASURE = """
import json, os, sys
import torch
from cnnedu.arch.analysis import training_memory
from cnnedu.training.config import TrainConfig
from cnnedu.training.train import train
spec, batch = json.loads(sys.argv[1]), int(sys.argv[2])
def rss():
    return int(open("/proc/self/statm").read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
def hwm():  # the peak RSS since the last reset (VmHWM)
    line = next(l for l in open("/proc/self/status") if l.startswith("VmHWM:"))
    return int(line.split()[1]) * 1024
before = {}
def on_event(event):
    if event["kind"] == "start":  # the network and the data are ready: the loop starts
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")  # reset the peak: what came before the loop (imports, data) is not counted
        before["rss"] = rss()
train(TrainConfig(arch=spec, dataset="synthetic", n_train=3 * batch, n_test=batch, epochs=1, batch_size=batch,
                  optimizer="adam", threads=1), on_event=on_event)
peak = hwm()
est = training_memory(spec, batch, "adam")
print(json.dumps({"measured": peak - before["rss"], "estimate": est.total - est.params}))
"""


def test_the_memory_estimate_is_above_what_training_really_takes_and_not_far_above():
    """Peak RSS growth of a fresh process during the training loop (weights exist before it) against the
    estimate without the weights: the estimate must never be below, and within 4× of it."""
    spec = {"name": "m", "input_shape": [3, 64, 64], "num_classes": 4, "layers": [
        {"type": "Conv2d", "out_channels": 32, "kernel_size": 3, "padding": 1}, {"type": "ReLU"},
        {"type": "MaxPool2d", "kernel_size": 2},
        {"type": "Conv2d", "out_channels": 64, "kernel_size": 3, "padding": 1}, {"type": "BatchNorm2d"},
        {"type": "ReLU"}, {"type": "MaxPool2d", "kernel_size": 2}, {"type": "Flatten"},
        {"type": "Linear", "out_features": 4}]}
    proc = subprocess.run([sys.executable, "-c", MEASURE, json.dumps(spec), "64"], cwd=REPO, capture_output=True,
                          text=True, env={**os.environ, "PYTHONPATH": str(REPO)}, timeout=120)
    assert proc.returncode == 0, proc.stderr
    got = json.loads(proc.stdout)
    print(f"training memory: estimate {got['estimate'] / 2**20:.0f} MiB, measured {got['measured'] / 2**20:.0f} MiB")
    assert got["measured"] > 50 * 2**20  # the measurement saw the batch
    assert got["measured"] <= got["estimate"] <= 4 * got["measured"]


@pytest.mark.parametrize("code, words", [(28, "The disk is full"), (122, "Your disk quota is used up"),
                                         (30, "The disk is read-only"), (13, "cnnedu may not write to")])
def test_a_failed_write_keeps_the_old_files_leaves_no_tmp_and_says_why(tmp_path, monkeypatch, code, words):
    from cnnedu import paths

    folder = tmp_path / "run"
    folder.mkdir()
    (folder / "model.pt").write_bytes(b"old weights")
    monkeypatch.setattr(paths.os, "fsync", lambda fd: (_ for _ in ()).throw(OSError(code, os.strerror(code))))
    with pytest.raises(StorageError) as err:
        paths.write_files(folder, {"model.pt": b"new weights", "meta.json": "{}"}, "the weights of epoch 4")
    assert str(err.value).startswith(f"{words}") and "the weights of epoch 4 could not be saved" in str(err.value)
    assert sorted(p.name for p in folder.iterdir()) == ["model.pt"]
    assert (folder / "model.pt").read_bytes() == b"old weights"
