"""The estimated start of a queued run, worked out by hand on small queues."""

from __future__ import annotations

from dataclasses import dataclass, field

from cnnedu.runs.eta import expected_seconds, run_seconds_left, seconds_left, seconds_until_start

CFG = {"arch": "mnist-cnn", "dataset": "synthetic", "n_train": 2000, "epochs": 2, "batch_size": 64}


@dataclass
class R:  # the fields of cnnedu.runs.store.Run that the estimate reads
    id: str
    seq: int
    status: str
    config: dict = field(default_factory=lambda: dict(CFG))
    seconds: float | None = None
    started: float | None = None


def test_time_left_of_a_running_run_is_its_time_so_far_scaled_by_what_is_left():
    assert seconds_left(0.25, 30.0) == 90.0  # a quarter done in 30 s: three quarters take 90 s more
    assert seconds_left(0.0, 10.0) is None and seconds_left(None, 10.0) is None


def test_a_run_like_it_is_the_newest_finished_one_with_the_same_set_up():
    old, new = R("r1", 1, "done", seconds=50.0), R("r2", 2, "done", seconds=40.0)
    other_lr = {**CFG, "lr": 0.1}  # a learning rate does not change how long it takes
    assert expected_seconds(other_lr, [new, old]) == 40.0
    assert expected_seconds({**CFG, "epochs": 5}, [new, old]) is None  # nothing like it has finished


def test_one_slot_the_queue_ahead_adds_up():
    done = R("r1", 1, "done", seconds=40.0)
    running = R("r2", 2, "running")
    q1, q2, me = R("r3", 3, "queued"), R("r4", 4, "queued"), R("r5", 5, "queued")
    runs = [me, q2, q1, running, done]
    # 30 s left on the running run, then r3 and r4 take 40 s each: 30 + 40 + 40 = 110 s
    assert seconds_until_start(me, runs, {"r2": 30.0}, slots=1) == 110.0
    assert seconds_until_start(q1, runs, {"r2": 30.0}, slots=1) == 30.0


def test_two_slots_the_next_free_slot_is_taken():
    done = R("r1", 1, "done", seconds=40.0)
    a, b = R("r2", 2, "running"), R("r3", 3, "running")
    q, me = R("r4", 4, "queued"), R("r5", 5, "queued")
    runs = [me, q, b, a, done]
    # slots free at 10 s and 25 s; r4 takes the first (10 + 40 = 50), so r5 gets the one at 25 s
    assert seconds_until_start(me, runs, {"r2": 10.0, "r3": 25.0}, slots=2) == 25.0


def test_unknown_when_a_run_has_not_measured_its_speed_or_nothing_like_a_run_ahead_has_finished():
    running, me = R("r2", 2, "running"), R("r3", 3, "queued")
    assert seconds_until_start(me, [me, running], {"r2": None}, slots=1) is None
    q = R("r4", 4, "queued", config={**CFG, "epochs": 9})
    me2 = R("r5", 5, "queued")
    assert seconds_until_start(me2, [me2, q, running], {"r2": 5.0}, slots=1) is None


def test_a_running_run_before_its_first_measured_step_is_timed_by_a_run_like_it():
    done = R("r1", 1, "done", seconds=40.0)
    running = R("r2", 2, "running", started=1000.0)
    start = {"steps_per_epoch": 50, "epochs": 2, "setup_s": 2.0}
    assert run_seconds_left(running, None, None, now=1015.0, finished=[running, done]) == 25.0  # 40 − 15
    # once it has measured: 25 of 100 steps in (1012 − 1000 − 2) = 10 s, so 30 s more
    assert run_seconds_left(running, start, {"step": 25}, now=1012.0, finished=[running, done]) == 30.0
    assert run_seconds_left(R("r3", 3, "running", config={**CFG, "epochs": 7}, started=1.0), None, None, 5.0,
                            [done]) is None
