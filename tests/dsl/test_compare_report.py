"""Tests for the two halves of dsl.diff_report.ReportWriter: `encode` (where a case is diffed) and `add_batch`."""

from __future__ import annotations

import io
import json
import pickle
from pathlib import Path

import pytest

from dsl.compare import Batch, CaseDiff, CaseText, Comparer, Summary
from dsl.diff import structural_diff
from dsl.diff_report import FORMATS, CaseDetail, ReportWriter
from dsl.registry import Registry

REPO = Path(__file__).resolve().parents[2]
CASE_LABEL = "rulesets/khoi3/cases/2023.json"


def _writer(fmt: str, max_units: int = 200) -> tuple[ReportWriter, io.StringIO]:
    """A writer of khoi3 2023.1 → 2024.1 into a string."""
    reg = Registry(REPO / "rulesets")
    old, new = reg.get("khoi3", "2023.1"), reg.get("khoi3", "2024.1")
    out = io.StringIO()
    return ReportWriter(
        out, fmt, old, new, structural_diff(old.ruleset, new.ruleset), max_units=max_units
    ), out


def _diffs(count: int) -> list[CaseDiff]:
    """A broken case, then ``count - 1`` copies of the bundled case diffed 2023.1 → 2024.1."""
    reg = Registry(REPO / "rulesets")
    comparer = Comparer(reg.get("khoi3", "2023.1"), reg.get("khoi3", "2024.1"))
    text = (REPO / CASE_LABEL).read_text("utf-8")
    broken = comparer.compare_text(CaseText("broken.json", "{not json"))
    return [broken, *(comparer.compare_text(CaseText(f"case{i}", text)) for i in range(count - 1))]


@pytest.mark.parametrize("fmt", FORMATS)
def test_encoded_batches_write_what_add_writes(fmt: str) -> None:
    """Encoding cases, pickling them as a worker would and adding them as batches prints what `add` prints."""
    diffs = _diffs(5)
    direct, direct_out = _writer(fmt, max_units=9)
    direct.start()
    for diff in diffs:
        direct.add(diff)
    direct.finish()
    batched, batched_out = _writer(fmt, max_units=9)
    batched.start()
    for part in (diffs[:2], diffs[2:]):
        summary = Summary()
        for diff in part:
            summary.add(diff)
        reports = [batched.encode(diff) for diff in part]
        batched.add_batch(pickle.loads(pickle.dumps(Batch(summary, reports))))
    batched.finish()
    assert direct_out.getvalue() == batched_out.getvalue()
    assert direct.summary == batched.summary


def test_a_full_detail_section_only_counts_changed_units() -> None:
    """Once --max-units changed units are kept, `encode` returns a case's number of changed units, not its text."""
    writer, out = _writer("table", max_units=8)
    broken, diff = _diffs(2)
    assert isinstance(writer.encode(diff), CaseDetail)
    writer.add(diff)
    writer.add(diff)  # 6 + 2 of 6: the section is full
    assert 6 == writer.encode(diff)
    assert 0 == writer.encode(broken)  # shown for its error, no unit
    writer.add(diff)
    writer.add(broken)
    writer.finish()
    assert "… and 10 more changed units in 2 more cases" in out.getvalue()


@pytest.mark.parametrize("fmt", FORMATS)
def test_a_unit_both_versions_reject_is_reported(fmt: str) -> None:
    """A unit missing an input both versions need is listed with its error, though nothing changed."""
    reg = Registry(REPO / "rulesets")
    comparer = Comparer(reg.get("khoi3", "2023.1"), reg.get("khoi3", "2023.1"))
    case = json.loads((REPO / CASE_LABEL).read_text("utf-8"))
    del case["submissions"][1]["inputs"]["reports_due"]
    unit = case["submissions"][1]["unit"]
    diff = comparer.compare_text(CaseText("case.json", json.dumps(case)))
    assert not diff.changed
    writer, out = _writer(fmt)
    writer.start()
    writer.add(diff)
    writer.finish()
    text = out.getvalue()
    if fmt == "json":
        (listed,) = json.loads(text)["cases"][0]["units"]
        assert unit == listed["unit"]
        assert listed["errors"]["old"] == listed["errors"]["new"]
        assert "reports_due" in listed["errors"]["old"]
    else:
        assert f"{unit} under both versions: " in text
        assert "reports_due" in text
