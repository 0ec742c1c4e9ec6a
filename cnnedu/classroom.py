"""A class on one server: several app processes behind one port (``./run.sh classroom``).

One Streamlit process runs its pages' Python on one core at a time (the GIL), so a class of 40 on one
process waits in line. Here N processes (default: one per core) serve the app on ports of their own on
127.0.0.1, and HAProxy (Debian's ``haproxy``; an existing proxy, configured here) listens on the one port
the class opens. HAProxy spreads new students over the processes and keeps each one on its process: its
first answer sets a cookie (``CNNEDU_WORKER``) that the browser sends with every later request, the
websocket included, because a student's session (what they typed, their uploads) lives in one process.
All processes share the run store (SQLite in WAL mode; cnnedu/runs/store.py) and so see the same runs.

    python -m cnnedu.classroom --workers 2 --port 8501 [--address 0.0.0.0]

Ctrl+C (or SIGTERM) stops the proxy and every app process. If one of them stops by itself, everything is
stopped and the command exits with status 1 and says which.
"""

from __future__ import annotations

import argparse
import os
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
HAPROXY = "haproxy"
COOKIE = "CNNEDU_WORKER"


def haproxy_config(address: str, port: int, app_ports: list[int]) -> str:
    """The proxy's configuration: one front door, sticky sessions by cookie, websockets kept open."""
    bind = "127.0.0.1" if address == "localhost" else address
    servers = "\n".join(f"    server w{i} 127.0.0.1:{p} cookie w{i} check inter 2s"
                        for i, p in enumerate(app_ports, 1))
    return f"""global
    maxconn 4096

defaults
    mode http
    timeout connect 5s
    timeout client 1h
    timeout server 1h
    timeout tunnel 1h

frontend class
    bind {bind}:{port}
    default_backend app

backend app
    balance leastconn
    cookie {COOKIE} insert indirect nocache httponly
    option httpchk GET /_stcore/health
{servers}
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_for_port(port: int, process: subprocess.Popen, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"it stopped at start-up (exit code {process.returncode})")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"it did not answer on port {port} within {timeout:.0f} s")


def _interrupt(*_args) -> None:
    raise KeyboardInterrupt


def start_apps(n: int, streamlit_args: list[str], logs: Path) -> list[tuple[int, subprocess.Popen]]:
    """N app processes on free ports of 127.0.0.1, sharing one cookie secret (so any of them accepts the
    cookies Streamlit sets); each one's output goes to ``logs/app-<i>.log``."""
    env = dict(os.environ, STREAMLIT_SERVER_COOKIE_SECRET=secrets.token_hex(16))
    apps = []
    for i in range(1, n + 1):
        port = _free_port()
        cmd = [sys.executable, "-m", "streamlit", "run", "app.py", "--server.port", str(port),
               "--server.address", "127.0.0.1", "--server.headless", "true", *streamlit_args]
        with open(logs / f"app-{i}.log", "wb") as log:
            apps.append((port, subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)))
    return apps


def stop(processes: list[subprocess.Popen]) -> None:
    for p in processes:
        if p.poll() is None:
            p.terminate()
    for p in processes:
        try:
            p.wait(15)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()


def serve(workers: int, port: int, address: str, streamlit_args: list[str]) -> int:
    """Start everything, print where to open it, and wait for Ctrl+C; returns the exit status."""
    signal.signal(signal.SIGTERM, _interrupt)
    logs = Path(tempfile.mkdtemp(prefix="cnnedu-classroom-"))
    apps = start_apps(workers, streamlit_args, logs)
    processes = [p for _, p in apps]
    try:
        for i, (app_port, process) in enumerate(apps, 1):
            try:
                _wait_for_port(app_port, process)
            except RuntimeError as err:
                print(f"classroom: app process {i} did not start: {err}.", file=sys.stderr)
                return 1
        config = logs / "haproxy.cfg"
        config.write_text(haproxy_config(address, port, [p for p, _ in apps]))
        try:
            proxy = subprocess.Popen([HAPROXY, "-db", "-f", str(config)])
        except FileNotFoundError:
            print("classroom: HAProxy is not installed. Install it (sudo apt-get install haproxy) or let "
                  "./run.sh classroom install it.", file=sys.stderr)
            return 1
        processes.append(proxy)
        try:
            _wait_for_port(port, proxy, 15)
        except RuntimeError as err:
            print(f"classroom: the proxy did not start on port {port}: {err} (is the port taken?).", file=sys.stderr)
            return 1
        shown = "localhost" if address in ("localhost", "127.0.0.1") else address
        print(f"classroom: {workers} app processes behind http://{shown}:{port} (their logs: {logs}). "
              "Stop with Ctrl+C.", flush=True)
        while True:
            for i, process in enumerate(processes, 1):
                if process.poll() is not None:
                    what = "the proxy" if process is proxy else f"app process {i}"
                    print(f"classroom: {what} stopped (exit code {process.returncode}); stopping the rest.",
                          file=sys.stderr)
                    return 1
            time.sleep(0.5)
    except KeyboardInterrupt:
        print("classroom: stopping.", flush=True)
        return 0
    finally:
        stop(processes)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="./run.sh classroom", description=__doc__.splitlines()[0])
    ap.add_argument("--workers", type=int, default=os.cpu_count() or 1,
                    help="app processes (default: one per core, here %(default)s)")
    ap.add_argument("--port", type=int, default=8501, help="the port the class opens (default %(default)s)")
    ap.add_argument("--run-limit", type=float, metavar="MIN",
                    help="the longest a training run may take, in minutes (CNNEDU_RUN_LIMIT_MIN): one long run "
                         "cannot hold the queue for the class; none by default")
    ap.add_argument("--address", default="localhost",
                    help="where to listen: localhost (default), or 0.0.0.0 to let the class network in")
    args, streamlit_args = ap.parse_known_args(argv)
    if not 1 <= args.workers <= 64:
        ap.error("--workers must be between 1 and 64")
    if args.run_limit is not None:
        if not 0 < args.run_limit <= 24 * 60:
            ap.error("--run-limit must be more than 0 and at most 1440 minutes")
        os.environ["CNNEDU_RUN_LIMIT_MIN"] = str(args.run_limit)  # the app processes and their workers inherit it
    return serve(args.workers, args.port, args.address, streamlit_args)


if __name__ == "__main__":
    raise SystemExit(main())
