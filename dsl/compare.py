"""Behavioural diff: two ruleset versions run on the same bloc cases, unit by unit.

This module owns running OLD and NEW on each case (`dsl.bloc.evaluate_bloc`)
and the data model of what changed: per unit the score, level, rank, title
statuses and the criteria that moved (`UnitDiff`); per case the rotation
(`CaseDiff`); over a whole corpus the counts (`Summary`). Rendering is
`dsl.diff_report`'s job; the command line is `service.commands.diff`.

Cases written for one version meet the other:

* an input the case gives but a version does not declare is dropped for that
  version and counted in the notes (`Summary.ignored_inputs`);
* a unit whose submission a version rejects (an input it needs is missing,
  a value out of its range) is an error for that unit under that version —
  reported, not fatal: the rest of the bloc is decided without it (a current
  or elected holder so dropped is left out of the rotation context);
* a case that is not a valid bloc at all, or whose evaluation fails
  (division by zero, no rotation candidate), is an error of that case.

Large corpora: cases are read lazily (`iter_cases`: a ``.json`` file is one
case, a ``.jsonl`` file one case per line, a folder every such file in name
order) and diffed in worker processes (`compare_batches`), in order, a chunk
at a time, so memory stays flat whatever the corpus size. A worker sends back
only a digest of each case (the report's pre-rendered text) and the chunk's
`Summary`, so that the parent, which shares the CPUs with the workers, has
almost nothing to do per case.
"""

from __future__ import annotations

import dataclasses
import gc
import multiprocessing
import os
import re
from collections import Counter, deque
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from itertools import chain, islice
from multiprocessing.pool import AsyncResult
from pathlib import Path
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from dsl import nodes as n
from dsl.case import Case, Holders, Submission, check_case, read_json
from dsl.errors import EvaluationError, FieldViolation, InputError, ThiduaError
from dsl.results import AWARDED, BlocResult, UnitResult

if TYPE_CHECKING:
    from dsl.api import CompiledRuleset

OLD, NEW = 0, 1
_UNIT_IN_PATH = re.compile(r"^submissions\[\d+\]\((?P<unit>[^)]*)\)")


# ------------------------------------------------------------------ the model


@dataclass(frozen=True, slots=True)
class UnitSide:
    """One unit's outcome under one version (or the error that prevented it).

    Only the headline numbers: what moved in titles and criteria is in `UnitDiff`,
    which keeps results small to send back from worker processes.
    """

    score: Decimal | None = None
    level: str | None = None
    rank: int | None = None
    error: str | None = None


@dataclass(frozen=True, slots=True)
class CriterionMove:
    """A criterion whose points differ; None on the side that does not have it."""

    name: str
    old: Decimal | None
    new: Decimal | None

    @property
    def delta(self) -> Decimal:
        return (self.new or Decimal(0)) - (self.old or Decimal(0))


@dataclass(frozen=True, slots=True)
class UnitDiff:
    """What changed for one unit of one case. ``level_move`` is +1 up, -1 down, 0 same."""

    unit: str
    old: UnitSide
    new: UnitSide
    level_move: int
    titles: tuple[tuple[str, str | None, str | None], ...]
    criteria: tuple[CriterionMove, ...]

    @property
    def score_delta(self) -> Decimal | None:
        if self.old.score is None or self.new.score is None:
            return None
        return self.new.score - self.old.score

    @property
    def level_changed(self) -> bool:
        return self.old.level != self.new.level

    @property
    def rank_changed(self) -> bool:
        return self.old.rank != self.new.rank

    @property
    def changed(self) -> bool:
        return (
            self.old.score != self.new.score
            or self.level_changed
            or self.rank_changed
            or bool(self.titles)
            or bool(self.criteria)
            or self.old.error != self.new.error
        )


@dataclass(frozen=True, slots=True)
class CaseDiff:
    """One case under both versions. ``error`` is (old, new) case-level errors (None when fine);
    ``rotation`` is ((old leader, old deputy), (new leader, new deputy))."""

    label: str
    bloc: str | None
    period: str | None
    units: tuple[UnitDiff, ...]
    rotation: tuple[tuple[str | None, str | None], tuple[str | None, str | None]]
    error: tuple[str | None, str | None] = (None, None)
    ignored: tuple[tuple[int, str, int], ...] = ()  # (side, input, submissions)

    @property
    def rotation_changed(self) -> bool:
        return self.rotation[0] != self.rotation[1]

    @property
    def changed(self) -> bool:
        return self.rotation_changed or self.error[0] != self.error[1] or any(u.changed for u in self.units)


@dataclass
class Summary:
    """Counts over every case diffed so far; `add` one `CaseDiff` at a time."""

    cases: int = 0
    cases_changed: int = 0
    case_errors: list[int] = field(default_factory=lambda: [0, 0])
    units: int = 0
    units_changed: int = 0
    unit_errors: list[int] = field(default_factory=lambda: [0, 0])
    score_up: int = 0
    score_down: int = 0
    levels_up: int = 0
    levels_down: int = 0
    level_moves: Counter[tuple[str, str]] = field(default_factory=Counter)
    titles_gained: Counter[str] = field(default_factory=Counter)
    titles_lost: Counter[str] = field(default_factory=Counter)
    title_changes: int = 0
    rotation_changes: int = 0
    criteria_moved: Counter[str] = field(default_factory=Counter)
    ignored_inputs: Counter[tuple[int, str]] = field(default_factory=Counter)

    def add(self, case: CaseDiff) -> None:
        self.cases += 1
        self.cases_changed += case.changed
        for side in (OLD, NEW):
            self.case_errors[side] += case.error[side] is not None
        self.rotation_changes += case.rotation_changed
        for side, name, count in case.ignored:
            self.ignored_inputs[(side, name)] += count
        for u in case.units:
            self.units += 1
            self.unit_errors[OLD] += u.old.error is not None
            self.unit_errors[NEW] += u.new.error is not None
            if not u.changed:
                continue
            self.units_changed += 1
            delta = u.score_delta
            if delta is not None:
                self.score_up += delta > 0
                self.score_down += delta < 0
            if u.level_changed and u.old.level and u.new.level:
                self.level_moves[(u.old.level, u.new.level)] += 1
                self.levels_up += u.level_move > 0
                self.levels_down += u.level_move < 0
            self.title_changes += bool(u.titles)
            for title, before, after in u.titles:
                if after == AWARDED:
                    self.titles_gained[title] += 1
                elif before == AWARDED:
                    self.titles_lost[title] += 1
            for move in u.criteria:
                self.criteria_moved[move.name] += 1

    def merge(self, other: Summary) -> None:
        """Add the counts of ``other`` (cases summed elsewhere, e.g. by a worker) to these."""
        for f in dataclasses.fields(self):
            mine, theirs = getattr(self, f.name), getattr(other, f.name)
            if isinstance(mine, Counter):
                mine.update(theirs)
            elif isinstance(mine, list):
                mine[:] = [a + b for a, b in zip(mine, theirs, strict=True)]
            else:
                setattr(self, f.name, mine + theirs)

    def fails(self, fail_on: str | None) -> bool:
        """Whether a ``--fail-on`` condition (any | level | title) is met."""
        if fail_on == "any":
            return self.cases_changed > 0
        if fail_on == "level":
            return sum(self.level_moves.values()) > 0
        if fail_on == "title":
            return self.title_changes > 0
        return False


# ------------------------------------------------------------------ reading cases


@dataclass(frozen=True, slots=True)
class CaseText:
    """One case as read: a label saying where it came from (``file`` or ``file:LINE``) and its JSON."""

    label: str
    text: str


def iter_cases(paths: Iterable[str | os.PathLike[str]]) -> Iterator[CaseText]:
    """Cases from files and folders, lazily: ``.json`` one case, ``.jsonl`` one per non-blank line,
    a folder every ``.json``/``.jsonl`` file under it in name order. Raises `OSError` for a missing path."""
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            files = sorted(p for p in path.rglob("*") if p.suffix in (".json", ".jsonl") and p.is_file())
            yield from iter_cases(files)
        elif path.suffix == ".jsonl":
            with path.open(encoding="utf-8") as fh:
                for lineno, line in enumerate(fh, start=1):
                    if line.strip():
                        yield CaseText(f"{path}:{lineno}", line)
        else:
            yield CaseText(str(path), path.read_text(encoding="utf-8"))


# ------------------------------------------------------------------ diffing


class Comparer:
    """Diffs cases between two compiled versions; holds what is computed once per version."""

    def __init__(self, old: CompiledRuleset, new: CompiledRuleset) -> None:
        self.versions = (old, new)
        self.declared = tuple(frozenset(i.name for i in c.ruleset.inputs) for c in self.versions)
        self.level_order = _level_order(old.ruleset, new.ruleset)
        # UnitResult.criteria holds the groups' criteria; bonus and penalty criteria
        # moved too, so their points are read from the unit's values.
        self.extra_criteria = tuple(_bonus_penalty_criteria(c.ruleset) for c in self.versions)

    def compare_text(self, item: CaseText) -> CaseDiff:
        """Diff one case given as JSON text; problems become errors in the result, never exceptions."""
        try:
            data = read_json(item.text, item.label)
        except InputError as exc:
            return _case_error(item.label, None, None, _violations(exc))
        return self.compare(item.label, data)

    def compare(self, label: str, data: Any) -> CaseDiff:
        """Diff one CASE mapping (numbers as `Decimal`)."""
        case, problems = check_case(data)
        if problems:
            return _case_error(label, case.bloc, case.period, _words(problems))
        results: list[BlocResult | None] = [None, None]
        errors: list[str | None] = [None, None]
        unit_errors: list[dict[str, str]] = [{}, {}]
        ignored: list[tuple[int, str, int]] = []
        for side in (OLD, NEW):
            own, dropped = self._own_inputs(case, side)
            ignored.extend((side, name, count) for name, count in sorted(dropped.items()))
            results[side], errors[side], unit_errors[side] = self._evaluate(side, own)
        units = self._unit_diffs(case, results, unit_errors)
        rotation = (_rotation(results[OLD]), _rotation(results[NEW]))
        return CaseDiff(
            label, case.bloc, case.period, units, rotation, (errors[0], errors[1]), tuple(ignored)
        )

    def _own_inputs(self, case: Case, side: int) -> tuple[Case, Counter[str]]:
        """The case with every input this version does not declare dropped (and counted)."""
        declared = self.declared[side]
        dropped: Counter[str] = Counter()
        subs: list[Submission] = []
        for s in case.submissions:
            extra = s.inputs.keys() - declared
            if extra:
                dropped.update(extra)
                # Built directly: dataclasses.replace costs more than the rest of this loop.
                s = Submission(
                    unit=s.unit,
                    inputs={k: v for k, v in s.inputs.items() if k in declared},
                    stage=s.stage,
                    index=s.index,
                )
            subs.append(s)
        if not dropped:
            return case, dropped
        return (
            Case(
                members=case.members,
                submissions=tuple(subs),
                ruleset=case.ruleset,
                bloc=case.bloc,
                period=case.period,
                current=case.current,
                elected=case.elected,
                history=case.history,
            ),
            dropped,
        )

    def _evaluate(self, side: int, case: Case) -> tuple[BlocResult | None, str | None, dict[str, str]]:
        """Decide the bloc; units this version rejects are set aside with their errors."""
        from dsl.bloc import evaluate_bloc

        compiled = self.versions[side]
        try:
            return evaluate_bloc(compiled, case), None, {}
        except InputError as exc:
            per_unit = _errors_by_unit(exc.violations)
        except (EvaluationError, ThiduaError) as exc:
            return None, str(exc), {}
        if not per_unit or "" in per_unit:
            return None, "; ".join(per_unit.values()) or "invalid case", {}
        keep = tuple(u for u in case.members if u not in per_unit)
        if not keep:
            return None, None, per_unit
        reduced = dataclasses.replace(
            case,
            members=keep,
            submissions=tuple(s for s in case.submissions if s.unit not in per_unit),
            current=_without(case.current, per_unit),
            elected=_without(case.elected, per_unit),
        )
        try:
            return evaluate_bloc(compiled, reduced), None, per_unit
        except (InputError, EvaluationError, ThiduaError) as exc:
            return None, str(exc), per_unit

    def _unit_diffs(
        self, case: Case, results: Sequence[BlocResult | None], unit_errors: Sequence[Mapping[str, str]]
    ) -> tuple[UnitDiff, ...]:
        sides: list[dict[str, UnitResult]] = [
            {u.unit or "": u for u in r.units} if r is not None else {} for r in results
        ]
        # Units in the old ranking's order, then any the old version could not place.
        first = results[OLD]
        order = [u.unit or "" for u in first.units] if first is not None else []
        placed = set(order)
        order += [m for m in case.members if m not in placed]
        out: list[UnitDiff] = []
        for unit in order:
            old, old_titles, old_points = _side(
                sides[OLD].get(unit), unit_errors[OLD].get(unit), self.extra_criteria[OLD]
            )
            new, new_titles, new_points = _side(
                sides[NEW].get(unit), unit_errors[NEW].get(unit), self.extra_criteria[NEW]
            )
            out.append(self._unit_diff(unit, old, new, (old_titles, new_titles), (old_points, new_points)))
        return tuple(out)

    def _unit_diff(
        self,
        unit: str,
        old: UnitSide,
        new: UnitSide,
        titles_by_side: tuple[Mapping[str, str], Mapping[str, str]],
        points_by_side: tuple[Mapping[str, Decimal], Mapping[str, Decimal]],
    ) -> UnitDiff:
        if old.error is not None or new.error is not None:
            # One side has no outcome: its titles and criteria are unknown, not changed.
            return UnitDiff(unit, old, new, 0, (), ())
        ot, nt = titles_by_side
        titles = tuple((t, ot.get(t), nt.get(t)) for t in dict.fromkeys([*ot, *nt]) if ot.get(t) != nt.get(t))
        # A criterion only one version has counts as 0 points in the other: it moved
        # only if it gives (or gave) the unit points.
        zero = Decimal(0)
        op, np_ = points_by_side
        moves = tuple(
            CriterionMove(c, op.get(c), np_.get(c))
            for c in dict.fromkeys([*op, *np_])
            if op.get(c, zero) != np_.get(c, zero)
        )
        level_move = 0
        if old.level != new.level and old.level in self.level_order and new.level in self.level_order:
            # A smaller position is a better level (classify lists the best first).
            level_move = 1 if self.level_order[new.level] < self.level_order[old.level] else -1
        return UnitDiff(unit, old, new, level_move, titles, moves)


def _level_order(old: n.Ruleset, new: n.Ruleset) -> dict[str, int]:
    """Level positions, best first: the new version's order, then levels only the old one has."""
    order: dict[str, int] = {}
    for rs in (new, old):
        cls = rs.first(n.Classify)
        if isinstance(cls, n.Classify):
            for lv in cls.levels:
                order.setdefault(lv.name, len(order))
    return order


def _bonus_penalty_criteria(rs: n.Ruleset) -> tuple[str, ...]:
    return tuple(c.name for item in rs.items if isinstance(item, (n.Bonus, n.Penalty)) for c in item.criteria)


def _side(
    result: UnitResult | None, error: str | None, extra: tuple[str, ...]
) -> tuple[UnitSide, Mapping[str, str], Mapping[str, Decimal]]:
    """A unit's headline outcome, its title statuses and its criteria points under one version."""
    if result is None:
        return UnitSide(error=error or "not evaluated (the case failed under this version)"), {}, {}
    criteria = result.criteria
    if extra:
        criteria = {**criteria, **{c: result.values[c] for c in extra if c in result.values}}
    titles = {name: t.status for name, t in result.titles.items()}
    return UnitSide(result.score, result.level, result.rank), titles, criteria


def _rotation(result: BlocResult | None) -> tuple[str | None, str | None]:
    if result is None or result.rotation is None:
        return (None, None)
    return (result.rotation.leader.unit, result.rotation.deputy.unit)


def _without(holders: Holders, dropped: Mapping[str, str]) -> Holders:
    return Holders(
        holders.leader if holders.leader not in dropped else None,
        holders.deputy if holders.deputy not in dropped else None,
    )


def _errors_by_unit(violations: Sequence[FieldViolation]) -> dict[str, str]:
    """Violations grouped by the unit in their path (``""`` for case-level ones), joined as text."""
    grouped: dict[str, list[str]] = {}
    for v in violations:
        m = _UNIT_IN_PATH.match(v.field)
        unit = m["unit"] if m else ""
        where = v.field[m.end() :].lstrip(".") if m else v.field
        grouped.setdefault(unit, []).append(f"{where}: {v.message}")
    return {unit: "; ".join(msgs) for unit, msgs in grouped.items()}


def _violations(exc: InputError) -> str:
    return _words(exc.violations)


def _words(violations: Sequence[FieldViolation]) -> str:
    return "; ".join(f"{v.field}: {v.message}" for v in violations)


def _case_error(label: str, bloc: str | None, period: str | None, message: str) -> CaseDiff:
    return CaseDiff(label, bloc, period, (), ((None, None), (None, None)), (message, message))


# ------------------------------------------------------------------ corpora

T = TypeVar("T")


@dataclass(slots=True)
class Batch(Generic[T]):
    """Consecutive cases diffed together: what the digest made of each, in input order, and
    their `Summary` (merge it with `Summary.merge`)."""

    summary: Summary
    items: list[T]


#: What a forked worker diffs with: the comparer and the digest, inherited with the fork.
_WORKER: tuple[Comparer, Callable[[CaseDiff], Any]] | None = None

#: Chunks grow from the first size to the largest: a small corpus still reaches both
#: workers quickly, a large one pays the pool's per-chunk cost (a task and a result
#: through pipes and the pool's threads, ~0.7 ms of the parent's CPU) rarely.
FIRST_CHUNK, LARGEST_CHUNK = 8, 128

#: Starting and stopping the workers costs about what diffing 16 cases does (~15 ms):
#: below this many cases, worker processes are not worth it.
PARALLEL_FROM = 32


def _init_worker(comparer: Comparer, digest: Callable[[CaseDiff], Any]) -> None:
    """In a forked worker: keep the comparer and digest (inherited in memory with the fork, never pickled)."""
    global _WORKER
    _WORKER = (comparer, digest)


def _diff_chunk(comparer: Comparer, digest: Callable[[CaseDiff], T], chunk: list[CaseText]) -> Batch[T]:
    """Diff a chunk of cases: the digest of each and the summary of them all."""
    summary = Summary()
    items: list[T] = []
    for item in chunk:
        case = comparer.compare_text(item)
        summary.add(case)
        items.append(digest(case))
    return Batch(summary, items)


def _work(chunk: list[CaseText]) -> Batch[Any]:
    assert _WORKER is not None
    return _diff_chunk(*_WORKER, chunk)


def _chunks(items: Iterable[CaseText], first: int, largest: int) -> Iterator[list[CaseText]]:
    """Consecutive chunks, the first of ``first`` items, each next one twice as large up to ``largest``."""
    size = first
    chunk: list[CaseText] = []
    for item in items:
        chunk.append(item)
        if len(chunk) >= size:
            yield chunk
            chunk = []
            size = min(2 * size, largest)
    if chunk:
        yield chunk


def default_jobs() -> int:
    """Worker processes by default: the CPUs this process may use."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)


def compare_batches(
    comparer: Comparer,
    cases: Iterable[CaseText],
    digest: Callable[[CaseDiff], T],
    *,
    jobs: int = 1,
    chunksize: int | None = None,
) -> Iterator[Batch[T]]:
    """Diff every case, in input order, with ``jobs`` worker processes; yield them a chunk at a time.

    Each `CaseDiff` is passed to ``digest`` where it was computed — in a worker —
    and only what ``digest`` returns is sent back, with the chunk's `Summary`:
    pickling the rich `CaseDiff` graph cost more than a tenth of computing it in
    the worker and as much again in the parent, which shares the CPUs with the
    workers. A digest that returns plain strings and tuples keeps both small.

    Workers are forked with the compiled versions and the digest already in
    memory (nothing is pickled but case text and digests); where ``fork`` is
    unavailable, or ``jobs`` is 1, the same chunks are diffed in this process,
    so the batches are the same whatever ``jobs``. Cases are pulled from
    ``cases`` a chunk at a time, a bounded number of chunks in flight, so a
    corpus of any size runs in flat memory. ``chunksize`` fixes the chunk size;
    by default chunks grow from `FIRST_CHUNK` to `LARGEST_CHUNK` cases. Fewer
    cases than `PARALLEL_FROM` (than one chunk, when ``chunksize`` is given)
    are diffed in this process.
    """
    first, largest = (chunksize, chunksize) if chunksize else (FIRST_CHUNK, LARGEST_CHUNK)
    items: Iterator[CaseText] = iter(cases)
    parallel = jobs > 1 and "fork" in multiprocessing.get_all_start_methods()
    if parallel:
        enough = chunksize or PARALLEL_FROM
        ahead = list(islice(items, enough))
        parallel = len(ahead) == enough
        items = chain(ahead, items)
    chunks = _chunks(items, first, largest)
    if not parallel:
        for chunk in chunks:
            yield _diff_chunk(comparer, digest, chunk)
        return
    # Objects that exist before the fork (the compiled rulesets, the parser) are moved out
    # of the collector's reach: otherwise each worker's garbage collections touch them and
    # copy their memory pages, which cost about a fifth more CPU in measurements.
    gc.freeze()
    try:
        ctx = multiprocessing.get_context("fork")
        with ctx.Pool(jobs, initializer=_init_worker, initargs=(comparer, digest)) as pool:
            # A bounded window of chunks in flight (Pool.imap would read the whole input
            # ahead): workers stay busy, results come back in order, memory stays flat.
            pending: deque[AsyncResult[Batch[T]]] = deque()
            for chunk in chunks:
                pending.append(pool.apply_async(_work, (chunk,)))
                if len(pending) >= 4 * jobs:
                    yield pending.popleft().get()
            while pending:
                yield pending.popleft().get()
    finally:
        gc.unfreeze()


def _identity(case: CaseDiff) -> CaseDiff:
    return case


def compare_corpus(
    comparer: Comparer, cases: Iterable[CaseText], *, jobs: int = 1, chunksize: int | None = None
) -> Iterator[CaseDiff]:
    """Every case's `CaseDiff`, in input order, diffed with ``jobs`` worker processes.

    For callers that want the rich results; each is pickled back from its worker,
    which costs: ``thidua diff`` uses `compare_batches` with the report's compact digest.
    """
    for batch in compare_batches(comparer, cases, _identity, jobs=jobs, chunksize=chunksize):
        yield from batch.items
