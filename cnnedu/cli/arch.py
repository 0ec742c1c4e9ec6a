"""Commands: presets, summary, check (the ``COMMANDS`` table at the end; cnnedu/cli/main.py reads it)."""

from __future__ import annotations

import argparse
import sys

from cnnedu.arch.analysis import Analysis, analyze, human_bytes, human_count
from cnnedu.arch.nets import count_params, trace
from cnnedu.arch.spec import Spec, parse_spec
from cnnedu.arch.zoo import PRESETS, resolve_arch
from cnnedu.cli.common import Command, print_json
from cnnedu.errors import AnswersError, SpecError
from cnnedu.userinput import read_json, read_text_file


def _arch_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("arch", metavar="ID|spec.json", help="a preset id (see `presets`) or a spec file")


def _json_flag(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")


# ------------------------------------------------------------------------------------------- presets


def presets(args: argparse.Namespace) -> int:
    items = []
    for preset in PRESETS.values():
        spec = preset.spec()
        total, _ = count_params(trace(spec).model())
        items.append({"id": preset.id, "title": preset.title, "source": preset.source, "task": preset.task,
                      "dataset": preset.dataset, "input_shape": list(spec.input_shape),
                      "num_classes": spec.num_classes, "params": total})
    if args.json:
        print_json(items)
        return 0
    print(f"{'id':27} {'input':10} {'classes':>7} {'params':>11}  {'dataset':14} source")
    for item in items:
        shape = "×".join(map(str, item["input_shape"]))
        print(f"{item['id']:27} {shape:10} {item['num_classes']:>7} {item['params']:>11,}  {item['dataset']:14} "
              f"{item['source']} {item['task']} — {item['title']}")
    return 0


# ------------------------------------------------------------------------------------------- summary


def _summary_arguments(parser: argparse.ArgumentParser) -> None:
    _arch_argument(parser)
    parser.add_argument("--input", metavar="C,H,W", help="use this input shape instead of the spec's")
    _json_flag(parser)


def _with_input(spec: Spec, text: str | None) -> Spec:
    if not text:
        return spec
    try:
        shape = [int(v) for v in text.replace("x", ",").replace("×", ",").split(",")]
    except ValueError:
        raise SpecError(f"--input must be three numbers C,H,W, e.g. 1,28,28 — got '{text}'.") from None
    return parse_spec({**spec.to_dict(), "input_shape": shape})


def summary(args: argparse.Namespace) -> int:
    result = analyze(_with_input(resolve_arch(args.arch), args.input))
    if args.json:
        print_json(result.to_dict())
    else:
        print(format_table(result))
    return 0 if result.ok else 2


def format_table(result: Analysis) -> str:
    """The analysis as a text table, like torchinfo's, with the formula of every size."""
    def shape(s: tuple[int, ...]) -> str:
        return "×".join(map(str, s))

    spec = result.spec
    lines = [f"{spec.name}: input {shape(spec.input_shape)}, {spec.num_classes} classes", ""]
    header = (f"{'#':>3}  {'layer':24} {'type':18} {'input → output':>26} {'params':>11} {'MACs':>9}  "
              "formula")
    lines += [header, "-" * len(header)]
    for r in result.rows:
        name = r.name if r.depth == 0 else "  └ " + r.name.split(".", 1)[1]
        index = str(r.index) if r.depth == 0 else ""
        sizes = f"{shape(r.input_shape)} → {shape(r.output_shape)}"
        lines.append(f"{index:>3}  {name:24} {r.type:18} {sizes:>26} {r.params:>11,} "
                     f"{human_count(r.macs):>9}  {r.formula}")
    lines.append("-" * len(header))
    for _, message in result.warnings:
        lines.append(f"warning: {message}")
    if result.error is not None:
        lines.append(f"error: {result.error}")
        return "\n".join(lines)
    t = result.totals
    lines += [f"parameters: {t.params:,} (trainable {t.trainable_params:,}; BatchNorm running statistics: "
              f"{t.buffers:,} buffer values, not parameters)",
              f"size of the parameters (fp32): {human_bytes(t.param_bytes)}",
              f"multiply-adds per image: {t.macs:,} ({human_count(t.macs)}; products only, as in the papers)",
              f"multiply-adds per image as torchinfo counts them: {t.macs_torchinfo:,} "
              f"({human_count(t.macs_torchinfo)}; also biases and BatchNorm)",
              f"activation memory per training image: {human_bytes(t.activation_bytes)}"]
    return "\n".join(lines)


# --------------------------------------------------------------------------------------------- check


def _check_arguments(parser: argparse.ArgumentParser) -> None:
    _arch_argument(parser)
    parser.add_argument("answers", help='a JSON file: {"layers": [{"output_shape": [6, 28, 28], '
                        '"params": 456}, {}, ...], "total_params": 62006}')
    _json_flag(parser)


_ANSWERS_FIX = 'It must be JSON like {"layers": [{"output_shape": [6, 28, 28], "params": 456}]}.'


def check(args: argparse.Namespace) -> int:
    from cnnedu.grading.grade import grade

    spec = resolve_arch(args.arch)
    answers = read_json(read_text_file(args.answers, "answers file", AnswersError), f"The answers file {args.answers}",
                        AnswersError, fix=_ANSWERS_FIX)
    report = grade(spec, answers)
    for problem in report.problems:  # the cells that cannot be read; every other cell is still graded
        print(f"error: {problem}", file=sys.stderr)
    if args.json:
        print_json([v.to_dict() for v in report.verdicts])
        return 2 if report.problems else 0
    names = spec.names()
    for v in report.verdicts:
        where = "total" if v.layer is None else f"{v.layer} {names[v.layer]}"
        mark = "✓" if v.ok else "✗"
        print(f"{mark} {where:16} {v.field:13} you: {v.claimed}   correct: {v.correct_text}   ({v.formula})")
        if v.hint or v.note:
            print(f"    {v.hint or v.note}")
    for p in report.problems:
        where = "total" if p.layer is None else f"{p.layer} {p.name}"
        print(f"? {where:16} {p.field:13} you: {p.raw}   not graded: {p.message}")
    right = sum(v.ok for v in report.verdicts)
    unread = f", {len(report.problems)} not graded (cannot be read)" if report.problems else ""
    print(f"\n{right} of {len(report.verdicts)} right{unread}")
    return 2 if report.problems else 0


COMMANDS = (
    Command("presets", "list the coursework architectures and where each comes from", _json_flag, presets),
    Command("summary", "layer-by-layer table: shapes, formulas, parameters, multiply-adds", _summary_arguments,
            summary),
    Command("check", "grade a hand calculation of output shapes and parameter counts", _check_arguments, check),
)
