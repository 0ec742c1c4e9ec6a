"""A class on one server: N students at once, each a websocket session speaking Streamlit's protocol.

Each simulated student (benchmarks/st_client.py) connects, opens Build, changes the input height, edits a
layer in the table, opens Check and types a total (the page grades it), opens Runs, and starts over, with a
pause of 1–3 s between actions as a person has. For each number of students the script prints, per action,
p50 / p95 / max seconds, the errors (an exception drawn on a page, a run that timed out, a dropped
connection), the server's CPU use and memory, and the p95 ratios against N = 1 measured in the same run.
After the last level it waits for the server's memory to settle and prints it against the start.

    .venv/bin/python benchmarks/bench_classroom.py                    # N = 1, 10, 20, 40; 60 s each
    .venv/bin/python benchmarks/bench_classroom.py --sessions 1,5 --duration 20 --train 2
    .venv/bin/python benchmarks/bench_classroom.py --classroom 2      # against ./run.sh classroom --workers 2
    .venv/bin/python benchmarks/bench_classroom.py --url http://localhost:8501   # a server already running

It starts its own server (``streamlit run app.py`` with the repository's .streamlit/config.toml) on a free
port with a fresh run store, unless ``--url`` is given. ``--train K`` starts K small training runs
(``python -m cnnedu train``, synthetic data) in the same store while the students work.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from st_client import Session  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(home: str, workers: int) -> tuple[subprocess.Popen, str]:
    """One app process (``streamlit run app.py``), or with ``workers`` ``./run.sh classroom``'s set-up."""
    port = free_port()
    env = dict(os.environ, CNNEDU_HOME=home)
    cmd = ([PYTHON, "-m", "cnnedu.classroom", "--workers", str(workers), "--port", str(port)] if workers else
           [PYTHON, "-m", "streamlit", "run", "app.py", "--server.port", str(port), "--server.headless", "true"])
    server = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(600):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return server, f"http://127.0.0.1:{port}"
        except OSError:
            time.sleep(0.2)
    server.kill()
    raise SystemExit("the app server did not start within 120 s")


def _stat(pid: int) -> list[str]:
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()


def tree(root: int) -> list[int]:
    """``root`` and all its descendants (the classroom's app processes and proxy)."""
    parents: dict[int, list[int]] = defaultdict(list)
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                parents[int(_stat(int(entry.name))[1])].append(int(entry.name))
            except (OSError, IndexError):
                pass
    out, todo = [], [root]
    while todo:
        pid = todo.pop()
        out.append(pid)
        todo.extend(parents.get(pid, []))
    return out


def cpu_seconds(root: int) -> float:
    """CPU seconds used so far by the server's processes."""
    total = 0.0
    for pid in tree(root):
        try:
            fields = _stat(pid)
            total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
        except (OSError, IndexError):
            pass
    return total


def rss_mb(root: int) -> float:
    """Resident memory of the server's processes, in MB."""
    total = 0
    for pid in tree(root):
        try:
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except OSError:
            pass
    return total / 1024


class Tally:
    """Seconds per action, and the errors, of one level."""

    def __init__(self) -> None:
        self.seconds: dict[str, list[float]] = defaultdict(list)
        self.errors: list[str] = []

    def add(self, action: str, result) -> None:
        self.seconds[action].append(result.seconds)
        if result.exceptions or result.status != "FINISHED_SUCCESSFULLY":
            self.errors.append(f"{action}: {result.status} {'; '.join(result.exceptions)[:200]}")


async def student(url: str, until: float, tally: Tally, rng: random.Random) -> None:
    s = Session(url)
    try:
        tally.seconds["first connect"].append(await s.connect())
        tally.add("page load", await s.open("build"))
        height = 32
        while time.perf_counter() < until:
            height = 28 if height == 32 else 32
            steps = [
                ("build edit (input)", lambda h=height: s.set_value("Height", h)),
                ("build edit (table)", lambda: s.edit_table("layers_", {0: {"settings": f"out_channels={rng.choice((6, 8))}, kernel_size=5"}})),
                ("page load", lambda: s.open("check")),
                ("check grade", lambda: s.set_value("Your total number of parameters", str(rng.randint(1000, 99999)))),
                ("page load", lambda: s.open("runs")),
                ("page load", lambda: s.open("build")),
            ]
            for action, step in steps:
                if time.perf_counter() >= until:
                    break
                await asyncio.sleep(rng.uniform(1.0, 3.0))
                tally.add(action, await step())
    except (OSError, KeyError, StopIteration, RuntimeError) as err:
        tally.errors.append(f"session: {type(err).__name__}: {err}")
    finally:
        await s.close()


def start_training(home: str, k: int) -> list[subprocess.Popen]:
    env = dict(os.environ, CNNEDU_HOME=home)
    return [subprocess.Popen([PYTHON, "-m", "cnnedu", "train", "--arch", "mnist-cnn", "--dataset", "synthetic",
                              "--epochs", "3", "--n-train", "2000", "--seed", str(i)], cwd=ROOT, env=env,
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) for i in range(k)]


async def level(url: str, n: int, duration: float, pid: int | None) -> dict:
    tally = Tally()
    cpu0, wall0 = (cpu_seconds(pid) if pid else 0.0), time.perf_counter()
    until = wall0 + duration
    rngs = [random.Random(i) for i in range(n)]
    await asyncio.gather(*(student(url, until, tally, rngs[i]) for i in range(n)))
    wall = time.perf_counter() - wall0
    out = {"sessions": n, "errors": tally.errors, "actions": {}}
    for action, secs in sorted(tally.seconds.items()):
        secs = sorted(secs)
        out["actions"][action] = {"count": len(secs), "p50": statistics.median(secs),
                                  "p95": secs[min(len(secs) - 1, int(0.95 * len(secs)))], "max": secs[-1]}
    if pid:
        out["server_cpu_percent"] = 100 * (cpu_seconds(pid) - cpu0) / wall
        out["server_rss_mb"] = rss_mb(pid)
    return out


def report(levels: list[dict]) -> None:
    base = levels[0]["actions"]
    for lv in levels:
        cpu = f", server CPU {lv['server_cpu_percent']:.0f} %, RSS {lv['server_rss_mb']:.0f} MB" if "server_rss_mb" in lv else ""
        print(f"\nN = {lv['sessions']}: {len(lv['errors'])} errors{cpu}")
        print(f"  {'action':22} {'count':>6} {'p50 s':>7} {'p95 s':>7} {'max s':>7} {'p95 / N=1':>10}")
        for action, a in lv["actions"].items():
            ratio = a["p95"] / base[action]["p95"] if action in base and base[action]["p95"] else float("nan")
            print(f"  {action:22} {a['count']:6d} {a['p50']:7.3f} {a['p95']:7.3f} {a['max']:7.3f} {ratio:10.1f}")
        for e in lv["errors"][:5]:
            print("   error:", e)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sessions", default="1,10,20,40", help="numbers of students, e.g. 1,10,20,40")
    ap.add_argument("--duration", type=float, default=60.0, help="seconds per level")
    ap.add_argument("--train", type=int, default=0, help="training runs going on at the same time")
    ap.add_argument("--url", help="an app server already running (else one is started)")
    ap.add_argument("--classroom", type=int, default=0, metavar="N",
                    help="start ./run.sh classroom's set-up with N app processes instead of one process")
    ap.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = ap.parse_args(argv)
    home = tempfile.mkdtemp(prefix="cnnedu-bench-")
    server, url = (None, args.url) if args.url else start_server(home, args.classroom)
    pid = server.pid if server else None
    trainers: list[subprocess.Popen] = []
    try:
        asyncio.run(level(url, max(1, args.classroom), 8.0, pid))  # warm-up: each process's first run imports torch
        start_rss = rss_mb(pid) if pid else None
        trainers = start_training(home, args.train)
        levels = [asyncio.run(level(url, int(n), args.duration, pid)) for n in args.sessions.split(",")]
        finished = [t.wait() == 0 for t in trainers]
        if pid:
            time.sleep(10)  # sessions closed: let the server drop them
        end_rss = rss_mb(pid) if pid else None
    finally:
        for t in trainers:
            t.kill()
        if server:
            server.send_signal(signal.SIGINT)  # the classroom stops its app processes and proxy on Ctrl+C
            server.wait(30)
    summary = {"levels": levels, "rss_start_mb": start_rss, "rss_after_mb": end_rss,
               "training_runs_finished": f"{sum(finished)} of {len(finished)}"}
    if args.json:
        print(json.dumps(summary, indent=2))
    else:
        report(levels)
        if start_rss:
            print(f"\nserver RSS: {start_rss:.0f} MB after warm-up, {end_rss:.0f} MB 10 s after the last "
                  f"session closed ({100 * (end_rss / start_rss - 1):+.0f} %)")
        if trainers:
            print(f"training runs finished: {summary['training_runs_finished']}")
    return 1 if any(lv["errors"] for lv in levels) else 0


if __name__ == "__main__":
    raise SystemExit(main())
