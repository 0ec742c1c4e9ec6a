"""A corpus of bad input, kept as data in tests/corpus/{spec,answers,config,folder,environment}.json.

What a hostile or clumsy student can type, upload, link or set: each case is built here from its ``make``
recipe and fed through the library, the CLI (``cnnedu.cli.main`` in-process: exit status 2, no traceback)
and, where the case says ``"page": true``, the page a student would use (AppTest). Each must end in a
clear message holding the case's ``says`` — a phrase of the guard that catches it, so the case fails if
that guard is gone. A case with ``"ok": true`` is input that must be *accepted* (a byte-order mark, UTF-16).

The ONNX and image corpus (tests/corpus/onnx.json, image.json) runs in tests/test_corpus_onnx.py.
"""

from __future__ import annotations

import base64
import copy
import json
import os
import subprocess
import sys
import zlib
from pathlib import Path

import pytest

from cnnedu.arch.analysis import analyze
from cnnedu.arch.spec import load_spec_file
from cnnedu.arch.zoo import preset_spec
from cnnedu.cli.main import main
from cnnedu.errors import CnnEduError
from tests.helpers import open_page

CORPUS = Path(__file__).parent / "corpus"
SURFACES = ("spec", "answers", "config", "folder", "environment")
CASES = {s: json.loads((CORPUS / f"{s}.json").read_text(encoding="utf-8")) for s in SURFACES}


def ids(surface: str) -> list[str]:
    return [c["name"] for c in CASES[surface]]


def cli(args: list[str], capsys) -> tuple[int, str]:
    """``python -m cnnedu ARGS`` in this process: (exit status, everything printed)."""
    try:
        code = main(args)
    except SystemExit as exit_:  # argparse refuses an option
        code = exit_.code
    out = capsys.readouterr()
    text = out.out + out.err
    assert "Traceback" not in text, text
    return code, text


def library_message(call) -> str:
    """The message of the CnnEduError that ``call()`` raises, or of the error its Analysis holds."""
    try:
        result = call()
    except CnnEduError as err:
        return str(err)
    assert getattr(result, "error", None) is not None, f"accepted: {result!r:.200}"
    return str(result.error)


def test_the_corpus_is_big_and_well_formed():
    onnx = json.loads((CORPUS / "onnx.json").read_text()) + json.loads((CORPUS / "image.json").read_text())
    total = sum(len(c) for c in CASES.values()) + len(onnx)
    assert total >= 250, total
    for surface, cases in CASES.items():
        assert len(set(ids(surface))) == len(cases), f"two {surface} cases share a name"
        for case in cases:
            assert case["surface"] == surface and "make" in case, case
            assert case.get("ok") or case["says"], f"{case['name']}: an error case must say what it expects"


# ------------------------------------------------------------------------------------------------ spec


def set_path(obj, path: str, value) -> None:
    """``set_path(spec, "layers.0.stride", 2)``; a value of None removes the key."""
    *parents, last = [int(p) if p.isdigit() else p for p in path.split(".")]
    for p in parents:
        obj = obj[p]
    if value is None and isinstance(obj, dict):
        obj.pop(last, None)
    else:
        obj[last] = value


def spec_bytes(make: dict, tmp_path: Path) -> bytes | Path:
    """The bytes of the spec file a case describes (or a path, for the cases about paths)."""
    if "path" in make:
        kind = make["path"]
        if kind == "folder":
            (tmp_path / "net.json").mkdir()
            return tmp_path / "net.json"
        if kind == "fifo":
            os.mkfifo(tmp_path / "net.json")
            return tmp_path / "net.json"
        if kind == "link_dev_zero":
            (tmp_path / "net.json").symlink_to("/dev/zero")
            return tmp_path / "net.json"
        if kind == "missing":
            return tmp_path / "nowhere.json"
        return Path(kind)
    if "text" in make:
        return make["text"].encode("utf-8")
    if "hex" in make:
        return bytes.fromhex(make["hex"])
    if "generate" in make:
        kind = make["generate"]
        if kind == "layers":
            layers = [{"type": "ReLU"}] * make["count"]
            return json.dumps({"input_shape": [1, 8, 8], "layers": layers}).encode()
        if kind == "nested":
            return ("[" * make["depth"] + "]" * make["depth"]).encode()
        if kind == "nested_objects":
            return ('{"a":' * make["depth"] + "1" + "}" * make["depth"]).encode()
        if kind == "digits":
            return ('{"input_shape": [1, 8, 8], "layers": [{"type": "Linear", "out_features": 1'
                    + "0" * (make["count"] - 1) + "}]}").encode()
        if kind == "long":
            return json.dumps({"input_shape": [1, 8, 8], "description": "x" * make["chars"]}).encode()
        raise AssertionError(kind)
    if "json" in make:
        return json.dumps(make["json"]).encode()
    spec = preset_spec(make["preset"]).to_dict()
    for path, value in make.get("set", {}).items():
        set_path(spec, path, copy.deepcopy(value))
    if "insert" in make:
        spec["layers"].insert(make["insert"]["at"], make["insert"]["layer"])
    text = json.dumps(spec)
    for path, literal in make.get("text_set", {}).items():  # NaN, Infinity: JSON extensions Python writes
        set_path(spec, path, "@@")
        text = json.dumps(spec).replace('"@@"', literal)
    if make.get("bom") == "utf-16":
        return text.encode("utf-16")  # with its byte-order mark
    if make.get("bom") == "utf-8":
        return "\ufeff".encode() + text.encode()
    return text.encode()


def written(data: bytes | Path, path: Path) -> Path:
    """``data`` written to ``path`` (a case about paths gives its path instead of bytes: returned as it is)."""
    if isinstance(data, Path):
        return data
    path.write_bytes(data)
    return path


def spec_file(make: dict, tmp_path: Path) -> Path:
    return written(spec_bytes(make, tmp_path), tmp_path / "net.json")


@pytest.mark.parametrize("case", CASES["spec"], ids=ids("spec"))
def test_a_bad_spec_gets_a_clear_message_in_the_library_and_the_cli(case, tmp_path, capsys):
    path = spec_file(case["make"], tmp_path)
    if case.get("ok"):
        analyze(load_spec_file(path))
        code, text = cli(["summary", str(path)], capsys)
        assert code == 0, text
        return
    assert case["says"] in library_message(lambda: analyze(load_spec_file(path)))
    code, text = cli(["summary", str(path)], capsys)
    assert code == 2 and case["says"] in text, text


def link(data: bytes) -> str:
    """A ?spec= value carrying these bytes (as cnnedu.ui.state.encode makes them from JSON)."""
    return base64.urlsafe_b64encode(zlib.compress(data, 9)).decode().rstrip("=")


@pytest.mark.parametrize("case", [c for c in CASES["spec"] if c.get("page")],
                         ids=[c["name"] for c in CASES["spec"] if c.get("page")])
def test_a_bad_spec_in_a_shared_link_gets_a_message_on_the_build_page(case, tmp_path):
    at = open_page("pages/build.py", {"spec": link(spec_bytes(case["make"], tmp_path))})
    assert not at.exception
    shown = [e.value for e in at.error] + [w.value for w in at.warning]
    said = " ".join(shown).replace("\\", "")  # the page shows messages as plain text (escaped Markdown)
    assert case["says"] in said or "could not be read" in said, shown


# --------------------------------------------------------------------------------------------- answers

ANSWERS_NET = "lenet-cifar10"


def answers_file(make: dict, tmp_path: Path) -> Path:
    """The answers file a case describes: the same recipes as a spec's, the JSON is the answers."""
    if make.get("generate") == "digits":
        data: bytes | Path = ('{"total_params": 1' + "0" * (make["count"] - 1) + "}").encode()
    elif make.get("generate") == "long":
        data = json.dumps({"total_params": 1, "note": "x" * make["chars"]}).encode()
    elif "bom" in make:
        text = json.dumps(make["json"])
        data = text.encode("utf-16") if make["bom"] == "utf-16" else "\ufeff".encode() + text.encode()
    else:
        data = spec_bytes(make, tmp_path)
    return written(data, tmp_path / "answers.json")


def grading_message(path: Path) -> str:
    """What grading the answers in ``path`` says is wrong with them: the AnswersError, or every cell that
    could not be read (each is still reported, the others graded)."""
    from cnnedu.grading.grade import grade
    from cnnedu.userinput import read_text_file

    try:
        report = grade(preset_spec(ANSWERS_NET), read_text_file(path, "answers file"))
    except CnnEduError as err:
        return str(err)
    assert report.problems, "every cell was read"
    return " | ".join(str(p) for p in report.problems)


@pytest.mark.parametrize("case", CASES["answers"], ids=ids("answers"))
def test_bad_answers_get_a_clear_message_in_the_library_and_the_cli(case, tmp_path, capsys):
    path = answers_file(case["make"], tmp_path)
    code, text = cli(["check", ANSWERS_NET, str(path)], capsys)
    if case.get("ok"):
        assert code == 0 and "not graded" not in text, text
        return
    assert case["says"] in grading_message(path)
    assert code == 2 and case["says"] in text, text


# ---------------------------------------------------------------------------------------------- config


def train_args(make: dict, tmp_path: Path) -> list[str]:
    """``python -m cnnedu train`` with a tiny, valid run's options, then the case's own (the last wins)."""
    arch = make.get("arch", "mnist-cnn")
    if "arch_spec" in make:
        arch = str(tmp_path / "net.json")
        Path(arch).write_text(json.dumps(make["arch_spec"]))
    if "arch_file" in make:
        arch = str(spec_file({"path": make["arch_file"]}, tmp_path))
    return ["train", "--arch", arch, "--dataset", make.get("dataset", "synthetic"), "--n-train", "64",
            "--n-test", "32", "--epochs", "1", *make["cli"]]


def config_message(make: dict) -> str:
    """What the library says about a configuration given as JSON, or a number typed on the Train page."""
    from cnnedu.runs.store import create_run
    from cnnedu.training.config import TrainConfig
    from cnnedu.training.settings import parse_setting

    if "setting" in make:
        parsed = parse_setting(make["setting"], make["text"])
        assert not parsed.ok, f"accepted: {parsed.value!r}"
        return parsed.message
    text = make["text"] if "text" in make else json.dumps(make["json"])
    try:
        run_id = create_run(TrainConfig.from_json(text))
    except CnnEduError as err:
        return str(err)
    raise AssertionError(f"accepted as run {run_id}")


@pytest.mark.parametrize("case", CASES["config"], ids=ids("config"))
def test_a_bad_training_setting_gets_a_clear_message(case, tmp_path, capsys):
    from cnnedu.runs.store import list_runs

    make = case["make"]
    if "cli" not in make:
        assert case["says"] in config_message(make)
        return
    code, text = cli(train_args(make, tmp_path), capsys)
    assert code == 2 and case["says"] in text, text
    assert [r.status for r in list_runs()] in ([], ["failed"]), "a refused run must not train"


# ---------------------------------------------------------------------------------------------- folder


def make_file(path: Path, kind: str) -> None:
    """One entry of a folder case's tree: an image, a damaged one, a pipe, a link ..."""
    import numpy as np
    from PIL import Image

    path.parent.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(len(str(path)))
    if kind == "dir":
        path.mkdir(parents=True, exist_ok=True)
    elif kind in ("png", "png_big"):
        side = 40 if kind == "png_big" else 8
        Image.fromarray(rng.integers(0, 256, (side, side), dtype=np.uint8), "L").save(path, "PNG")
    elif kind == "cmyk":
        Image.fromarray(rng.integers(0, 256, (8, 8, 4), dtype=np.uint8), "CMYK").save(path, "TIFF")
    elif kind == "corrupt":
        path.write_bytes(b"\x89PNG\r\n\x1a\n" + rng.bytes(64))
    elif kind == "empty":
        path.write_bytes(b"")
    elif kind == "text":
        path.write_text("not an image")
    elif kind == "bomb":  # a valid PNG header that claims 100,000 × 100,000 pixels
        import struct
        import zlib as z

        ihdr = struct.pack(">IIBBBBB", 100_000, 100_000, 8, 0, 0, 0, 0)
        chunk = b"IHDR" + ihdr
        path.write_bytes(b"\x89PNG\r\n\x1a\n" + struct.pack(">I", 13) + chunk
                         + struct.pack(">I", z.crc32(chunk)))
    elif kind == "fifo":
        os.mkfifo(path)
    elif kind == "dev_zero":
        path.symlink_to("/dev/zero")
    elif kind.startswith("link:"):
        target = kind[5:]
        path.symlink_to(target if target.startswith("/") else path.parent / target)
    else:
        raise AssertionError(kind)


def folder_path(make: dict, monkeypatch) -> str:
    from cnnedu.paths import data_dir

    root = data_dir()
    for name, kind in make.get("tree", {}).items():
        make_file(root / name.rstrip("/"), kind)
    if make.get("outside"):  # the server's owner allowed no other folder
        monkeypatch.delenv("CNNEDU_FOLDERS", raising=False)
    return make["path"]


@pytest.mark.parametrize("case", CASES["folder"], ids=ids("folder"))
def test_a_bad_image_folder_gets_a_clear_message(case, monkeypatch, capsys):
    from cnnedu.data import load_dataset

    make = case["make"]
    path = folder_path(make, monkeypatch)
    classes = make.get("classes")
    if case.get("ok"):
        ds = load_dataset("folder", data_dir=path, input_shape=(1, 8, 8), num_classes=classes)
        assert len(ds.train_x) >= 8
        names = sorted({p.split("/")[1] for p in make["tree"] if p.count("/") >= 2})
        assert set(ds.classes) <= set(names) and len(ds.classes) == min(len(names), classes or len(names))
        if "Markdown" in case["name"]:
            assert sorted(ds.classes) == names  # kept as they are, whatever characters they hold
        return
    with pytest.raises(CnnEduError) as err:
        load_dataset("folder", data_dir=path, input_shape=(1, 8, 8), num_classes=classes)
    assert case["says"] in str(err.value)
    code, text = cli(["train", "--arch", "mnist-cnn", "--dataset", "folder",
                      "--data-dir", path, "--epochs", "1"], capsys)
    assert code in (1, 2) and case["says"] in text, text


# ----------------------------------------------------------------------------------------- environment

ROOT = Path(__file__).resolve().parents[1]


def prepare_home(make: dict, tmp_path: Path, monkeypatch) -> dict[str, str]:
    """The environment of a case: CNNEDU_HOME and friends as the recipe says, in a fresh folder."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CNNEDU_")}
    env["PYTHONPATH"] = str(ROOT)
    home = make.get("home", "dir")
    if home in ("dir", "file") or home.startswith("file/"):
        path = tmp_path / "home"
        if home == "dir":
            path.mkdir()
        else:
            path.write_text("I am a file, not a folder")
            path = path / "inner" if home == "file/inner" else path
    else:
        path = Path(home)
    env["CNNEDU_HOME"] = str(path)
    db = tmp_path / "home" / "runs.db"
    if make.get("runs_db") == "garbage":
        db.write_bytes(os.urandom(4096))
    elif make.get("runs_db") == "folder":
        db.mkdir()
    elif make.get("runs_db") == "empty":
        db.write_bytes(b"")
    if make.get("damaged_run"):
        import sqlite3

        from tests.helpers import tiny

        monkeypatch.setenv("CNNEDU_HOME", str(tmp_path / "home"))
        from cnnedu.runs.store import create_run

        create_run(tiny())
        create_run(tiny())
        with sqlite3.connect(db) as con:
            con.execute("UPDATE runs SET config = '{not json', results = '[[[' WHERE seq = 1")
    if make.get("data") == "file":
        (tmp_path / "data").write_text("a file")
        env["CNNEDU_DATA"] = str(tmp_path / "data")
    env.update(make.get("env", {}))
    return env


@pytest.fixture
def fresh_budgets(monkeypatch):
    """cnnedu.budgets read again after the test sets its environment, and as it was afterwards."""
    import importlib

    from cnnedu import budgets

    yield lambda: importlib.reload(budgets)
    monkeypatch.undo()
    importlib.reload(budgets)


@pytest.mark.parametrize("case", CASES["environment"], ids=ids("environment"))
def test_a_bad_environment_gets_a_clear_message(case, tmp_path, monkeypatch, capsys, fresh_budgets):
    make = case["make"]
    if not make.get("process"):  # a setting read when cnnedu runs: this process will do
        for name, value in make.get("env", {}).items():
            monkeypatch.setenv(name, value)
        budgets = fresh_budgets()
        assert 0 < budgets.RUN_MEMORY_BYTES < float("inf") and 0 < budgets.PREDICT_SECONDS < float("inf")
        from cnnedu.runs.jobs import max_concurrent, threads_per_run

        assert max_concurrent() >= 1 and 1 <= threads_per_run() <= 1024
        code, text = cli(make["args"], capsys)
        assert code == (0 if case.get("ok") else 2) and case["says"] in text, text
        return
    env = prepare_home(make, tmp_path, monkeypatch)
    command = [sys.executable, "-m", "cnnedu", *make["args"]]
    if make.get("head"):  # the reader goes away after one line, as `python -m cnnedu presets | head -1`
        out = subprocess.run(" ".join(command) + " | head -1", shell=True, env=env, capture_output=True,
                             text=True, timeout=120)
        assert out.returncode == 0 and "Traceback" not in out.stderr and out.stdout.count("\n") == 1, out
        return
    out = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120, cwd=tmp_path)
    text = out.stdout + out.stderr
    assert "Traceback" not in text, text
    if case.get("ok"):
        assert out.returncode == 0 and case["says"] in text, text
    else:
        assert out.returncode == 2 and case["says"] in text, text
