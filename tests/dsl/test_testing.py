"""Tests for dsl.testing: test blocks found, matched to their ruleset, run, failures worded."""

from __future__ import annotations

from pathlib import Path

import pytest

from dsl.testing import discover, run_tests

RULES = """ruleset tr version "1" {
  input x: int
  input items: list of { form: enum(warning, other) } default []
  group g "G" max 100 { criterion c "C" = x }
  classify {
    level excellent "E" when score >= 90 unless count(items where form == warning) > 0
    level good "G" otherwise
  }
  title top "Top" { require level == excellent }
  title flag "Flag" { require top  require rank == 1 }
  test "inside passes" {
    given { x = 95 }
    expect score == 95.00
    expect level == excellent
    expect top
  }
}
test "warning keeps good" {
  given { x = 95  items = [{ form = warning }] }
  expect level == good
  expect score == 93.50
  expect not top
}
test "flag undecided" {
  given { x = 95 }
  expect flag
}
"""

FOREIGN = """test "foreign passes" for tr version "1" {
  given { x = 10 }
  expect c == 10 and g == 10
}
test "foreign fails" for tr version "1" {
  given { x = 10 }
  expect c == 11
}
test "missing target" for nope version "2" {
  given { x = 1 }
  expect score == 1
}
test "not a submission" for tr version "1" {
  given { y = 1 }
  expect score == 1
}
"""


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    (tmp_path / "tr").mkdir()
    (tmp_path / "tr" / "1.rules").write_text(RULES, encoding="utf-8")
    (tmp_path / "foreign.rules").write_text(FOREIGN, encoding="utf-8")
    return tmp_path


def messages(tree: Path) -> dict[str, list[str]]:
    report = run_tests(tree)
    return {o.label: [m for _, m in o.failures] for o in report.outcomes}


def test_discover_finds_rules_files(tree: Path) -> None:
    """Every .rules file under the folder, sorted."""
    assert ["foreign.rules", "tr/1.rules"] == [p.relative_to(tree).as_posix() for p in discover(tree)]


def test_passing_tests_inside_and_after_the_ruleset(tree: Path) -> None:
    """A test inside the ruleset and one targeting it with `for` pass."""
    found = messages(tree)
    assert [] == found["inside passes"]
    assert [] == found["foreign passes"]


def test_failure_shows_expected_and_actual(tree: Path) -> None:
    """A failed expect prints its text and the values of the names it used."""
    found = messages(tree)
    assert ["expect score == 93.50 — score is 95.00"] == found["warning keeps good"]
    assert ["expect c == 11 — c is 10.00"] == found["foreign fails"]


def test_undecided_title_fails_clearly(tree: Path) -> None:
    """An expectation on a title that needs the bloc says it is undecided."""
    assert ["expect flag — title flag is undecided for a unit alone"] == messages(tree)["flag undecided"]


def test_missing_target_and_bad_given(tree: Path) -> None:
    """An unknown `for` target and given values that are not a submission fail with the reason."""
    found = messages(tree)
    assert 'no ruleset nope version "2"' in found["missing target"][0]
    assert "y: unknown input" in found["not a submission"][0]
    assert "x: is required" in found["not a submission"][0]


def test_report_lines_end_with_counts(tree: Path) -> None:
    """Failures print as path:line: FAIL "label": …, then exactly `N passed, M failed`."""
    lines = list(run_tests(tree).lines())
    assert "2 passed, 5 failed" == lines[-1]
    assert any(
        line.endswith('tr/1.rules:21: FAIL "warning keeps good": expect score == 93.50 — score is 95.00')
        for line in lines
    )


def test_ruleset_that_does_not_check(tmp_path: Path) -> None:
    """A file whose ruleset has errors fails its tests with the diagnostics."""
    (tmp_path / "bad.rules").write_text(
        'ruleset b version "1" {\n  let a = nope\n  test "t" { expect true }\n}\n', encoding="utf-8"
    )
    report = run_tests(tmp_path)
    assert (0, 1) == (report.passed, report.failed)
    assert "does not check" in report.outcomes[0].failures[0][1]


def test_unparsable_file_is_a_failure(tmp_path: Path) -> None:
    """A syntax error in a file is reported, not raised."""
    (tmp_path / "bad.rules").write_text("ruleset {", encoding="utf-8")
    report = run_tests(tmp_path)
    assert 1 == report.failed
    assert "does not parse" in report.outcomes[0].failures[0][1]


def test_no_tests(tmp_path: Path) -> None:
    """A folder without tests reports zero of each and a note."""
    report = run_tests(tmp_path)
    assert ["no tests found under " + str(tmp_path), "0 passed, 0 failed"] == list(report.lines())


def test_a_broken_test_fails_alone(tmp_path: Path) -> None:
    """A test the checker rejects (a missing given input) fails; the file's other tests still run."""
    (tmp_path / "r.rules").write_text(
        'ruleset r version "1" {\n  input x: int\n  input y: int\n'
        '  group g "G" max 100 { criterion c "C" = x + y }\n'
        '  test "ok" {\n    given { x = 1 y = 2 }\n    expect score == 3\n  }\n'
        '  test "no y" {\n    given { x = 1 }\n    expect score == 1\n  }\n}\n',
        encoding="utf-8",
    )
    report = run_tests(tmp_path)
    outcomes = {o.label: o for o in report.outcomes}
    assert outcomes["ok"].passed
    assert "the test does not check" in outcomes["no y"].failures[0][1]
    assert "'y'" in outcomes["no y"].failures[0][1]
