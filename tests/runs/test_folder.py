"""A run's folder (cnnedu/runs/folder.py): where its files are, and ids that would lead outside it."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from cnnedu.errors import RunStoreError
from cnnedu.runs import store as runs
from cnnedu.runs.folder import RunFolder
from tests.helpers import tiny


def test_a_new_run_folder_holds_its_token_settings_and_network_and_nothing_half_written():
    run_id = runs.create_run(tiny(epochs=1))
    folder = RunFolder(run_id)
    assert folder.path == Path(os.environ["CNNEDU_HOME"]) / "runs" / run_id
    assert folder.read_token() == runs.get_run(run_id, check=False).token
    assert json.loads(folder.config.read_text())["epochs"] == 1
    assert json.loads(folder.spec.read_text())["input_shape"] == [1, 16, 16]
    assert not folder.has_weights() and folder.staged() == []


@pytest.mark.parametrize("run_id", ["../outside", "..", ".hidden", "a/b", ""])
def test_an_id_that_would_lead_outside_the_runs_folder_is_refused(run_id):
    with pytest.raises(RunStoreError, match="is not a valid run id"):
        RunFolder(run_id)
