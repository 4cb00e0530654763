"""Tests for dsl.diff: the structural diff of two resolved rulesets."""

from __future__ import annotations

from pathlib import Path

from hypothesis import given, settings

from dsl import nodes as n
from dsl.diff import ADDED, CHANGED, REMOVED, FieldChange, StructuralDiff, structural_diff
from dsl.parser import parse
from dsl.registry import Registry
from tests.dsl import strategies

REPO = Path(__file__).resolve().parents[2]

OLD = """
ruleset r version "1" {
  description "cũ"
  effective 2023-01-01 to 2023-12-31
  input a: int >= 0 "A"
  input b: int in 0..a default 0
  input gone: bool
  let twice = a * 2
  group g "Nhóm" max 10 {
    criterion c1 "C1" max 5 = a
    criterion c2 "C2" max 5 = b
  }
  group h "Nhóm H" max 5 { criterion c3 "C3" max 5 = twice }
  bonus "Thưởng" max 5 { criterion k "K" = 1 }
  classify {
    level ok "Đạt" when score >= 5 unless gone
    level ko "Không đạt" otherwise
  }
  ranking by score desc
  title t1 "T1" { require level == ok "đạt" quota 1 }
  title t2 "T2" { require t1 }
  rotation { leader = current.deputy else next after current.leader  deputy = first of ranking }
}
"""


def _rs(text: str) -> n.Ruleset:
    sf = parse(text, "x.rules")
    assert sf.ruleset is not None
    return sf.ruleset


def _diff(new_text: str) -> StructuralDiff:
    return structural_diff(_rs(OLD), _rs(new_text))


def _one(d: StructuralDiff, kind: str, name: str = "") -> tuple[str, tuple[FieldChange, ...]]:
    found = [c for c in d.changes if c.kind == kind and c.name == name]
    assert 1 == len(found), d.changes
    return found[0].status, found[0].fields


def test_identical_and_relaid_rulesets_have_no_changes() -> None:
    """Layout and comments never show up as changes."""
    relaid = OLD.replace("\n  ", "\n      # note\n  ").replace(" = a\n", " =\n   a\n")
    assert structural_diff(_rs(OLD), _rs(relaid)).empty


def test_input_changes() -> None:
    """An input's type, constraint, default and label are compared; added and removed ones listed."""
    new = OLD.replace('input a: int >= 0 "A"', 'input a: decimal >= 1 "A mới"').replace(
        "input gone: bool", "input fresh: enum(x, y) default x"
    )
    d = _diff(new.replace("unless gone", ""))
    status, fields = _one(d, "input", "a")
    assert CHANGED == status
    assert (
        FieldChange("type", "int", "decimal"),
        FieldChange("constraint", ">= 0", ">= 1"),
        FieldChange("label", "A", "A mới"),
    ) == fields
    assert (REMOVED, (FieldChange("type", "bool", None),)) == _one(d, "input", "gone")
    assert (ADDED, (FieldChange("type", None, "enum(x, y)"), FieldChange("default", None, "x"))) == _one(
        d, "input", "fresh"
    )


def test_criterion_changes_show_expressions_as_written() -> None:
    """A criterion's max, expression and label changes print with the formatter; moves show the section."""
    new = OLD.replace('criterion c1 "C1" max 5 = a', 'criterion c1 "C1" max 4 = (a + b) * 2').replace(
        'criterion c2 "C2" max 5 = b\n  }\n  group h "Nhóm H" max 5 { criterion c3 "C3" max 5 = twice }',
        '}\n  group h "Nhóm H" max 5 { criterion c3 "C3" max 5 = twice criterion c2 "C2" max 5 = b }',
    )
    d = _diff(new)
    assert (CHANGED, (FieldChange("max", "5", "4"), FieldChange("expr", "a", "(a + b) * 2"))) == _one(
        d, "criterion", "c1"
    )
    assert (CHANGED, (FieldChange("section", "g", "h"),)) == _one(d, "criterion", "c2")


def test_group_bonus_and_let_changes() -> None:
    """Group label/max, bonus header and let expressions are compared."""
    new = OLD.replace('group g "Nhóm" max 10', 'group g "Nhóm" max 12').replace(
        'bonus "Thưởng" max 5', 'bonus "Thưởng" max 6'
    )
    d = _diff(new.replace("let twice = a * 2", "let twice = a * 3"))
    assert (CHANGED, (FieldChange("max", "10", "12"),)) == _one(d, "group", "g")
    assert (CHANGED, (FieldChange("max", "5", "6"),)) == _one(d, "bonus")
    assert (CHANGED, (FieldChange("expr", "a * 2", "a * 3"),)) == _one(d, "let", "twice")


def test_level_changes_and_reordering() -> None:
    """Levels compare label, conditions and their order among the levels both sides have."""
    new = OLD.replace(
        'level ok "Đạt" when score >= 5 unless gone',
        'level top "Xuất sắc" when score >= 9\n    level ok "Đạt" when score >= 6',
    )
    d = _diff(new)
    status, fields = _one(d, "level", "ok")
    assert CHANGED == status
    assert (FieldChange("when", "score >= 5", "score >= 6"), FieldChange("unless", "gone", None)) == fields
    assert ADDED == _one(d, "level", "top")[0]


def test_title_requirements_quota_rank_and_position() -> None:
    """Title requirements are listed as removed/added; quota, rank by and order changes show too."""
    new = OLD.replace(
        'title t1 "T1" { require level == ok "đạt" quota 1 }\n  title t2 "T2" { require t1 }',
        'title t2 "T2" { require t1 }\n  title t1 "T1" { require level == ok "đạt"\n require a >= 2 quota 10% rank by a asc }',
    )
    d = _diff(new)
    status, fields = _one(d, "title", "t1")
    assert CHANGED == status
    assert (
        FieldChange("position", "1", "2"),
        FieldChange("quota", "1", "10%"),
        FieldChange("rank by", None, "a asc"),
        FieldChange("require", None, "a >= 2"),
    ) == fields


def test_removed_title_lists_its_requirements_as_old() -> None:
    """A removed title carries its label and requirements on the old side."""
    d = _diff(OLD.replace('title t2 "T2" { require t1 }', ""))
    assert (REMOVED, (FieldChange("label", "T2", None), FieldChange("require", "t1", None))) == _one(
        d, "title", "t2"
    )


def test_rotation_ranking_and_unnamed_blocks() -> None:
    """Rotation rules per role, the ranking keys, effective period and description are compared."""
    new = (
        OLD.replace("deputy = first of ranking", "deputy = first of ranking where unit != leader")
        .replace("ranking by score desc", "ranking by score desc, a asc")
        .replace("effective 2023-01-01 to 2023-12-31", "effective 2024-01-01 to 2024-12-31")
        .replace('description "cũ"', "")
    )
    d = _diff(new)
    assert (
        CHANGED,
        (FieldChange("picks", "first of ranking", "first of ranking where unit != leader"),),
    ) == _one(d, "rotation", "deputy")
    assert (CHANGED, (FieldChange("by", "score desc", "score desc, a asc"),)) == _one(d, "ranking")
    assert (
        CHANGED,
        (FieldChange("period", "2023-01-01 to 2023-12-31", "2024-01-01 to 2024-12-31"),),
    ) == _one(d, "effective")
    assert (REMOVED, (FieldChange("text", "cũ", None),)) == _one(d, "description")
    assert ["description", "effective", "ranking", "rotation"] == [c.kind for c in d.changes]


def test_khoi3_2023_to_2024() -> None:
    """The bundled 2024.1 differs from 2023.1 by exactly the documented changes."""
    reg = Registry(REPO / "rulesets")
    d = structural_diff(reg.resolve("khoi3", "2023.1").ruleset, reg.resolve("khoi3", "2024.1").ruleset)
    summary = [(c.status, c.title) for c in d.changes]
    assert [
        (CHANGED, "description"),
        (CHANGED, "effective"),
        (REMOVED, "input initiatives"),
        (ADDED, "input digital_models"),
        (ADDED, "input awaiting_discipline"),
        (CHANGED, "group logistics"),
        (REMOVED, "criterion innovation"),
        (CHANGED, "criterion plan"),
        (CHANGED, "criterion assets"),
        (CHANGED, "criterion budget"),
        (ADDED, "criterion digital"),
        (CHANGED, "title tien_tien"),
        (CHANGED, "title co_ubnd"),
    ] == summary
    assert {"old": "khoi3 2023.1", "new": "khoi3 2024.1"} == {k: d.to_json()[k] for k in ("old", "new")}


@settings(max_examples=25)  # large generated trees; the suite's time budget is shared
@given(strategies.rulesets)
def test_property_a_ruleset_has_no_changes_against_itself(generated: n.Ruleset) -> None:
    """For any ruleset, the structural diff with itself (or its re-parsed canonical text) is empty."""
    from dsl.identity import canonical_text

    assert structural_diff(generated, generated).empty
    reparsed = parse(canonical_text(generated), "x.rules").ruleset
    assert reparsed is not None
    assert structural_diff(generated, reparsed).empty
