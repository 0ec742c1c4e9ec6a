"""When will a queued run start? The queue worked forward: the runs training now free their slots when
their time left is up, then the runs ahead in line take the first free slot, each for as long as a run
like it took last time.

"A run like it" is the newest finished run with the same network, data, number of images, epochs, batch
size and device: in a class most students train the same few set-ups, and an experiment's runs differ in
one setting only (a learning rate does not change how long an epoch takes). When nothing like a run ahead
has finished yet, or a run training now has not measured its speed yet, the start is unknown (None), and
the page says so instead of guessing.
"""

from __future__ import annotations

from typing import Any

_SAME = ("arch", "dataset", "n_train", "n_test", "epochs", "batch_size", "device", "engine")


def _shape(config: dict[str, Any]) -> tuple:
    return tuple(str(config.get(k)) for k in _SAME)


def expected_seconds(config: dict[str, Any], finished: list[Any]) -> float | None:
    """How long a run of ``config`` takes: what the newest finished run like it took (``finished``: runs
    newest first, each with ``config``, ``status`` and ``seconds``)."""
    for run in finished:
        if run.status == "done" and run.seconds and _shape(run.config) == _shape(config):
            return float(run.seconds)
    return None


def seconds_left(progress: float | None, elapsed: float | None) -> float | None:
    """A running run's time left from the share of its steps done and its time so far (None until it has
    made some progress)."""
    if not progress or elapsed is None or progress <= 0:
        return None
    return max(0.0, elapsed * (1 - min(progress, 1.0)) / progress)


def run_seconds_left(run: Any, start: dict[str, Any] | None, step: dict[str, Any] | None, now: float,
                     finished: list[Any]) -> float | None:
    """A running run's time left: from its ``start`` event (steps per epoch, epochs) and its latest ``step``
    event once it has them; before that (loading its data, its first batches), what a run like it took
    minus the time it has been running."""
    if start and step and run.started:
        total = start.get("steps_per_epoch", 0) * start.get("epochs", 0)
        measured = seconds_left(step["step"] / total if total else None,
                                now - run.started - start.get("setup_s", 0.0))
        if measured is not None:
            return measured
    took = expected_seconds(run.config, finished)
    return None if took is None or not run.started else max(0.0, took - (now - run.started))


def seconds_until_start(run: Any, all_runs: list[Any], left: dict[str, float | None], slots: int) -> float | None:
    """Seconds from now until the queued ``run`` starts, or None when it cannot be told.

    ``all_runs``: every run (newest first, with ``id``, ``seq``, ``status``, ``config``, ``seconds``);
    ``left``: the time left of each running run; ``slots``: how many runs train at once."""
    times = [left.get(r.id) for r in all_runs if r.status == "running"]
    if None in times:
        return None
    free_at = sorted(times)[-slots:] if len(times) >= slots else sorted(times) + [0.0] * (slots - len(times))
    ahead = sorted((r for r in all_runs if r.status == "queued" and r.seq < run.seq), key=lambda r: r.seq)
    for other in ahead:
        took = expected_seconds(other.config, all_runs)
        if took is None:
            return None
        free_at.sort()
        free_at[0] += took
    return min(free_at)
