"""Property-based fuzzing (hypothesis) of every reader of what a user types: any input either parses or
raises a CnnEduError with a message — never another exception, which would reach a student as a traceback.

The strategies make the inputs a student (or a hostile link) can produce: any JSON value, any text, any
bytes, and a coursework network with one field set to anything.
"""

from __future__ import annotations

import json

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cnnedu.arch.analysis import analyze
from cnnedu.arch.layers.registry import layer_types
from cnnedu.arch.spec import parse_spec
from cnnedu.arch.zoo import preset_spec
from cnnedu.errors import CnnEduError
from cnnedu.grading.cells import read_count, read_shape
from cnnedu.grading.grade import grade
from cnnedu.training.config import TrainConfig
from cnnedu.training.settings import FIELDS, parse_setting
from cnnedu.userinput import read_json

FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])

numbers = st.one_of(st.integers(min_value=-(10**40), max_value=10**40), st.floats(allow_nan=True),
                    st.sampled_from([0, 1, 2, 3, 5, 28, 10**6, 10**6 + 1, 2**63]))
scalars = st.one_of(st.none(), st.booleans(), numbers, st.text(max_size=20),
                    st.sampled_from(["same", "valid", "Conv2d", "ReLU", "6x28x28", "5*5*3*6+6", "²", "٣"]))
json_values = st.recursive(scalars, lambda inner: st.one_of(st.lists(inner, max_size=5),
                                                            st.dictionaries(st.text(max_size=12), inner, max_size=5)),
                           max_leaves=25)


def parses_or_says_why(call) -> None:
    try:
        call()
    except CnnEduError as err:
        assert str(err).strip(), "an error without a message"


# ------------------------------------------------------------------------------------------------ spec

FIELD_NAMES = sorted({f.name for kind in layer_types().values() for f in kind.fields} | {"type", "name"})


@FUZZ
@given(json_values)
def test_any_json_value_is_a_spec_or_a_spec_error(value):
    parses_or_says_why(lambda: analyze(parse_spec(value)))


@FUZZ
@given(st.sampled_from(["lenet-cifar10", "mnist-cnn", "resnet-cifar10", "mobilenet-cifar10"]), st.data())
def test_a_coursework_network_with_any_field_set_to_anything(preset, data):
    spec = preset_spec(preset).to_dict()
    for _ in range(data.draw(st.integers(1, 3))):
        layer = data.draw(st.integers(0, len(spec["layers"]) - 1))
        spec["layers"][layer][data.draw(st.sampled_from(FIELD_NAMES))] = data.draw(json_values)
    if data.draw(st.booleans()):
        spec["input_shape"] = data.draw(st.one_of(json_values, st.lists(numbers, min_size=3, max_size=3)))
    parses_or_says_why(lambda: analyze(spec))


@FUZZ
@given(st.one_of(st.text(max_size=300), st.binary(max_size=300)))
def test_any_text_or_bytes_is_json_or_a_clear_error(text):
    parses_or_says_why(lambda: read_json(text, "The spec"))
    parses_or_says_why(lambda: parse_spec(text))


# --------------------------------------------------------------------------------------------- answers


@FUZZ
@given(json_values)
def test_any_answers_are_graded_or_refused_with_a_message(answers):
    parses_or_says_why(lambda: grade(preset_spec("lenet-cifar10"), answers))
    parses_or_says_why(lambda: grade(preset_spec("lenet-cifar10"), json.dumps(answers)))


@FUZZ
@given(st.one_of(st.text(max_size=60), scalars, json_values))
def test_any_cell_is_a_count_a_shape_or_a_cell_error(cell):
    parses_or_says_why(lambda: read_count(cell))
    parses_or_says_why(lambda: read_shape(cell))


# ---------------------------------------------------------------------------------------------- config

CONFIG_KEYS = sorted(TrainConfig.__dataclass_fields__)


@FUZZ
@given(st.dictionaries(st.sampled_from(CONFIG_KEYS + ["bogus", "learning_rate"]), json_values, max_size=6))
def test_any_training_configuration_is_valid_or_refused_with_a_message(overrides):
    config = {"arch": "mnist-cnn", "dataset": "synthetic", **overrides}
    parses_or_says_why(lambda: TrainConfig.from_dict(config).validate())


@FUZZ
@given(st.sampled_from(sorted(FIELDS)), st.text(max_size=40))
def test_any_text_in_a_train_page_number_box_is_a_value_or_a_message(name, text):
    parsed = parse_setting(name, text)
    assert parsed.ok or parsed.message
    if parsed.ok:
        field = FIELDS[name]
        assert field.low <= parsed.value <= field.high
