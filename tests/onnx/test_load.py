"""Loading a network with its metadata for export: a run (its meta.json, as the run store writes it) or a
preset with untrained weights."""

from __future__ import annotations

import json

import pytest

from cnnedu.errors import RunStoreError
from cnnedu.onnx.load import load_for_export, preset_model
from cnnedu.onnx.meta import ModelMeta


def test_loading_for_export_takes_a_run_or_a_preset(finished_run):
    run = load_for_export(finished_run)
    assert run.source == "run" and run.meta.classes == ["ring", "cross", "horizontal bar", "vertical bar"]
    assert run.meta.input_shape == (1, 16, 16) and run.weights_mtime is not None
    preset = load_for_export("lenet-cifar10")
    assert preset.source == "preset" and preset.meta.classes[0] == "airplane"
    assert preset.meta.mean == [0.5, 0.5, 0.5] and any("untrained" in n for n in preset.notes)
    gaze = preset_model("gaze-cnn")
    assert gaze.meta.classes == ["0", "1", "2", "3"]
    with pytest.raises(RunStoreError, match="neither a run nor a preset"):
        load_for_export("r9999-nothing")


# A run's meta.json exactly as cnnedu/runs/store.py wrote it on 2026-12-02 (json.dumps(meta, indent=2)):
# the model's fields plus the run's own keys (run_id, dataset, status, test_acc, weights_epoch).
OLD_META_JSON = """{
  "run_id": "r0007-tiny-cnn-synthetic",
  "classes": [
    "ring",
    "cross"
  ],
  "input_shape": [
    1,
    16,
    16
  ],
  "channel_order": "L",
  "mean": [
    0.1234
  ],
  "std": [
    0.3
  ],
  "output": "log_probs",
  "arch": "tiny-cnn",
  "spec": {"name": "tiny-cnn", "input_shape": [1, 16, 16], "num_classes": 2, "layers": []},
  "training": {
    "run_id": "r0007-tiny-cnn-synthetic",
    "dataset": "synthetic",
    "status": "checkpoint",
    "test_acc": 0.5,
    "epochs": 1,
    "epochs_planned": 3,
    "optimizer": "adam",
    "lr": 0.001,
    "batch_size": 64,
    "normalize": true,
    "flip": 0.0,
    "crop": 0,
    "seed": 0,
    "engine": "torch"
  },
  "dataset": "synthetic",
  "status": "checkpoint",
  "test_acc": 0.5,
  "weights_epoch": 1
}"""


def test_a_meta_json_written_by_todays_run_store_still_loads(tmp_path):
    path = tmp_path / "meta.json"
    path.write_text(OLD_META_JSON)
    meta = ModelMeta.from_dict(json.loads(path.read_text()))
    assert meta.classes == ["ring", "cross"] and meta.input_shape == (1, 16, 16)
    assert meta.channel_order == "L" and meta.mean == [0.1234] and meta.std == [0.3]
    assert meta.output == "log_probs" and meta.arch == "tiny-cnn" and meta.num_classes == 2
    assert meta.training["dataset"] == "synthetic" and meta.spec["name"] == "tiny-cnn"
    assert meta.problems() == []
    # what ModelMeta writes is what it reads, and every field sits under the key the run store uses
    assert ModelMeta.from_dict(meta.to_dict()) == meta
    old = json.loads(OLD_META_JSON)
    assert {k: old[k] for k in meta.to_dict()} == meta.to_dict()


def test_an_older_meta_json_without_channel_order_or_output_gets_them_from_the_shape(tmp_path):
    old = {k: v for k, v in json.loads(OLD_META_JSON).items() if k not in ("channel_order", "output")}
    meta = ModelMeta.from_dict({**old, "input_shape": [3, 8, 8], "mean": [0.5] * 3, "std": [0.25] * 3})
    assert meta.channel_order == "RGB" and meta.output == "logits"
    with pytest.raises(RunStoreError, match="meta.json is incomplete"):
        ModelMeta.from_dict({k: v for k, v in old.items() if k != "classes"})
