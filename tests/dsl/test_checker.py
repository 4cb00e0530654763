"""dsl.checker: names, types, cycles, warnings and the value rewrite."""

from __future__ import annotations

from pathlib import Path

import pytest

from dsl import nodes as n
from dsl.checker import CheckedRuleset, check_source, require_ok
from dsl.errors import RulesetError

FIXTURE = Path(__file__).resolve().parent.parent / "fixtures" / "khoi3-2023.1.rules"


@pytest.fixture(scope="module")
def khoi3() -> CheckedRuleset:
    return check_source(FIXTURE.read_text(encoding="utf-8"), str(FIXTURE))


def walk(node: object) -> list[object]:
    """Every AST node under ``node`` (dataclass fields, tuples), depth first."""
    out: list[object] = []
    todo = [node]
    while todo:
        cur = todo.pop()
        out.append(cur)
        if isinstance(cur, tuple):
            todo.extend(cur)
        elif hasattr(cur, "__dataclass_fields__"):
            todo.extend(getattr(cur, f) for f in cur.__dataclass_fields__ if f != "span")
    return out


def test_reference_example_is_clean(khoi3: CheckedRuleset) -> None:
    """The reference ruleset checks with no errors and no warnings."""
    assert () == khoi3.diagnostics
    assert khoi3.ok


def test_reference_example_level_values_become_enum_values(khoi3: CheckedRuleset) -> None:
    """`level == excellent` and `level in [excellent, good]` resolve the bare words as values."""
    tien_tien, quyet_thang = khoi3.ruleset.titles[0], khoi3.ruleset.titles[1]
    assert (
        n.InList(n.Name("level"), (n.EnumValue("excellent"), n.EnumValue("good")))
        == tien_tien.requires[0].expr
    )
    assert n.Binary("==", n.Name("level"), n.EnumValue("excellent")) == quyet_thang.requires[1].expr


def test_reference_example_record_fields_become_field_refs(khoi3: CheckedRuleset) -> None:
    """Inside `count(discipline where form in [...])`, `form` is a FieldRef and the options are values."""
    let = khoi3.symbols["severe_discipline"].node
    assert isinstance(let, n.Let)
    agg = let.expr
    assert isinstance(agg, n.ListAgg)
    expected = n.InList(
        n.FieldRef("form"),
        tuple(n.EnumValue(v) for v in ("warning", "demotion", "dismissal", "expulsion")),
    )
    assert expected == agg.where


def test_reference_example_table_rows_become_enum_values(khoi3: CheckedRuleset) -> None:
    """The rows of `table party_rating { when excellent … }` hold EnumValues."""
    party = khoi3.symbols["party"].node
    assert isinstance(party, n.Criterion)
    assert isinstance(party.expr, n.Table)
    assert [n.EnumValue(v) for v in ("excellent", "good", "done", "failed")] == [
        row.values[0] for row in party.expr.rows
    ]


def test_reference_example_has_no_bare_names_left_for_values(khoi3: CheckedRuleset) -> None:
    """Every Name left in the rewritten AST refers to a symbol."""
    names = {x.id for x in walk(khoi3.ruleset) if isinstance(x, n.Name)}
    assert set() == names - set(khoi3.symbols) - {"leader"}


def test_reference_example_order_puts_dependencies_first(khoi3: CheckedRuleset) -> None:
    """`order` lists every let/criterion/group and bonus, penalty, score, level after what they use."""
    order = khoi3.order
    position = {name: i for i, name in enumerate(order)}
    assert position["target_rate"] < position["targets"] < position["mission"] < position["score"]
    assert position["severe_discipline"] < position["level"]
    assert position["score"] < position["level"]
    assert {"bonus", "penalty", "score", "level", "plan", "leadership", "disciplined"} <= set(order)


def test_reference_example_symbols(khoi3: CheckedRuleset) -> None:
    """Symbols carry their kind, type and section."""
    assert "criterion" == khoi3.symbols["targets"].kind
    assert "mission" == khoi3.symbols["targets"].section
    assert "bonus" == khoi3.symbols["commendations"].section
    assert ("excellent", "good", "done", "failed") == khoi3.symbols["level"].type.values
    assert "title" == khoi3.symbols["co_bca"].kind
    assert "number" == khoi3.symbols["target_rate"].type.kind


def test_require_ok_raises_with_every_error() -> None:
    """require_ok raises a RulesetError carrying all errors of the file."""
    text = 'ruleset r version "1" { let a = b\n let c = d }'
    checked = check_source(text)
    with pytest.raises(RulesetError) as info:
        require_ok(checked, text)
    assert ["unknown name 'b'", "unknown name 'd'"] == [d.message for d in info.value.diagnostics]
