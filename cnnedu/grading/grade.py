"""Grading a hand calculation: a student's output shapes and parameter counts, checked against PyTorch.

Every claim gets a ``Verdict`` (cnnedu/grading/report.py): right or wrong, the correct value, the formula
with the numbers in it (from cnnedu/arch/analysis.py), and, for a wrong claim, the *likely mistake* in
words a student understands. Mistakes are found the simple way: each detector (shapes.py, windows.py,
params.py, totals.py) recomputes the value under one mistaken assumption ("forgot the bias", "used the
network's input channels", "pooled the conv's input instead of its output") and checks whether that gives
the student's number. The first detector that reproduces it names it.

The answers format is described in cnnedu/grading/read.py; one cell is read by cnnedu/grading/cells.py.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from cnnedu.arch.analysis import analyze
from cnnedu.arch.spec import Spec, parse_spec
from cnnedu.grading.cells import read_count, read_shape
from cnnedu.grading.limits import CellError
from cnnedu.grading.params import grade_params
from cnnedu.grading.read import Cells, read_answers
from cnnedu.grading.report import FIELDS, Problem, Report, Verdict
from cnnedu.grading.shapes import grade_shape, judge_shape, writes_channels_last
from cnnedu.grading.sheet import Sheet
from cnnedu.grading.totals import grade_total


def grade(spec: Spec | dict[str, Any] | str, answers: dict[str, Any] | list[Any] | str) -> Report:
    """Grade a hand calculation (see cnnedu/grading/read.py for the answers format).

    A cell that cannot be read ("abc", "5²") becomes a ``Problem`` of the report, naming the layer and the
    cell; every other cell is still graded. Raises ``AnswersError`` only for answers whose structure cannot
    be read (not JSON, an unknown layer or key), and the spec's ``ArchitectureError`` when its layers do not
    fit together (there is no truth to grade against then).
    """
    spec = parse_spec(spec)
    analysis = analyze(spec)
    if analysis.error is not None:
        raise analysis.error
    names = spec.names()
    per_layer, total = read_answers(answers, names)
    sheet = Sheet(spec, analysis, analysis.top_rows(), names)
    problems: list[Problem] = []
    read = _CellReader(names, problems)
    _read_claims(sheet, per_layer, read)
    verdicts: list[Verdict] = []
    for i in sorted(per_layer):
        if i in sheet.written:
            verdicts.append(grade_shape(sheet, i, per_layer[i]["output_shape"]))
        if i in sheet.counts:
            verdicts.append(grade_params(sheet, i, per_layer[i]["params"]))
    total_count = read(read_count, total, None, "total_params")
    if total_count is not None:
        verdicts.append(grade_total(sheet, total, total_count))
    order = {i: n for n, i in enumerate(sorted(per_layer))}
    problems.sort(key=lambda p: (len(order) if p.layer is None else order[p.layer], FIELDS.index(p.field)))
    return Report(spec, verdicts, problems)


class _CellReader:
    """Reads one cell; a cell that cannot be read becomes a ``Problem`` (and None)."""

    def __init__(self, names: list[str], problems: list[Problem]):
        self.names = names
        self.problems = problems

    def __call__(self, reader: Callable[[Any], Any], raw: Any, layer: int | None, what: str) -> Any:
        try:
            return reader(raw)
        except CellError as err:
            self.problems.append(Problem(layer, what, raw, err.message, err.fix or "",
                                         "total" if layer is None else self.names[layer]))
            return None


def _read_claims(sheet: Sheet, per_layer: Cells, read: _CellReader) -> None:
    """The readable shapes (as written and in PyTorch's order) and counts, onto the sheet."""
    raw_shapes = {i: read(read_shape, a.get("output_shape"), i, "output_shape") for i, a in per_layer.items()}
    raw_shapes = {i: s for i, s in raw_shapes.items() if s is not None}
    sheet.channels_last = writes_channels_last(sheet, raw_shapes)
    for i in sorted(raw_shapes):
        sheet.written[i] = raw_shapes[i]
        sheet.shape_ok[i], _, sheet.shapes[i] = judge_shape(sheet, i, raw_shapes[i])
    for i, a in per_layer.items():
        count = read(read_count, a.get("params"), i, "params")
        if count is not None:
            sheet.counts[i] = count
