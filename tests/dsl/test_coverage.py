"""dsl.coverage: which criteria, table rows, branches, levels and requires the tests exercised both ways."""

from __future__ import annotations

from pathlib import Path

import pytest

from dsl.coverage import measure

RULESET = """ruleset cov version "1" {
  input rate: decimal in 0..1
  input ok: bool
  input votes: int in 0..10
  group g "G" max 10 {
    criterion t "T" max 6 = table rate { when >= 90% then 6  when >= 50% then 3  else 0 }
    criterion b "B" max 4 = if ok then 4 else 1
  }
  classify {
    level top "Top" when score >= 9 unless not ok
    level rest "Rest" otherwise
  }
  title flag "Flag" {
    require level == top "top"
    require votes >= 8 "votes"
    require rank == 1 "leads"
  }
}

test "full marks" {
  given { rate = 0.95  ok = true  votes = 9 }
  expect score == 10
}

test "half the target, not ok" {
  given { rate = 0.6  ok = false  votes = 9 }
  expect level == rest
}
"""


@pytest.fixture
def report(tmp_path: Path) -> dict[tuple[str, str], dict[str, int]]:
    path = tmp_path / "cov.rules"
    path.write_text(RULESET, encoding="utf-8")
    (cov,) = measure(tmp_path)
    assert 2 == cov.tests
    assert 1 == cov.bloc_only
    return {(i.kind, i.owner.split(" (")[0]): {o: i.seen.get(o, 0) for o in i.outcomes} for i in cov.items}


def test_table_rows_counted(report: dict[tuple[str, str], dict[str, int]]) -> None:
    """Rows 1 and 2 were matched once each; the else row never."""
    assert {"row 1": 1, "row 2": 1, "else": 0} == report[("table", "in criterion t")]


def test_if_and_criterion_outcomes(report: dict[tuple[str, str], dict[str, int]]) -> None:
    """Both branches of the if ran; criterion t was full once and below its max once."""
    assert {"then": 1, "else": 1} == report[("if", "in criterion b")]
    assert {"full": 1, "not full": 1} == report[("criterion", "t")]


def test_level_when_and_unless(report: dict[tuple[str, str], dict[str, int]]) -> None:
    """`when score >= 9` held once and failed once; its unless was evaluated only when `when` held."""
    assert {"true": 1, "false": 1} == report[("level when", "top")]
    assert {"true": 0, "false": 1} == report[("level unless", "top")]


def test_requires_and_bloc_only(report: dict[tuple[str, str], dict[str, int]]) -> None:
    """`level == top` went both ways, `votes >= 8` only passed; `rank == 1` is no item (the bloc decides it)."""
    assert {"passed": 1, "failed": 1} == report[("require", "flag #1")]
    assert {"passed": 2, "failed": 0} == report[("require", "flag #2")]
    assert ("require", "flag #3") not in report


def test_percent_and_lines(tmp_path: Path) -> None:
    """The header gives covered/total outcomes and each one-sided item is listed with what it never did."""
    path = tmp_path / "cov.rules"
    path.write_text(RULESET, encoding="utf-8")
    (cov,) = measure(path)
    lines = list(cov.lines())
    assert lines[0].startswith(f"coverage cov 1 ({path}): {cov.covered}/{cov.total} outcomes")
    assert any(line.endswith("table in criterion t: never else") for line in lines)
    assert cov.covered < cov.total
