"""The process that runs one uploaded ONNX model for cnnedu.onnx.sandbox: started as a script, it limits its own
memory, loads one model into onnxruntime and answers "run" requests on stdin/stdout until stdin closes.

    python cnnedu/onnx/sandbox_child.py MEMORY_BYTES THREADS

It imports nothing from cnnedu (only NumPy and onnxruntime), so it starts fast and knows nothing the
server knows. Every message, both ways, is a 4-byte big-endian length, a JSON header of that length and
``header["nbytes"]`` raw bytes (a model file, or a C-contiguous array whose dtype and shape the header
names). No pickle: the parent never unpickles what a process running an untrusted model sends it.

Requests:  {"op": "load", "nbytes": N} + the .onnx bytes
           {"op": "run", "input": NAME, "output": NAME, "dtype": "float32", "shape": [...],
            "max_out_bytes": M, "nbytes": N} + the batch
Replies:   {"ok": true, ...} (+ for run: "dtype", "shape", "nbytes" and the output array)
           {"ok": false, "kind": "memory" | "load" | "run", "error": "first line of onnxruntime's message"}
"""

from __future__ import annotations

import json
import os
import struct
import sys
from typing import Any, BinaryIO

#: dtypes an array may have on the wire, both ways.
DTYPES = ("float16", "float32", "float64", "int8", "int16", "int32", "int64", "uint8", "bool")


def limit_memory(max_bytes: int) -> None:
    """Cap this process's address space (Linux, macOS): an allocation past it fails instead of growing."""
    try:
        import resource
    except ImportError:  # Windows: only the time limit applies there
        return
    if max_bytes > 0:
        resource.setrlimit(resource.RLIMIT_AS, (max_bytes, max_bytes))


def new_session(data: bytes, threads: int = 1) -> Any:
    """An onnxruntime CPU session with cnnedu's settings: few threads, no spinning, errors only.

    The benchmark uses it in-process, to compare with the same session run behind a process boundary."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = max(1, threads)
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    # Idle worker threads sleep instead of spinning: on a 2-core server the app's training job and other
    # users need those cores more than a prediction needs its last 0.1 ms.
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    options.add_session_config_entry("session.inter_op.allow_spinning", "0")
    options.log_severity_level = 3  # errors only
    return ort.InferenceSession(data, options, providers=["CPUExecutionProvider"])


def read_message(stream: BinaryIO) -> tuple[dict[str, Any], bytes] | None:
    head = _read_exactly(stream, 4)
    if head is None:
        return None
    (size,) = struct.unpack(">I", head)
    header = json.loads(_read_exactly(stream, size) or b"{}")
    payload = _read_exactly(stream, int(header.get("nbytes", 0))) or b""
    return header, payload


def write_message(stream: BinaryIO, header: dict[str, Any], payload: bytes = b"") -> None:
    header = dict(header, nbytes=len(payload))
    raw = json.dumps(header).encode()
    stream.write(struct.pack(">I", len(raw)) + raw)
    if payload:
        stream.write(payload)
    stream.flush()


def _read_exactly(stream: BinaryIO, n: int) -> bytes | None:
    chunks, left = [], n
    while left > 0:
        chunk = stream.read(left)
        if not chunk:
            return None
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)


def _failure(err: BaseException, kind: str) -> dict[str, Any]:
    text = str(err).strip()
    line = text.splitlines()[0] if text else type(err).__name__
    lowered = text.lower()
    if isinstance(err, MemoryError) or "bad_alloc" in lowered or "bad allocation" in lowered or \
            "failed to allocate" in lowered or "cannot allocate" in lowered:
        kind = "memory"
    return {"ok": False, "kind": kind, "error": line[:300]}


def serve(max_bytes: int, threads: int, stdin: BinaryIO, stdout: BinaryIO) -> None:
    limit_memory(max_bytes)
    import numpy as np

    session = None
    while True:
        message = read_message(stdin)
        if message is None:
            return
        header, payload = message
        try:
            if header.get("op") == "load":
                try:
                    session = new_session(payload, threads)
                except Exception as err:
                    write_message(stdout, _failure(err, "load"))
                    continue
                write_message(stdout, {"ok": True})
            elif header.get("op") == "run" and session is not None:
                if header["dtype"] not in DTYPES:
                    raise ValueError(f"dtype {header['dtype']} is not allowed")
                batch = np.frombuffer(payload, dtype=header["dtype"]).reshape(header["shape"])
                try:
                    out = np.asarray(session.run([header["output"]], {header["input"]: batch})[0])
                except Exception as err:
                    write_message(stdout, _failure(err, "run"))
                    continue
                if out.dtype.name not in DTYPES:
                    write_message(stdout, {"ok": False, "kind": "run",
                                           "error": f"the model's output has type {out.dtype.name}"})
                elif out.nbytes > int(header.get("max_out_bytes", out.nbytes)):
                    write_message(stdout, {"ok": False, "kind": "run", "error": f"the model's output is "
                                           f"{list(out.shape)}, far more than one score per class"})
                else:
                    out = np.ascontiguousarray(out)
                    write_message(stdout, {"ok": True, "dtype": out.dtype.name, "shape": list(out.shape)},
                                  out.tobytes())
            else:
                write_message(stdout, {"ok": False, "kind": "run", "error": "no model is loaded"})
        except MemoryError as err:
            write_message(stdout, _failure(err, "run"))


def main(argv: list[str]) -> int:
    max_bytes, threads = int(argv[0]), int(argv[1])
    stdout = os.fdopen(os.dup(sys.stdout.fileno()), "wb")
    # Anything onnxruntime or NumPy prints must not corrupt the replies: fd 1 goes to stderr from here on.
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())
    serve(max_bytes, threads, sys.stdin.buffer, stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
