"""Grading the total parameter count: the sum of the student's own (wrong or missing) layer counts, the
parts left out or added altogether (cnnedu/grading/parts.py), or how far off it is."""

from __future__ import annotations

from typing import Any

from cnnedu.grading.parts import components, find_components
from cnnedu.grading.report import Verdict
from cnnedu.grading.sheet import Mistake, Sheet


def grade_total(sheet: Sheet, raw: Any, claim: int) -> Verdict:
    rows = sheet.rows
    total = sheet.analysis.totals.params
    parts = [r.params for r in rows if r.params]
    formula = (" + ".join(f"{p:,}" for p in parts) + f" = {total:,}") if len(parts) > 1 else f"{total:,}"
    verdict = Verdict(None, "total_params", raw, total, claim == total, formula, name="total")
    if verdict.ok:
        return verdict
    mistakes: list[Mistake] = []
    own = sheet.counts
    if own and sum(own.values()) == claim:
        mistakes.append(_sum_of_wrong_layers(sheet))
    found = find_components(claim, total, components(sheet.analysis.leaf_rows(), layers=rows))
    if found:
        if mistakes:
            found.hint = "Altogether, " + found.hint[0].lower() + found.hint[1:]
        mistakes.append(found)
    if not mistakes:
        diff = claim - total
        own_sum = sum(own.values()) if own else None
        slip = (f" (your layer counts add up to {own_sum:,})" if own_sum is not None and len(own) > 1 else "")
        mistakes.append(Mistake("count", f"Your total is {abs(diff):,} {'too many' if diff > 0 else 'too few'}"
                                f"{slip}; add up the parameters of every layer: {formula}."))
    verdict.mistakes = [m.tag for m in mistakes]
    verdict.hint = " ".join(m.hint for m in mistakes)
    return verdict


def _sum_of_wrong_layers(sheet: Sheet) -> Mistake:
    """The total is the sum of the student's layer counts: name the wrong ones and the ones left out."""
    rows, own = sheet.rows, sheet.counts
    wrong = [i for i in sorted(own) if own[i] != rows[i].params]
    missing = [i for i in range(len(rows)) if rows[i].params and i not in own]
    text = []
    if wrong:
        listed = ", ".join(f"{sheet.names[i]} ({own[i]:,}, should be {rows[i].params:,})" for i in wrong)
        text.append(f"Your total adds up your layer counts correctly, but {len(wrong)} of them "
                    f"{'is' if len(wrong) == 1 else 'are'} wrong: {listed}.")
    if missing:
        listed = ", ".join(f"{sheet.names[i]} ({rows[i].params:,})" for i in missing)
        text.append(f"{'It' if wrong else 'Your total adds up your layer counts, but it'} leaves out "
                    f"layers that have parameters too: {listed}.")
    return Mistake("sum_of_wrong_layers", " ".join(text))
