"""What is the same for every student is worked out once per server: the Build page's analysis and code of a
network are computed on the first request and shared by every later one (a class starting from one preset)."""

from __future__ import annotations

from cnnedu.arch.analysis import analyze
from cnnedu.arch.codegen import pytorch_source
from cnnedu.arch.spec import parse_spec
from cnnedu.arch.zoo import preset_spec
from cnnedu.ui import common


def test_the_analysis_and_the_code_of_a_network_are_computed_once_and_agree_with_the_library():
    spec = preset_spec("resnet-cifar10")
    first = common.analysis(spec)
    again = common.analysis(parse_spec(spec.to_dict()))  # another student's copy of the same network
    assert again is first  # shared, not recomputed
    plain = analyze(spec)
    assert first.totals == plain.totals and [r.output_shape for r in first.rows] == [r.output_shape for r in plain.rows]
    assert common.code(spec) is common.code(parse_spec(spec.to_json())) and common.code(spec) == pytorch_source(spec)


def test_a_changed_network_gets_its_own_analysis():
    spec = preset_spec("lenet-cifar10").to_dict()
    wider = {**spec, "input_shape": [3, 64, 64]}
    assert common.analysis(parse_spec(wider)).totals != common.analysis(parse_spec(spec)).totals
