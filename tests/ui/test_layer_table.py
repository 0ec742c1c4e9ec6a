"""The Build page's table format: settings written like PyTorch keyword arguments, and back."""

import pytest

from cnnedu.arch.spec import parse_spec
from cnnedu.arch.zoo import PRESETS, preset_spec
from cnnedu.errors import SpecError
from cnnedu.ui.layer_table import field_help, layers_from_rows, parse_settings, rows_from_layers


@pytest.mark.parametrize("preset_id", list(PRESETS))
def test_every_preset_survives_the_table(preset_id):
    spec = preset_spec(preset_id)
    layers = layers_from_rows(rows_from_layers(spec.layers))
    assert parse_spec({**spec.to_dict(), "layers": layers}) == spec


def test_settings_are_read_like_pytorch_arguments():
    assert parse_settings(0, "Conv2d", "out_channels=6, kernel_size=3x1, padding=same, bias=false") == {
        "out_channels": 6, "kernel_size": [3, 1], "padding": "same", "bias": False}
    assert parse_settings(0, "Conv2d", "kernel_size=(5, 5) stride=[2,1]") == {"kernel_size": [5, 5], "stride": [2, 1]}
    assert parse_settings(0, "Dropout", "p=0.25") == {"p": 0.25}


def test_unreadable_settings_name_the_layer():
    with pytest.raises(SpecError, match="Layer 2 .*cannot read 'kernel 5'"):
        parse_settings(2, "Conv2d", "kernel 5")


def test_empty_rows_are_skipped_and_a_missing_type_is_named():
    assert layers_from_rows([{"type": "", "name": "", "settings": ""}, {"type": "ReLU"}]) == [{"type": "ReLU"}]
    with pytest.raises(SpecError, match="no type"):
        layers_from_rows([{"type": "", "settings": "p=0.5"}])


def test_help_lists_every_type_with_required_fields():
    rows = {r["type"]: r["settings"] for r in field_help()}
    assert "out_channels (required)" in rows["Conv2d"] and "in_channels (inferred)" in rows["Conv2d"]
    assert rows["ReLU"] == "—"
