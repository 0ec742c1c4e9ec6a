"""The mistakes in the height and width after a sliding-window layer (Conv2d, MaxPool2d, AvgPool2d):
each slip (padding left out, stride left out, the kernel size taken as the stride, padding "same"
assumed, the + 1 forgotten, the wrong input size, ...) is recomputed and compared with the claim."""

from __future__ import annotations

from typing import Any

from cnnedu.arch.layers.registry import settings as layer_settings
from cnnedu.arch.spec import pair
from cnnedu.arch.window import window_output
from cnnedu.grading.sheet import Mistake, Sheet
from cnnedu.grading.text import hw_text, kernel_text, pair_text

Settings = tuple[tuple[int, int], ...]  # (kernel, stride, padding, dilation, ceil) as (h, w) pairs


def window_mistake(sheet: Sheet, i: int, claim_hw: tuple[int, ...]) -> list[Mistake]:
    """The slip that turns the right size into the student's; when several slips give the same number
    (leaving out padding 1 at stride 2 and forgetting the + 1 both give 15 for 16), all of them."""
    row, name, layer = sheet.rows[i], sheet.names[i], sheet.spec.layers[i]
    in_hw, out_hw = row.input_shape[1:], row.output_shape[1:]
    is_pool = layer["type"] != "Conv2d"
    settings = _window_settings(layer)
    if settings is None:  # padding "same"
        return [Mistake("same_padding", f'padding="same" adds just enough zeros to keep the size: '
                        f"{hw_text(in_hw)} stays {hw_text(out_hw)}.")]
    k, s, p, d, ceil = settings
    claim_hw = tuple(claim_hw)
    if is_pool and claim_hw == in_hw:
        return [Mistake("pool_ignored", f"You left the size unchanged, as if there were no pooling: {name} "
                        f"({kernel_text(k)} windows, stride {pair_text(s)}) shrinks {hw_text(in_hw)} to "
                        f"{hw_text(out_hw)}.")]
    wrong_input = _wrong_input(sheet, i, claim_hw, settings)
    if wrong_input:
        return [wrong_input]
    found = [m for m, size in _window_slips(sheet, i, settings) if size == claim_hw]
    if any(m.tag == "same_padding_assumed" for m in found):  # "divided by the stride" is the same story
        found = [m for m in found if m.tag != "divided_only"]
    if not found:
        return [Mistake("size", f"{name} receives {hw_text(in_hw)}; the formula gives {hw_text(out_hw)}.")]
    if len(found) > 1:
        found[0].hint = (f"{len(found)} different slips give {hw_text(claim_hw)}; check which one you made. "
                         + found[0].hint)
        for m in found[1:]:
            m.hint = "Or " + m.hint[0].lower() + m.hint[1:]
    return found


def _window_settings(layer: dict[str, Any]) -> Settings | None:
    """(kernel, stride, padding, dilation, ceil) as (h, w) pairs; None for padding "same"."""
    p = layer_settings(layer)  # a pool given no stride steps by its kernel (the registry says so, once)
    if p.get("padding") == "same":
        return None
    padding = (0, 0) if p.get("padding") == "valid" else pair(p["padding"])
    ceil = 1 if p.get("ceil_mode") else 0
    return (pair(p["kernel_size"]), pair(p["stride"]), padding, pair(p.get("dilation", 1)), (ceil, ceil))


def _window(hw: tuple[int, ...], k: tuple[int, int], s: tuple[int, int], p: tuple[int, int],
            d: tuple[int, int], ceil: tuple[int, int]) -> tuple[int, int] | None:
    out = tuple(window_output(hw[a], k[a], s[a], p[a], d[a], bool(ceil[a])) for a in (0, 1))
    return out if min(out) >= 1 else None


def _window_slips(sheet: Sheet, i: int, settings: Settings) -> list[tuple[Mistake, tuple[int, int] | None]]:
    """Each slip a student makes with a conv or pool size, and the size it gives."""
    row, name, layer = sheet.rows[i], sheet.names[i], sheet.spec.layers[i]
    in_hw, out_hw = row.input_shape[1:], row.output_shape[1:]
    k, s, p, d, ceil = settings
    formula = f"⌊({in_hw[0]} − {k[0]} + 2·{p[0]})/{s[0]}⌋ + 1 = {out_hw[0]}"
    out: list[tuple[Mistake, tuple[int, int] | None]] = []
    if p != (0, 0):
        out.append((Mistake("padding_ignored", f"You left out the padding: {name} pads {pair_text(p)} pixel(s) "
                            f"on each side, which is the + 2·{pair_text(p)} in the formula."),
                    _window(in_hw, k, s, (0, 0), d, ceil)))
    if s != (1, 1):
        out.append((Mistake("stride_ignored", f"You left out the stride: {name} moves {pair_text(s)} pixels at "
                            f"a time, so divide by {pair_text(s)} before the + 1."),
                    _window(in_hw, k, (1, 1), p, d, ceil)))
    if s != k and k != (1, 1):  # (a 1×1 kernel as the stride is the stride left out)
        default = ("a pooling layer's stride is its kernel size only when no stride is given"
                   if layer["type"] != "Conv2d" else "only a pooling layer's stride defaults to its kernel size")
        out.append((Mistake("stride_is_kernel", f"You used the kernel size {pair_text(k)} as the stride: {name} "
                            f"moves {pair_text(s)} pixel(s) at a time ({default})."),
                    _window(in_hw, k, k, p, d, ceil)))
    if d != (1, 1):
        span = pair_text(tuple(d[a] * (k[a] - 1) + 1 for a in (0, 1)))
        out.append((Mistake("dilation_ignored", f"You left out the dilation: {name}'s taps are {pair_text(d)} "
                            f"apart, so its {kernel_text(k)} kernel spans {span} pixels."),
                    _window(in_hw, k, s, p, (1, 1), ceil)))
    rounding = ("You rounded down, but ceil_mode=True rounds the division up." if ceil[0]
                else "You rounded up, but PyTorch rounds the division down (⌊ ⌋) unless ceil_mode=True.")
    out.append((Mistake("rounding", rounding), _window(in_hw, k, s, p, d, tuple(1 - c for c in ceil))))
    out.append((Mistake("off_by_one", f"You forgot the + 1: the first window sits at position 0, so {name} "
                        f"fits {formula} windows."), tuple(out_hw[a] - 1 for a in (0, 1))))
    if layer["type"] == "Conv2d":
        out.append(_same_padding_assumed(name, in_hw, s, p, formula))
    if s != (1, 1):
        out.append((Mistake("divided_only", f"You only divided by the stride; the kernel size counts too: "
                            f"{formula}."), tuple(in_hw[a] // s[a] for a in (0, 1))))
    return out


def _same_padding_assumed(name: str, in_hw: tuple[int, ...], s: tuple[int, int], p: tuple[int, int],
                          formula: str) -> tuple[Mistake, tuple[int, int]]:
    """A conv computed as if it had padding "same": the size kept, or divided by the stride (rounded up)."""
    same = tuple(-(-in_hw[a] // s[a]) for a in (0, 1))
    rule = f"{hw_text(in_hw)} stays" if s == (1, 1) else f"{hw_text(in_hw)} divided by the stride, rounded up, is"
    return (Mistake("same_padding_assumed", f'You computed it as if {name} had padding "same" ({rule} '
                    f"{hw_text(same)}), but its padding is {pair_text(p)}, so the kernel shrinks the size: "
                    f"{formula}."), same)


def _wrong_input(sheet: Sheet, i: int, claim_hw: tuple[int, ...], settings: Settings) -> Mistake | None:
    """The right formula applied to the wrong size: an earlier layer's input or output."""
    rows, names = sheet.rows, sheet.names
    in_hw = rows[i].input_shape[1:]
    sources = [(-1, tuple(sheet.spec.input_shape[1:]))]
    sources += [(m, rows[m].output_shape[1:]) for m in range(i) if len(rows[m].output_shape) == 3]
    changers = [m for m in range(i) if len(rows[m].output_shape) == 3
                and rows[m].output_shape[1:] != rows[m].input_shape[1:]]
    verb = "pooled" if sheet.spec.layers[i]["type"] != "Conv2d" else f"applied {names[i]}'s filter to"
    for m, hw in reversed(sources):
        if hw == in_hw or _window(hw, *settings) != claim_hw:
            continue
        skipped = [n for n in changers if n > m]
        if len(skipped) == 1:
            n = skipped[0]
            return Mistake("wrong_input", f"You {verb} the {hw_text(hw)} input of {names[n]} instead of its "
                           f"{hw_text(rows[n].output_shape)} output: {names[i]} comes after {names[n]}, so it "
                           f"receives {hw_text(in_hw)}.")
        where = "the network's input" if m < 0 else f"the output of {names[m]}"
        left_out = ", ".join(f"{names[n]} ({hw_text(rows[n].input_shape)} → {hw_text(rows[n].output_shape)})"
                             for n in skipped)
        return Mistake("wrong_input", f"You started from {hw_text(hw)}, {where}, and left out {left_out}: "
                       f"{names[i]} receives {hw_text(in_hw)}.")
    return None
