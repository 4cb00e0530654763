"""Tests for dsl.diff_report: the diff of khoi3 2023.1 → 2024.1 on the bundled case, as golden files.

Regenerate the expected files with ``THIDUA_REGEN=1 pytest tests/dsl/test_diff_report.py``.
"""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from dsl.compare import CaseText, Comparer
from dsl.diff import structural_diff
from dsl.diff_report import FORMATS, ReportWriter
from dsl.registry import Registry
from tests.dsl.golden_runner import GOLDEN, check_golden

REPO = Path(__file__).resolve().parents[2]
CASE_LABEL = "rulesets/khoi3/cases/2023.json"
SUFFIX = {"table": "txt", "markdown": "md", "json": "json"}


def _report(fmt: str, old_version: str = "2023.1", new_version: str = "2024.1", max_units: int = 200) -> str:
    reg = Registry(REPO / "rulesets")
    old, new = reg.get("khoi3", old_version), reg.get("khoi3", new_version)
    out = io.StringIO()
    writer = ReportWriter(out, fmt, old, new, structural_diff(old.ruleset, new.ruleset), max_units=max_units)
    writer.start()
    comparer = Comparer(old, new)
    writer.add(comparer.compare_text(CaseText(CASE_LABEL, (REPO / CASE_LABEL).read_text("utf-8"))))
    writer.finish()
    return out.getvalue()


@pytest.mark.parametrize("fmt", FORMATS)
def test_golden_khoi3_2023_to_2024(fmt: str) -> None:
    """The diff of 2023.1 → 2024.1 on the 2023 case matches the reviewed golden output."""
    check_golden(GOLDEN / "diff" / f"khoi3-2023.1-2024.1.{SUFFIX[fmt]}", _report(fmt))


def test_json_is_one_valid_document() -> None:
    """The streamed JSON parses as one document with rules, cases, summary and notes."""
    data = json.loads(_report("json"))
    assert ["old", "new", "rules", "cases", "summary", "notes"] == list(data)
    assert 6 == data["summary"]["units_changed"]
    assert 1 == len(data["cases"])
    assert {"old": "102.88", "new": "98.88", "delta": "-4.00"} == data["cases"][0]["units"][0]["score"]


def test_json_with_no_cases_is_valid() -> None:
    """Without cases, the JSON still parses (an empty case list) and lists the rule changes."""
    reg = Registry(REPO / "rulesets")
    old, new = reg.get("khoi3", "2023.1"), reg.get("khoi3", "2024.1")
    out = io.StringIO()
    writer = ReportWriter(out, "json", old, new, structural_diff(old.ruleset, new.ruleset))
    writer.start()
    writer.finish()
    data = json.loads(out.getvalue())
    assert [] == data["cases"]
    assert 13 == len(data["rules"])


def test_max_units_limits_the_detail() -> None:
    """Table detail stops at --max-units changed units and says how many more there are."""
    text = _report("table", max_units=2)
    assert "… and 4 more changed units" in text
    assert "tccb" in text
    assert "ctd_ctct  " not in text


def test_same_version_reports_no_changes() -> None:
    """A version diffed with itself says so: no rule changes, no changed units."""
    text = _report("table", "2023.1", "2023.1")
    assert "units: 6 (0 changed; score up 0, down 0)" in text
    assert "Rule changes\n  (none)" in text
    assert "Case " not in text


def test_detail_is_bounded_over_many_cases() -> None:
    """Over many changed cases, the table keeps only --max-units worth of detail and counts the rest."""
    reg = Registry(REPO / "rulesets")
    old, new = reg.get("khoi3", "2023.1"), reg.get("khoi3", "2024.1")
    out = io.StringIO()
    writer = ReportWriter(out, "table", old, new, structural_diff(old.ruleset, new.ruleset), max_units=8)
    comparer = Comparer(old, new)
    diff = comparer.compare_text(CaseText(CASE_LABEL, (REPO / CASE_LABEL).read_text("utf-8")))
    for _ in range(5):
        writer.add(diff)
    writer.finish()
    assert 2 == len(writer.kept)
    assert "… and 22 more changed units in 3 more cases" in out.getvalue()
    assert "cases: 5 (5 changed)" in out.getvalue()
