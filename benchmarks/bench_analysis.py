"""How long the layer table takes: ``analyze(spec)`` for every preset, next to two baselines.

The Build page re-analyses the spec on every edit, so analysis must feel instant (budget: 100 ms for the
largest preset). Each figure is the median of several runs after a warm-up, measured side by side in one
process:

* ``analyze``: the whole table (shapes measured on the meta device, formulas, params, MACs, memory);
* ``trace``: only walking the layers on the meta device (what ``analyze`` cannot avoid);
* ``build``: ``build_model`` on the CPU, real weights initialised: what the same spec costs when a
  network is really made (the baseline the ratio is taken against).

Usage: ``python benchmarks/bench_analysis.py [--runs 7] [--budget-ms 100]`` (exit status 1 when the
largest median is over the budget).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import torch  # noqa: E402
from timing import median_ms  # noqa: E402  (benchmarks/timing.py, beside this script)

from cnnedu.arch.analysis import analyze  # noqa: E402
from cnnedu.arch.nets import build_model, trace  # noqa: E402
from cnnedu.arch.zoo import PRESETS, preset_spec  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--budget-ms", type=float, default=100.0)
    args = parser.parse_args()
    torch.set_num_threads(1)  # the machine is shared; one thread gives steadier figures

    print(f"torch {torch.__version__}, {args.runs} runs per figure (median), CPU threads: 1\n")
    header = f"{'preset':27} {'params':>10} {'analyze ms':>11} {'trace ms':>9} {'build ms':>9} {'analyze/build':>14}"
    print(header)
    print("-" * len(header))
    worst = ("", 0.0)
    for preset_id in PRESETS:
        spec = preset_spec(preset_id)
        result = analyze(spec)
        t_analyze = median_ms(lambda spec=spec: analyze(spec), args.runs)
        t_trace = median_ms(lambda spec=spec: trace(spec), args.runs)
        t_build = median_ms(lambda spec=spec: build_model(spec), args.runs)
        print(f"{preset_id:27} {result.totals.params:>10,} {t_analyze:>11.1f} {t_trace:>9.1f} {t_build:>9.1f} "
              f"{t_analyze / t_build:>13.2f}×")
        if t_analyze > worst[1]:
            worst = (preset_id, t_analyze)
    verdict = "within" if worst[1] <= args.budget_ms else "OVER"
    print(f"\nslowest: {worst[0]} at {worst[1]:.1f} ms, {verdict} the {args.budget_ms:.0f} ms budget")
    return 0 if worst[1] <= args.budget_ms else 1


if __name__ == "__main__":
    sys.exit(main())
