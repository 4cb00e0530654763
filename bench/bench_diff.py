"""Benchmark: the cost of ``thidua diff`` over a large corpus, against scoring it once.

Not a test. Run it with ``.venv/bin/python bench/bench_diff.py`` (default
100,000 submissions: 12,500 blocs of 8 units generated with `dsl.gencases`
for khoi3 2023.1, written to a temporary JSONL and streamed back).

Measured, each over the same corpus read from the file:

* score once — every case decided by one version (khoi3 2023.1):
  ``load_case`` + ``evaluate_bloc``, one process;
* diff, 1 process — `dsl.compare.compare_corpus` with ``jobs=1``: both
  versions on every case, the per-unit comparison and the summary;
* diff, 2 processes — the same with ``jobs=2``.

Targets (printed as ratios): diff ≤ 2.5 × score-once (CPU time, one process:
running two versions costs two scorings, the comparison must stay small);
2 processes ≥ 1.6 × faster than 1 (wall time; needs two idle cores — the load
average is printed because a busy machine cannot show it, and so is the speedup
the measured CPU times imply for two idle cores).
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from dsl.bloc import evaluate_bloc
from dsl.case import load_case
from dsl.compare import Comparer, Summary, compare_corpus, iter_cases
from dsl.gencases import dump_case, generate_cases
from dsl.registry import Registry

ROOT = Path(__file__).resolve().parents[1]


def _timed(run: object) -> tuple[float, float]:
    """(wall seconds, CPU seconds of this process) of calling ``run``."""
    assert callable(run)
    wall, cpu = time.perf_counter(), time.process_time()
    run()
    return time.perf_counter() - wall, time.process_time() - cpu


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--submissions", type=int, default=100_000, help="corpus size in submissions")
    ap.add_argument("--units", type=int, default=8, help="units per bloc")
    ap.add_argument("--seed", type=int, default=2024)
    args = ap.parse_args()

    reg = Registry(ROOT / "rulesets")
    old, new = reg.get("khoi3", "2023.1"), reg.get("khoi3", "2024.1")
    blocs = max(1, args.submissions // args.units)
    total = blocs * args.units
    print(
        f"thidua diff benchmark — {platform.python_implementation()} {platform.python_version()}, "
        f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f}"
    )
    with tempfile.TemporaryDirectory() as tmp:
        corpus = Path(tmp) / "corpus.jsonl"
        gen_wall, _ = _timed(
            lambda: corpus.write_text(
                "".join(
                    dump_case(c) + "\n"
                    for c in generate_cases(old.ruleset, blocs=blocs, units=args.units, seed=args.seed)
                ),
                encoding="utf-8",
            )
        )
        print(
            f"corpus: {blocs} blocs × {args.units} units = {total} submissions, generated in {gen_wall:.1f} s"
        )

        def score_once() -> None:
            for item in iter_cases([corpus]):
                evaluate_bloc(old, load_case(item.text, item.label))

        comparer = Comparer(old, new)
        summaries: dict[int, Summary] = {}

        def diff(jobs: int) -> None:
            summary = Summary()
            for case in compare_corpus(comparer, iter_cases([corpus]), jobs=jobs, chunksize=32):
                summary.add(case)
            summaries[jobs] = summary

        score_wall, score_cpu = _timed(score_once)
        d1_wall, d1_cpu = _timed(lambda: diff(1))
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        d2_wall, d2_parent_cpu = _timed(lambda: diff(2))
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        d2_workers_cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)

    same = summaries[1] == summaries[2]
    rows = [
        ("score once (1 version, 1 process)", score_wall, score_cpu),
        ("diff (2 versions, 1 process)", d1_wall, d1_cpu),
        ("diff (2 versions, 2 processes)", d2_wall, d2_parent_cpu + d2_workers_cpu),
    ]
    print(f"{'run':36} {'wall s':>8} {'cpu s':>8} {'subm./s':>10}")
    for name, wall, cpu in rows:
        print(f"{name:36} {wall:8.2f} {cpu:8.2f} {total / wall:10,.0f}")
    cost = d1_cpu / score_cpu
    speedup = d1_wall / d2_wall
    print(
        f"diff / score-once (CPU, 1 process): {cost:.2f}×  (target ≤ 2.5×) {'OK' if cost <= 2.5 else 'MISSED'}"
    )
    print(
        f"2 processes vs 1 (wall):            {speedup:.2f}×  (target ≥ 1.6×) {'OK' if speedup >= 1.6 else 'MISSED'}"
    )
    # What two idle cores would give: the workers share the CPU work evenly (equal chunks),
    # the parent only reads lines and adds up results. Printed because a shared, busy
    # machine hides the wall-time speedup.
    busiest = max(d2_workers_cpu / 2, d2_parent_cpu)
    print(
        f"2 processes, CPU: parent {d2_parent_cpu:.2f} s, workers {d2_workers_cpu:.2f} s "
        f"(1 process: {d1_cpu:.2f} s) → expected speedup on 2 idle cores {d1_cpu / busiest:.2f}×"
    )
    print(f"2-process summary equals 1-process summary: {same}")
    s = summaries[1]
    print(
        f"diff found: {s.units_changed} of {s.units} units changed, levels {s.levels_up} up / {s.levels_down} down"
    )
    print(f"load average after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
