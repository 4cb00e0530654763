"""Tests for dsl.compare: two versions run on the same bloc cases, unit by unit."""

from __future__ import annotations

import copy
import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from dsl.api import CompiledRuleset
from dsl.compare import (
    NEW,
    OLD,
    CaseDiff,
    CaseText,
    Comparer,
    CriterionMove,
    Summary,
    _chunks,
    compare_batches,
    compare_corpus,
    iter_cases,
)
from dsl.registry import Registry, resolve_ruleset_arg

REPO = Path(__file__).resolve().parents[2]
CASE_PATH = REPO / "rulesets" / "khoi3" / "cases" / "2023.json"
CASE: dict[str, Any] = json.loads(CASE_PATH.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def bundled() -> tuple[CompiledRuleset, CompiledRuleset]:
    """khoi3 2023.1 and 2024.1 from the repository's registry."""
    reg = Registry(REPO / "rulesets")
    return reg.get("khoi3", "2023.1"), reg.get("khoi3", "2024.1")


def _child(tmp_path: Path, body: str, version: str = "2023.9") -> CompiledRuleset:
    """A version extending khoi3 2023.1 with ``body``, compiled from a scratch registry."""
    folder = tmp_path / "khoi3"
    folder.mkdir(exist_ok=True)
    (folder / "2023.1.rules").write_text((REPO / "rulesets/khoi3/2023.1.rules").read_text("utf-8"), "utf-8")
    path = folder / f"{version}.rules"
    path.write_text(
        f'ruleset khoi3 version "{version}" extends khoi3 version "2023.1" {{\n{body}\n}}\n', "utf-8"
    )
    return resolve_ruleset_arg(str(path), registry=Registry(tmp_path))


def _text(data: Any, label: str = "case.json") -> CaseText:
    return CaseText(label, json.dumps(data, ensure_ascii=False))


def test_bundled_2023_to_2024(bundled: tuple[CompiledRuleset, CompiledRuleset]) -> None:
    """On the 2023 case, 2024.1 lowers every score, two levels, and three title awards."""
    diff = Comparer(*bundled).compare_text(_text(CASE))
    by_unit = {u.unit: u for u in diff.units}
    assert ["tham_muu", "tccb", "ctd_ctct", "ubkt", "hau_can", "thanh_tra"] == [u.unit for u in diff.units]
    assert Decimal("-4.00") == by_unit["tham_muu"].score_delta
    assert (
        CriterionMove("assets", Decimal("6.00"), Decimal("4.00")),
        CriterionMove("budget", Decimal("4.00"), Decimal("3.00")),
        CriterionMove("innovation", Decimal("1.00"), None),
    ) == by_unit["tham_muu"].criteria
    assert ("excellent", "good", -1) == (
        by_unit["ubkt"].old.level,
        by_unit["ubkt"].new.level,
        by_unit["ubkt"].level_move,
    )
    assert (("tien_tien", "awarded", "not_eligible"),) == by_unit["tccb"].titles
    assert (("quyet_thang", "awarded", "not_eligible"),) == by_unit["ubkt"].titles
    assert ((NEW, "initiatives", 5),) == diff.ignored
    assert not diff.rotation_changed
    assert (("hau_can", "tham_muu"), ("hau_can", "tham_muu")) == diff.rotation


def test_a_version_against_itself_changes_nothing(bundled: tuple[CompiledRuleset, CompiledRuleset]) -> None:
    """Diffing a version with itself reports no changed unit and no notes."""
    diff = Comparer(bundled[0], bundled[0]).compare_text(_text(CASE))
    assert not diff.changed
    assert 6 == len(diff.units)
    assert () == diff.ignored


def test_summary_counts_and_fail_on(bundled: tuple[CompiledRuleset, CompiledRuleset]) -> None:
    """The summary counts changed units, level moves and titles lost; --fail-on conditions follow."""
    summary = Summary()
    summary.add(Comparer(*bundled).compare_text(_text(CASE)))
    assert (1, 6, 6, 0, 6) == (
        summary.cases,
        summary.units,
        summary.units_changed,
        summary.score_up,
        summary.score_down,
    )
    assert (0, 2) == (summary.levels_up, summary.levels_down)
    assert {"tien_tien": 2, "quyet_thang": 1} == dict(summary.titles_lost)
    assert {(NEW, "initiatives"): 5} == dict(summary.ignored_inputs)
    assert all(summary.fails(x) for x in ("any", "level", "title"))
    assert not summary.fails(None)
    same = Summary()
    same.add(Comparer(bundled[0], bundled[0]).compare_text(_text(CASE)))
    assert not any(same.fails(x) for x in ("any", "level", "title"))


def test_level_up_is_counted(tmp_path: Path, bundled: tuple[CompiledRuleset, CompiledRuleset]) -> None:
    """A lower threshold moves units up a level; the move is +1 and titles may be gained."""
    easier = _child(
        tmp_path,
        'classify {\n level excellent "X" when score >= 80 unless severe_discipline > 0 or serious_violation\n'
        ' level good "T" when score >= 70\n level done "D" when score >= 50\n level failed "K" otherwise\n}',
    )
    diff = Comparer(bundled[0], easier).compare_text(_text(CASE))
    moved = {u.unit: u.level_move for u in diff.units if u.level_changed}
    # ctd_ctct stays "good": its severe discipline still vetoes "excellent".
    assert {"hau_can": 1, "thanh_tra": 1} == moved


def test_missing_input_is_a_unit_error_not_fatal(
    tmp_path: Path, bundled: tuple[CompiledRuleset, CompiledRuleset]
) -> None:
    """A unit lacking an input the new version needs is an error for that unit; the others are decided."""
    needs = _child(tmp_path, 'input audit_score: int in 0..10 "Điểm kiểm toán"')
    data = copy.deepcopy(CASE)
    for sub in data["submissions"]:
        if sub["unit"] != "thanh_tra":
            sub["inputs"]["audit_score"] = 5
    diff = Comparer(bundled[0], needs).compare_text(_text(data))
    by_unit = {u.unit: u for u in diff.units}
    error = by_unit["thanh_tra"].new.error
    assert error is not None and "audit_score" in error
    assert None is by_unit["thanh_tra"].old.error
    assert by_unit["thanh_tra"].changed
    assert ((), ()) == (by_unit["thanh_tra"].titles, by_unit["thanh_tra"].criteria)
    assert Decimal("102.88") == by_unit["tham_muu"].new.score
    assert ((OLD, "audit_score", 5),) == diff.ignored
    assert (None, None) == diff.error


def test_dropped_holder_leaves_rotation_context(
    tmp_path: Path, bundled: tuple[CompiledRuleset, CompiledRuleset]
) -> None:
    """When the unit holding a seat is rejected, it is left out of the rotation and the rest still rotates."""
    needs = _child(tmp_path, "input audit_score: int in 0..10")
    data = copy.deepcopy(CASE)
    for sub in data["submissions"]:
        if sub["unit"] != "hau_can":  # the current deputy
            sub["inputs"]["audit_score"] = 5
    diff = Comparer(bundled[0], needs).compare_text(_text(data))
    assert diff.rotation_changed
    assert None is diff.error[NEW]
    assert "hau_can" not in diff.rotation[NEW]


def test_bad_cases_are_errors_of_the_case(bundled: tuple[CompiledRuleset, CompiledRuleset]) -> None:
    """Invalid JSON and a case that is not a bloc are case errors under both versions, not exceptions."""
    comparer = Comparer(*bundled)
    broken = comparer.compare_text(CaseText("bad.json", "{not json"))
    assert broken.error[OLD] is not None and "not valid JSON" in broken.error[OLD]
    assert broken.error[OLD] == broken.error[NEW]
    no_members = comparer.compare(_text({}).label, {"submissions": []})
    assert no_members.error[OLD] is not None
    assert () == no_members.units


def test_evaluation_error_under_one_version(
    tmp_path: Path, bundled: tuple[CompiledRuleset, CompiledRuleset]
) -> None:
    """A division by zero under the new version is that version's case error; the old side stands."""
    dividing = _child(
        tmp_path,
        'let broken = members / (voters - voters)\ntitle tien_tien "Đơn vị Tiên tiến" { require broken > 0 }',
    )
    diff = Comparer(bundled[0], dividing).compare_text(_text(CASE))
    assert None is diff.error[OLD]
    assert diff.error[NEW] is not None and "broken" in diff.error[NEW]
    assert all(u.new.error is not None for u in diff.units)
    assert Decimal("102.88") == diff.units[0].old.score


def test_iter_cases_reads_json_jsonl_and_folders(tmp_path: Path) -> None:
    """A .json is one case, a .jsonl one per non-blank line (labelled with its line), a folder in name order."""
    (tmp_path / "b.json").write_text("{}", "utf-8")
    (tmp_path / "a.jsonl").write_text('{"x": 1}\n\n{"x": 2}\n', "utf-8")
    (tmp_path / "skip.txt").write_text("no", "utf-8")
    labels = [c.label for c in iter_cases([tmp_path])]
    assert [f"{tmp_path}/a.jsonl:1", f"{tmp_path}/a.jsonl:3", f"{tmp_path}/b.json"] == labels
    with pytest.raises(OSError):
        list(iter_cases([tmp_path / "missing.json"]))


def test_parallel_results_equal_serial(bundled: tuple[CompiledRuleset, CompiledRuleset]) -> None:
    """Two worker processes give the same diffs, in the same order, as one process."""
    items = []
    for i in range(7):
        data = copy.deepcopy(CASE)
        data["period"] = f"p{i}"
        data["submissions"][0]["inputs"]["key_tasks_excellent"] = i
        items.append(_text(data, f"case{i}"))
    comparer = Comparer(*bundled)
    serial = list(compare_corpus(comparer, iter(items), jobs=1))
    parallel = list(compare_corpus(comparer, iter(items), jobs=2, chunksize=2))
    assert serial == parallel
    assert [f"case{i}" for i in range(7)] == [c.label for c in parallel]


def _varied(count: int) -> list[CaseText]:
    """``count`` copies of the bundled case, each with another period and result, plus a broken one."""
    items = [CaseText("broken.json", "{not json")]
    for i in range(count - 1):
        data = copy.deepcopy(CASE)
        data["period"] = f"p{i}"
        data["submissions"][0]["inputs"]["key_tasks_excellent"] = i % 9
        items.append(_text(data, f"case{i}"))
    return items


def test_summary_merge_equals_adding_every_case(bundled: tuple[CompiledRuleset, CompiledRuleset]) -> None:
    """Summaries of parts merged together equal one summary that added every case."""
    comparer = Comparer(*bundled)
    diffs = [comparer.compare_text(item) for item in _varied(5)]
    whole, merged = Summary(), Summary()
    for part in (diffs[:2], diffs[2:]):
        summary = Summary()
        for diff in part:
            whole.add(diff)
            summary.add(diff)
        merged.merge(summary)
    assert whole == merged
    assert (5, [1, 1]) == (merged.cases, merged.case_errors)
    assert 4 * 5 == merged.ignored_inputs[(NEW, "initiatives")]


def test_batches_are_the_same_for_one_and_two_jobs(bundled: tuple[CompiledRuleset, CompiledRuleset]) -> None:
    """compare_batches gives the same batches, digests and summaries in order with one or two processes,
    also when more chunks are in flight than the window holds."""
    comparer = Comparer(*bundled)
    items = _varied(20)

    def run(jobs: int) -> list[tuple[Summary, list[str]]]:
        batches = compare_batches(comparer, iter(items), _digest, jobs=jobs, chunksize=1)
        return [(b.summary, b.items) for b in batches]

    serial = run(1)
    assert serial == run(2)
    assert ["broken.json"] + [f"case{i}" for i in range(19)] == [label for _, ls in serial for label in ls]


def _digest(case: CaseDiff) -> str:
    return case.label


def test_chunks_grow_from_the_first_size_to_the_largest(
    bundled: tuple[CompiledRuleset, CompiledRuleset],
) -> None:
    """By default the first chunk is small and each next one doubles, up to the largest size."""
    sizes = [len(b.items) for b in compare_batches(Comparer(*bundled), _varied(40), _digest)]
    assert [8, 16, 16] == sizes
    assert [1, 2, 4, 8, 8, 8, 5] == [len(c) for c in _chunks(_varied(36), 1, 8)]


def test_small_corpora_are_diffed_without_workers(
    bundled: tuple[CompiledRuleset, CompiledRuleset], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Below PARALLEL_FROM cases no worker process is started (it would cost more than the work)."""
    import dsl.compare

    def no_pool(method: str) -> None:
        raise RuntimeError("a pool was started")

    monkeypatch.setattr(dsl.compare.multiprocessing, "get_context", no_pool)
    comparer = Comparer(*bundled)
    items = _varied(dsl.compare.PARALLEL_FROM)
    assert len(items) - 1 == sum(len(b.items) for b in compare_batches(comparer, items[1:], _digest, jobs=2))
    with pytest.raises(RuntimeError, match="a pool was started"):
        list(compare_batches(comparer, items, _digest, jobs=2))
