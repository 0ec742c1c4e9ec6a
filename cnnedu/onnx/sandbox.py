"""Running an uploaded ONNX model where it cannot hurt the server: in a child process of its own, with a
memory cap and a wall-clock limit, killed when it runs over.

An ONNX graph is a program. A valid one can loop 10^12 times or allocate 40 GB, and onnxruntime cannot be
interrupted from Python; so each model runs in its own process (``cnnedu/onnx/sandbox_child.py``), which caps
its own address space at ``PREDICT_MEMORY_BYTES`` before it loads anything, and uses
``PREDICT_THREADS`` cores. The server waits at most ``PREDICT_SECONDS`` for any answer (loading the model
or running one batch); past that it kills the process and raises a :class:`PredictError` that says the
limit. The server itself never runs an uploaded graph, so its memory and its other users are untouched.

A process is kept per model (by SHA-256) for the next prediction — starting one costs ~0.3 s, a round
trip through it well under a millisecond — and the ``PREDICT_PROCESSES`` most recently used are kept.

    proc = model_process(sha256, data)            # started and loaded, or a PredictError
    out = proc.run("input", "output", batch)      # an ndarray, or a PredictError
"""

from __future__ import annotations

import json
import os
import select
import signal
import struct
import subprocess
import sys
import threading
import time
from collections import OrderedDict
from pathlib import Path
from typing import Any

import numpy as np

from cnnedu import budgets
from cnnedu.errors import PredictError
from cnnedu.onnx.sandbox_child import DTYPES

CHILD = Path(__file__).resolve().parent / "sandbox_child.py"
_HEADER_LIMIT = 1 << 20  # a reply's JSON header is a few dozen bytes


def time_limit_error(seconds: float, what: str = "to run") -> PredictError:
    return PredictError(f"This model took longer than {seconds:g} s {what} (cnnedu's limit for one prediction "
                        "on an uploaded model), so it was stopped.",
                        "Use a smaller network without loops (an image classifier exported by torch.onnx needs "
                        "well under a second); a server owner can raise the limit with $CNNEDU_PREDICT_SECONDS.")


def memory_limit_error(max_bytes: int) -> PredictError:
    return PredictError(f"This model needed more than {max_bytes // budgets.MB} MB of memory (cnnedu's limit "
                        "for running an uploaded model), so it was stopped.",
                        "Use a smaller network or smaller input images; a server owner can raise the limit "
                        "with $CNNEDU_PREDICT_MEMORY_MB.")


class ModelProcess:
    """One child process holding one onnxruntime session; one request at a time (a lock)."""

    def __init__(self, sha256: str):
        self.sha256 = sha256
        self.lock = threading.Lock()
        self.memory = budgets.PREDICT_MEMORY_BYTES
        env = dict(os.environ, OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", MKL_NUM_THREADS="1",
                   PYTHONNOUSERSITE="1")
        self.proc = subprocess.Popen(
            [sys.executable, str(CHILD), str(self.memory), str(budgets.PREDICT_THREADS)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env,
            start_new_session=os.name != "nt", close_fds=True)

    @property
    def alive(self) -> bool:
        return self.proc.poll() is None

    def load(self, data: bytes) -> None:
        reply, _ = self._request({"op": "load"}, data, budgets.PREDICT_SECONDS, "to load")
        if not reply.get("ok"):
            self.kill()
            if reply.get("kind") == "memory":
                raise memory_limit_error(self.memory)
            raise PredictError(f"onnxruntime cannot load this model: {reply.get('error', '')}",
                               "Export it again with a recent PyTorch; cnnedu runs it on the CPU.")

    def run(self, input_name: str, output_name: str, batch: np.ndarray, max_out_bytes: int) -> np.ndarray:
        batch = np.ascontiguousarray(batch)
        header = {"op": "run", "input": input_name, "output": output_name, "dtype": batch.dtype.name,
                  "shape": list(batch.shape), "max_out_bytes": int(max_out_bytes)}
        reply, payload = self._request(header, batch.tobytes(), budgets.PREDICT_SECONDS, "to run")
        if not reply.get("ok"):
            if reply.get("kind") == "memory":
                self.kill()  # its heap may be in any state: the next prediction gets a fresh process
                raise memory_limit_error(self.memory)
            raise PredictError(f"onnxruntime could not run the model on this input: {reply.get('error', '')}",
                               "Check the input shape the model expects.")
        dtype, shape = reply.get("dtype"), reply.get("shape")
        if dtype not in DTYPES or not isinstance(shape, list) or not all(isinstance(d, int) for d in shape):
            raise PredictError("The model's process sent an answer cnnedu does not understand.")
        out = np.frombuffer(payload, dtype=dtype)
        if out.size != int(np.prod(shape, dtype=np.int64)):
            raise PredictError("The model's process sent an answer cnnedu does not understand.")
        return out.reshape(shape)

    def kill(self) -> None:
        if self.proc.poll() is None:
            try:
                self.proc.kill()
            except OSError:
                pass
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            pass
        for stream in (self.proc.stdin, self.proc.stdout):
            try:
                stream.close()
            except OSError:
                pass

    # --- the wire

    def _request(self, header: dict[str, Any], payload: bytes, seconds: float,
                 what: str) -> tuple[dict[str, Any], bytes]:
        deadline = time.monotonic() + seconds
        if not self.lock.acquire(timeout=seconds):
            raise time_limit_error(seconds, what)  # another prediction with this model holds it that long
        try:
            if not self.alive:
                raise self._died()
            raw = json.dumps(dict(header, nbytes=len(payload))).encode()
            try:
                self.proc.stdin.write(struct.pack(">I", len(raw)) + raw)
                self.proc.stdin.write(payload)
                self.proc.stdin.flush()
            except (BrokenPipeError, OSError):
                raise self._died() from None
            head = self._read(4, deadline, seconds, what)
            (size,) = struct.unpack(">I", head)
            if size > _HEADER_LIMIT:
                self.kill()
                raise PredictError("The model's process sent an answer cnnedu does not understand.")
            reply = json.loads(self._read(size, deadline, seconds, what))
            nbytes = int(reply.get("nbytes", 0))
            if not 0 <= nbytes <= max(int(header.get("max_out_bytes", 0)), 0) + 64:
                self.kill()
                raise PredictError("The model's process sent an answer cnnedu does not understand.")
            return reply, self._read(nbytes, deadline, seconds, what)
        finally:
            self.lock.release()

    def _read(self, n: int, deadline: float, seconds: float, what: str) -> bytes:
        fd = self.proc.stdout.fileno()
        chunks, left = [], n
        while left > 0:
            wait = deadline - time.monotonic()
            if wait <= 0:
                self.kill()
                raise time_limit_error(seconds, what)
            ready, _, _ = select.select([fd], [], [], wait)
            if not ready:
                continue
            chunk = os.read(fd, min(left, 1 << 20))
            if not chunk:
                raise self._died()
            chunks.append(chunk)
            left -= len(chunk)
        return b"".join(chunks)

    def _died(self) -> PredictError:
        self.kill()
        code = self.proc.returncode
        if code is not None and code < 0 and -code in (signal.SIGKILL, signal.SIGABRT, signal.SIGSEGV,
                                                      signal.SIGBUS):
            # an allocation past RLIMIT_AS that onnxruntime does not turn into an exception aborts the process
            return memory_limit_error(self.memory)
        return PredictError(f"The process running this model stopped unexpectedly (exit status {code}).",
                            "Try again; if it happens again, the model cannot be run by cnnedu.")


# ------------------------------------------------------------------------------------------------ the pool

_processes: OrderedDict[str, ModelProcess] = OrderedDict()
_pool_lock = threading.Lock()


def model_process(sha256: str, data: bytes) -> ModelProcess:
    """The live process holding this model (started and loaded if there is none); a PredictError if it
    cannot be loaded within the limits."""
    with _pool_lock:
        proc = _processes.get(sha256)
        if proc is not None and proc.alive:
            _processes.move_to_end(sha256)
            return proc
    proc = ModelProcess(sha256)
    try:
        proc.load(data)
    except BaseException:
        proc.kill()
        raise
    with _pool_lock:
        old = _processes.pop(sha256, None)
        _processes[sha256] = proc
        _trim()
    if old is not None and old is not proc:
        old.kill()
    return proc


def forget(sha256: str) -> None:
    """Stop the process of one model (after it ran over a limit)."""
    with _pool_lock:
        proc = _processes.pop(sha256, None)
    if proc is not None:
        proc.kill()


def stop_all() -> None:
    """Stop every model process (frees their memory)."""
    with _pool_lock:
        procs = list(_processes.values())
        _processes.clear()
    for proc in procs:
        proc.kill()


def live_pids() -> list[int]:
    """The process ids of the model processes alive now (for tests and the curious)."""
    with _pool_lock:
        return [p.proc.pid for p in _processes.values() if p.alive]


def _trim() -> None:
    """Drop the least recently used processes beyond PREDICT_PROCESSES; a busy one is never stopped."""
    for sha in list(_processes):
        if len(_processes) <= budgets.PREDICT_PROCESSES:
            return
        proc = _processes[sha]
        if not proc.alive:
            del _processes[sha]
        elif proc.lock.acquire(blocking=False):
            del _processes[sha]
            proc.lock.release()
            proc.kill()
