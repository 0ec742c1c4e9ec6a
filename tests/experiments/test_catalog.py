"""The experiments catalog against issue 11's list and the seed documents' own numbers.

Each reported number is cited below by the exact text it comes from in /work/shared/seeds/ (the document's
own print); where those files are present, the quotes are checked against them too.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from cnnedu.errors import CnnEduError
from cnnedu.experiments.catalog import EXPERIMENTS, by_document, get
from cnnedu.training.config import TrainConfig

SEEDS = Path(os.environ.get("CNNEDU_SEEDS", "/work/shared/seeds"))

# issue 11, "Why": every comparison it lists, and the experiment that runs it
ISSUE_LIST = {
    "seed 000 Task 1.3-1.4: baseline / normalization / normalization + augmentation": "000-preprocessing",
    "seed 000 Task 1.5: the learning-rate sweep": "000-learning-rate",
    "seed 000 Task 1.6: BatchNorm": "000-batchnorm",
    "seed 000 Task 1.7: MobileNet": "000-mobilenet",
    "seed 001 Exercise 1: augmentation only / normalization only / both": "001-augment-normalize",
    "seed 001 Exercise 2: dropout 25%": "001-dropout",
    "seed 001 Exercise 3: SGD and Adam at 0.001 and 0.01": "001-optimizers",
    "seed 001: L1Loss on class indices": "001-loss",
    "seed 001: half of the training set by even/odd index": "001-half-split",
    "seed 001: batch size 10": "001-batch-size",
    "seed 002: learning rate too large / too small": "002-learning-rate",
    "seed 002: weight decay too large / too small": "002-weight-decay",
    "seed 002: CNN vs CNN2 vs CNN3 on Fashion-MNIST": "002-architectures",
    "seed 002: the dataset's own mean and std instead of MNIST's": "002-norm-stats",
    "seed 003: SGD vs SGD+momentum": "003-momentum",
    "seed 003: CNN with and without BatchNorm": "003-batchnorm",
    "seed 003: parameter counts FC vs CNN": "003-fc-vs-cnn",
    "seed 004: standard vs pre-activation vs bottleneck blocks": "004-blocks",
    "seed 004: the rate cut by 10 on a schedule": "004-schedule",
}

# (experiment, value index): (seed file prefix, the document's text, the number it says, in %)
REPORTED = {
    ("000-preprocessing", 0): ("000", "Model accuracy on 10000 test images: 58.14%", 58.14),  # Task 1.3
    ("000-preprocessing", 1): ("000", "Model accuracy on 10000 test images: 61.72%", 61.72),  # Task 1.4
    ("000-preprocessing", 2): ("000", "Model accuracy on 10000 test images: 57.08%", 57.08),
    ("000-learning-rate", 0): ("000", "0.1: 10.00%", 10.00),  # Task 1.5
    ("000-learning-rate", 1): ("000", "0.01: 51.34%", 51.34),
    ("000-learning-rate", 2): ("000", "0.001: 57.08%", 57.08),
    ("000-learning-rate", 3): ("000", "0.0001: 32.60%", 32.60),
    ("000-batchnorm", 0): ("000", "In contrast to the baseline model with 58.14%", 58.14),  # Task 1.6
    ("000-batchnorm", 1): ("000", "performs a accuracy of 56.33%", 56.33),
    # Exercise 3's logs, the last epoch printed ("48.4" and "9" are split over two lines there)
    ("001-optimizers", 0): ("001", "Train accuracy: 17.42 Test accuracy: 17.2\n", 17.2),
    ("001-optimizers", 1): ("001", "Test accuracy: 48.4\n9", 48.49),
    ("001-optimizers", 2): ("001", "Train accuracy: 50.70 Test accuracy: 50.5\n", 50.5),
    ("001-optimizers", 3): ("001", "Train accuracy: 10.22    Test accuracy: 10.0\n", 10.0),
    ("001-loss", 0): ("001", "Train accuracy: 17.42 Test accuracy: 17.2\n", 17.2),  # SGD 0.001, "L1Loss"
    ("002-architectures", 2): ("002", "Accuracy: 8711/10000 (87%)", 8711 / 100),  # main() trains CNN3
    ("002-norm-stats", 0): ("002", "Accuracy: 8711/10000 (87%)", 8711 / 100),  # with 0.1307 / 0.3081
    ("003-momentum", 0): ("003", "val_acc: 33.377778", 33.38),  # Task 1.9, epoch 4 / 5, sgd
    ("003-momentum", 1): ("003", "val_acc: 59.166667", 59.17),  # sgd_momentum
    ("003-batchnorm", 0): ("003", "test acc: 61.04444444444444", 61.04),  # Task 2.1
    ("003-batchnorm", 1): ("003", "test acc: 76.0", 76.0),  # Task 2.3
    ("003-fc-vs-cnn", 0): ("003", "Out[345... 67.27777777777779", 67.28),  # Task 1.10's check_accuracy
    ("003-fc-vs-cnn", 1): ("003", "test acc: 61.04444444444444", 61.04),
    ("004-blocks", 0): ("004", "Test accuracy: 0.8612", 86.12),  # 6.e, the best of the three prints
}


def test_every_experiment_of_the_issue_is_defined_and_nothing_else():
    assert set(ISSUE_LIST.values()) == set(EXPERIMENTS)
    groups = by_document()
    assert [g.split(":")[0] for g in groups] == [f"Seed 00{i}" for i in range(5)]
    assert sum(len(v) for v in groups.values()) == len(EXPERIMENTS)


def test_each_reported_number_is_the_documents_own():
    texts = {p.name[:3]: p.read_text() for p in SEEDS.glob("00?_*.txt")}
    for exp_id, e in EXPERIMENTS.items():
        for i, reported in enumerate(e.reported):
            if reported is None:
                assert (exp_id, i) not in REPORTED, f"{exp_id} {e.labels[i]}: the document reports a number"
                continue
            seed, quote, number = REPORTED[(exp_id, i)]
            assert reported == pytest.approx(number, abs=0.005), (exp_id, e.labels[i])
            assert seed == e.seed
            if seed in texts:
                assert quote in texts[seed], f"{exp_id}: {quote!r} is not in seed {seed}"


@pytest.mark.parametrize("exp_id", list(EXPERIMENTS))
def test_runs_differ_in_exactly_the_varied_setting_and_share_the_seed(exp_id):
    e = EXPERIMENTS[exp_id]
    assert len(e.values) == len(e.labels) == len(e.reported) >= 2
    assert e.question and e.document_concluded and e.known_true and e.classroom_note
    for scale in ("classroom", "document"):
        configs = [c.to_dict() for c in e.configs(scale, seed=7)]
        differing = {k for k in configs[0] if any(c[k] != configs[0][k] for c in configs)}
        assert differing == set(e.varied_fields), (scale, differing)
        assert {c["seed"] for c in configs} == {7}
        assert {c["experiment"] for c in configs} == {f"{exp_id}@{scale}"}
        for c in configs:
            TrainConfig.from_dict(c).validate()
    classroom, document = e.configs("classroom")[0], e.configs("document")[0]
    assert classroom.n_train is not None and document.n_train is None  # fewer images, and all of them
    assert classroom.epochs * classroom.n_train <= 10_000  # images seen: a few minutes on a 2-core CPU
    assert classroom.epochs * classroom.n_train < document.epochs * 25_000  # far less than the document's


def test_an_unknown_id_names_the_closest_ones():
    with pytest.raises(CnnEduError, match="000-learning-rate") as err:
        get("000-learning")
    assert "experiment list" in str(err.value)


@pytest.mark.parametrize(("exp_id", "shown"), [("001-loss", ["loss"]), ("002-norm-stats", ["norm_stats"]),
                                                ("001-half-split", ["subset"]), ("000-learning-rate", ["lr"])])
def test_the_runs_page_labels_an_experiments_runs_by_the_setting_that_varies(exp_id, shown):
    from cnnedu.ui.runs_view import differing_settings

    assert differing_settings([c.to_dict() for c in get(exp_id).configs()]) == shown
