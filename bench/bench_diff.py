"""Benchmark: the cost of ``thidua diff`` over a large corpus, against scoring it once.

Not a test. Run it with ``.venv/bin/python bench/bench_diff.py`` (default
100,000 submissions: 12,500 blocs of 8 units generated with `dsl.gencases`
for khoi3 2023.1, written to a temporary JSONL and streamed back).

Measured, each over the same corpus read from the file:

* score once — every case decided by one version (khoi3 2023.1):
  ``load_case`` + ``evaluate_bloc``, one process;
* diff, 1 process — what ``thidua diff --jobs 1`` does: both versions on
  every case, the per-unit comparison, the summary and the report
  (`dsl.compare.compare_batches` with `dsl.diff_report.ReportWriter`,
  ``--format`` table by default, written to a sink that hashes it);
* diff, 2 processes — the same with ``jobs=2``.

The two diff runs alternate ``--rounds`` times, so a moment of load elsewhere
on the machine does not favour one of them.

Targets (printed as ratios): diff ≤ 2.5 × score-once (CPU time, one process:
running two versions costs two scorings, the comparison must stay small);
2 processes ≥ 1.6 × faster than 1 (wall time; needs two idle cores — the load
average is printed because a busy machine cannot show it, and so is the speedup
the measured CPU times imply for two idle cores). Also printed, from the same
runs: the parent's and the workers' CPU per case, and the bytes a worker sends
back per case.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import pickle
import platform
import resource
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from itertools import islice
from pathlib import Path
from typing import TextIO, cast

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from dsl.bloc import evaluate_bloc
from dsl.case import load_case
from dsl.compare import Comparer, Summary, compare_batches, iter_cases
from dsl.diff import structural_diff
from dsl.diff_report import FORMATS, ReportWriter
from dsl.gencases import dump_case, generate_cases
from dsl.registry import Registry

ROOT = Path(__file__).resolve().parents[1]


class HashSink:
    """A text stream that keeps only the SHA-256 of what is written (the report's bytes)."""

    def __init__(self) -> None:
        self.hash = hashlib.sha256()

    def write(self, text: str) -> int:
        self.hash.update(text.encode("utf-8"))
        return len(text)

    def flush(self) -> None:
        pass


def _timed(run: Callable[[], object]) -> tuple[float, float, float]:
    """(wall seconds, CPU seconds of this process, CPU seconds of its finished children) of ``run``."""

    def children() -> float:
        r = resource.getrusage(resource.RUSAGE_CHILDREN)
        return r.ru_utime + r.ru_stime

    wall, cpu, kids = time.perf_counter(), time.process_time(), children()
    run()
    return time.perf_counter() - wall, time.process_time() - cpu, children() - kids


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--submissions", type=int, default=100_000, help="corpus size in submissions")
    ap.add_argument("--units", type=int, default=8, help="units per bloc")
    ap.add_argument("--seed", type=int, default=2024)
    ap.add_argument("--format", choices=FORMATS, default="table", help="the report written (default table)")
    ap.add_argument("--rounds", type=int, default=3, help="diff runs of each kind, alternated")
    args = ap.parse_args()

    reg = Registry(ROOT / "rulesets")
    old, new = reg.get("khoi3", "2023.1"), reg.get("khoi3", "2024.1")
    structure = structural_diff(old.ruleset, new.ruleset)
    blocs = max(1, args.submissions // args.units)
    total = blocs * args.units
    print(
        f"thidua diff benchmark — {platform.python_implementation()} {platform.python_version()}, "
        f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f}, format {args.format}"
    )
    with tempfile.TemporaryDirectory() as tmp:
        corpus = Path(tmp) / "corpus.jsonl"
        gen_wall, _, _ = _timed(
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
        outcomes: dict[int, tuple[Summary, str]] = {}

        def diff(jobs: int) -> None:
            sink = HashSink()
            writer = ReportWriter(cast(TextIO, sink), args.format, old, new, structure)
            writer.start()
            for batch in compare_batches(comparer, iter_cases([corpus]), writer.encode, jobs=jobs):
                writer.add_batch(batch)
            outcomes[jobs] = (writer.finish(), sink.hash.hexdigest())

        # What a worker sends back per case, over the first 1,000 or so cases: each batch
        # pickled as the pool does, then added (so that the detail section fills as it would).
        sample = ReportWriter(cast(TextIO, HashSink()), args.format, old, new, structure)
        sent = sampled = 0
        for batch in compare_batches(comparer, islice(iter_cases([corpus]), 1000), sample.encode):
            sent += len(pickle.dumps(batch, pickle.HIGHEST_PROTOCOL))
            sampled += len(batch.items)
            sample.add_batch(batch)
        per_case_bytes = sent / sampled

        score_wall, score_cpu, _ = _timed(score_once)
        one: list[tuple[float, float]] = []
        two: list[tuple[float, float, float]] = []
        loads: list[float] = []
        for _ in range(args.rounds):
            wall, cpu, _ = _timed(lambda: diff(1))
            one.append((wall, cpu))
            two.append(_timed(lambda: diff(2)))
            loads.append(os.getloadavg()[0])

    d1_wall = statistics.median(w for w, _ in one)
    d1_cpu = statistics.median(c for _, c in one)
    d2_wall = statistics.median(w for w, _, _ in two)
    d2_parent = statistics.median(p for _, p, _ in two)
    d2_workers = statistics.median(k for _, _, k in two)
    rows = [
        ("score once (1 version, 1 process)", score_wall, score_cpu),
        ("diff (2 versions, 1 process)", d1_wall, d1_cpu),
        ("diff (2 versions, 2 processes)", d2_wall, d2_parent + d2_workers),
    ]
    print(f"{'run (median of rounds)':36} {'wall s':>8} {'cpu s':>8} {'subm./s':>10}")
    for name, wall, cpu in rows:
        print(f"{name:36} {wall:8.2f} {cpu:8.2f} {total / wall:10,.0f}")
    cost = d1_cpu / score_cpu
    speedups = [w1 / w2 for (w1, _), (w2, _, _) in zip(one, two, strict=True)]
    speedup = statistics.median(speedups)
    print(
        f"diff / score-once (CPU, 1 process): {cost:.2f}×  (target ≤ 2.5×) {'OK' if cost <= 2.5 else 'MISSED'}"
    )
    print(
        f"2 processes vs 1 (wall):            {speedup:.2f}×  (target ≥ 1.6×) {'OK' if speedup >= 1.6 else 'MISSED'}"
        f"  rounds: {', '.join(f'{s:.2f}×' for s in speedups)}; load average after each: "
        + ", ".join(f"{x:.2f}" for x in loads)
    )
    # What two idle cores would give. The parent runs beside the two workers on the same two
    # cores, so the wall time is at least half of all the CPU used (and at least the parent's).
    # Printed because a shared, busy machine hides the wall-time speedup.
    bound = max((d2_workers + d2_parent) / 2, d2_parent)
    print(
        f"2 processes, CPU per case: parent {d2_parent / blocs * 1e6:.0f} µs, workers "
        f"{d2_workers / blocs * 1e6:.0f} µs (1 process: {d1_cpu / blocs * 1e6:.0f} µs); "
        f"sent back {per_case_bytes:,.0f} bytes per case → speedup on 2 idle cores ≤ {d1_cpu / bound:.2f}×"
    )
    same = outcomes[1] == outcomes[2]
    print(f"2-process summary and report bytes equal 1-process ones: {same}")
    s = outcomes[1][0]
    print(
        f"diff found: {s.units_changed} of {s.units} units changed, levels {s.levels_up} up / {s.levels_down} down"
    )
    print(f"load average after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
