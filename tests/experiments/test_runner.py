"""An experiment end to end through the real run store (worker processes, SQLite, this test's own
CNNEDU_HOME), driven by ``python -m cnnedu experiment``; on tiny synthetic data so it takes seconds."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest

from cnnedu.cli.main import main
from cnnedu.experiments import catalog, runner
from cnnedu.runs import store

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def tiny_loss_experiment(monkeypatch):
    """Seed 001's L1Loss-vs-cross-entropy comparison, its classroom scale shrunk to 40 synthetic images."""
    e = catalog.get("001-loss")
    small = replace(e, classroom={"epochs": 1, "n_train": 40, "n_test": 20, "dataset": "synthetic", "threads": 1})
    monkeypatch.setitem(catalog.EXPERIMENTS, e.id, small)
    return small


def test_an_experiment_runs_to_its_table_beside_the_documents_number(tiny_loss_experiment, capsys):
    assert runner.results("001-loss").rows[0].status == "not started"
    assert main(["experiment", "run", "001-loss", "--json", "--timeout", "120"]) == 0
    captured = capsys.readouterr()
    table = json.loads(captured.out)
    assert "2 runs queued" in captured.err and "done, 100%" in captured.err  # progress per run
    result = runner.results("001-loss")
    assert result.done() and table["done"]
    ids = runner.run_ids("001-loss")
    assert [row["run_ids"] for row in table["rows"]] == [[i] for i in ids]
    for row, run_id, loss in zip(result.rows, ids, ("l1_index", "cross_entropy"), strict=True):
        run = store.get_run(run_id)  # a run like any other: the Runs page lists it
        assert run.status == "done" and run.config["loss"] == loss
        assert run.config["experiment"] == "001-loss@classroom" and run.config["subset"] == "even"
        assert row.test_acc == pytest.approx(100 * run.test_acc) and row.spread is None
        assert row.progress == 1.0 and row.status == "done"
        assert run.results["dataset"]["n_train"] == 20  # the even half of 40
        assert "measured" in row.norm
    assert [r.reported for r in result.rows] == [17.2, None]
    assert result.differs.startswith("Only loss differs")
    assert "synthetic" in result.data_note  # CIFAR-10 was not used: said, beside the numbers
    # a second launch is the latest: its runs are the experiment's now
    again = runner.launch("001-loss")
    assert runner.run_ids("001-loss") == again and not set(again) & set(ids)
    assert runner.results("001-loss").rows[0].status in ("queued", "running")
    for run_id in again:
        store.cancel(run_id)


def cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "cnnedu", *args], cwd=REPO, capture_output=True, text=True,
                          env=dict(os.environ), timeout=120)


def test_experiment_list_shows_every_experiment_with_its_document_and_task(capsys):
    assert main(["experiment", "list"]) == 0
    listing = capsys.readouterr().out
    for e in catalog.EXPERIMENTS.values():
        assert e.id in listing and e.document in listing and e.task in listing
    assert main(["experiment", "list", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert [d["id"] for d in data] == list(catalog.EXPERIMENTS)
    assert data[1]["reported"] == [10.0, 51.34, 57.08, 32.6] and data[1]["task"] == "Task 1.5"


def test_a_bad_experiment_id_exits_2_with_the_closest_names():
    bad = cli("experiment", "run", "000-learnig-rate")
    assert bad.returncode == 2
    assert "There is no experiment '000-learnig-rate'" in bad.stderr and "000-learning-rate" in bad.stderr
    assert "Traceback" not in bad.stderr
    with pytest.raises(SystemExit) as exit_:
        main(["experiment", "run", "001-loss", "--scale", "huge"])
    assert exit_.value.code == 2  # argparse: the choices are named


@pytest.mark.parametrize("seeds", ["100000000", "0", "-3"])
def test_a_number_of_seeds_out_of_range_exits_2_and_queues_nothing(seeds, capsys):
    assert main(["experiment", "run", "002-norm-stats", "--scale", "quick", "--seeds", seeds]) == 2
    assert "an experiment runs with 1 to 10 seeds" in capsys.readouterr().err
    assert store.list_runs() == []  # not a single run was queued (100,000,000 seeds once held the CLI for good)


def test_the_latest_launch_is_found_among_older_launches_with_more_seeds(tiny_loss_experiment):
    def queue(seeds: int) -> list[str]:  # what launch records, without starting workers
        return [store.create_run(c) for s in range(seeds) for c in tiny_loss_experiment.configs(seed=s)]

    queue(2)
    store.create_run(replace(tiny_loss_experiment.configs()[0], experiment=None))  # an unrelated run between
    latest = queue(1)
    assert runner.run_ids("001-loss") == latest
    result = runner.results("001-loss")
    assert result.seeds == [0] and [r.status for r in result.rows] == ["queued", "queued"]
    assert [r.run_ids for r in result.rows] == [[latest[0]], [latest[1]]]
    three = queue(3)
    assert runner.run_ids("001-loss") == three and runner.results("001-loss").seeds == [0, 1, 2]
    assert [len(r.run_ids) for r in runner.results("001-loss").rows] == [3, 3]
