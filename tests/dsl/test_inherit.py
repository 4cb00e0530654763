"""Tests for dsl.inherit: resolving `extends` chains (SPEC §1.8)."""

from __future__ import annotations

import pytest
from hypothesis import assume, given, settings

from dsl import nodes as n
from dsl.errors import NotFoundError, RulesetError
from dsl.inherit import ParentLoader, ResolvedRuleset, resolve
from dsl.parser import parse
from tests.dsl import strategies

BASE = """
ruleset base version "1" {
  description "gốc"
  effective 2023-01-01 to 2023-12-31
  input a: int >= 0 "A"
  input b: int >= 0
  let doubled = a * 2
  group g1 "Nhóm 1" max 10 {
    criterion c1 "C1" max 5 = a
    criterion c2 "C2" max 5 = b
  }
  group g2 "Nhóm 2" max 10 {
    criterion c3 "C3" max 10 = doubled
  }
  bonus "Thưởng" max 5 { criterion k1 "K1" = 1  criterion k2 "K2" = 2 }
  penalty "Trừ" max 3 { criterion p1 "P1" = 1 }
  classify { level ok "OK" when score >= 5  level ko "KO" otherwise }
  title t1 "T1" { require level == ok }
  title t2 "T2" { require t1 }
  rotation { leader = current.deputy }
}
test "parent test" { given { a = 1 b = 1 } expect score == 3 }
"""


def _files(**texts: str) -> dict[tuple[str, str], n.SourceFile]:
    out: dict[tuple[str, str], n.SourceFile] = {}
    for key, text in texts.items():
        name, _, version = key.partition("_")
        out[(name, version)] = parse(text, f"{name}/{version}.rules")
    return out


def _resolve(child: str, **parents: str) -> ResolvedRuleset:
    files = _files(base_1=BASE, **parents)

    def load(name: str, version: str, _child: n.SourceFile) -> n.SourceFile:
        try:
            return files[(name, version)]
        except KeyError:
            raise NotFoundError(f"no file {name}/{version}.rules") from None

    return resolve(parse(child, "child/2.rules"), load)


def _child(body: str, header: str = 'ruleset child version "2" extends base version "1"') -> str:
    return f"{header} {{\n{body}\n}}\n"


def _names(rs: n.Ruleset) -> list[str]:
    out: list[str] = []
    for item in rs.items:
        label = type(item).__name__
        name = getattr(item, "name", None)
        crits = getattr(item, "criteria", None)
        out.append(f"{label}:{name}" if name else label)
        if crits is not None:
            out.extend(f"  {c.name}" for c in crits)
    return out


def _errors(child: str, **parents: str) -> list[str]:
    with pytest.raises(RulesetError) as info:
        _resolve(child, **parents)
    return [f"{d.span.line}:{d.code}:{d.message}" for d in info.value.diagnostics]


def _item(rs: n.Ruleset, kind: type, name: str | None = None) -> n.Item:
    for item in rs.items:
        if isinstance(item, kind) and (name is None or getattr(item, "name", None) == name):
            return item
    raise AssertionError(f"no {kind.__name__} {name}")


def test_without_parent_resolves_to_itself() -> None:
    """A ruleset that extends nothing resolves to the same declarations, tests included."""
    sf = parse(BASE, "base/1.rules")
    resolved = resolve(sf)
    assert sf.ruleset is not None
    assert sf.ruleset.items == resolved.ruleset.items
    assert ("base", "1") == (resolved.chain[0].name, resolved.chain[0].version)


def test_empty_child_copies_parent_without_its_tests() -> None:
    """`extends` copies every declaration; the parent's test blocks stay with the parent."""
    resolved = _resolve(_child(""))
    base = parse(BASE, "base/1.rules").ruleset
    assert base is not None
    assert [i for i in base.items if not isinstance(i, n.Test)] == list(resolved.ruleset.items)
    assert "child" == resolved.ruleset.name
    assert "2" == resolved.ruleset.version
    assert None is resolved.ruleset.parent
    assert ["child/2.rules", "base/1.rules"] == [link.path for link in resolved.chain]


def test_same_name_and_kind_replaces_in_place() -> None:
    """An input, let or title of the parent's name replaces it at the parent's position."""
    rs = _resolve(
        _child('input a: int >= 1 "A mới"\nlet doubled = a * 3\ntitle t1 "T1 mới" { require a > 1 }')
    ).ruleset
    assert _names(rs) == _names(_resolve(_child("")).ruleset)
    a = _item(rs, n.Input, "a")
    assert isinstance(a, n.Input)
    assert "A mới" == a.label
    t1 = _item(rs, n.Title, "t1")
    assert isinstance(t1, n.Title)
    assert "T1 mới" == t1.label
    assert ["Title:t1", "Title:t2"] == [x for x in _names(rs) if x.startswith("Title")]


def test_new_declarations_are_appended_in_child_order() -> None:
    """Declarations the parent lacks are added after the parent's, in the child's order."""
    rs = _resolve(_child('title t3 "T3" { require t2 }\ninput z: bool default false')).ruleset
    assert ["Title:t3", "Input:z"] == _names(rs)[-2:]


def test_group_merges_criteria_label_and_max() -> None:
    """A group with a parent's name keeps unmentioned criteria, replaces named ones in place, adds new ones."""
    rs = _resolve(
        _child(
            'group g1 "Nhóm 1 mới" max 12 {\n criterion c2 "C2 mới" max 4 = b\n criterion c9 "C9" max 3 = 1\n}'
        )
    ).ruleset
    g1 = _item(rs, n.Group, "g1")
    assert isinstance(g1, n.Group)
    assert ("Nhóm 1 mới", n.Number.__name__) == (g1.label, type(g1.max).__name__)
    assert "12" == g1.max.text
    assert ["c1", "c2", "c9"] == [c.name for c in g1.criteria]
    assert "C2 mới" == g1.criteria[1].label
    assert ["Group:g1", "Group:g2"] == [x for x in _names(rs) if x.startswith("Group")]


def test_criterion_written_in_another_group_moves() -> None:
    """A criterion declared in a different group than the parent's same-named one moves there."""
    rs = _resolve(_child('group g2 "Nhóm 2" max 10 {\n criterion c1 "C1" max 5 = a\n}')).ruleset
    g1, g2 = _item(rs, n.Group, "g1"), _item(rs, n.Group, "g2")
    assert isinstance(g1, n.Group) and isinstance(g2, n.Group)
    assert ["c2"] == [c.name for c in g1.criteria]
    assert ["c3", "c1"] == [c.name for c in g2.criteria]


def test_bonus_and_penalty_merge_like_groups() -> None:
    """`bonus` and `penalty` merge their criteria by name; their header (label, max) is replaced."""
    rs = _resolve(
        _child(
            'bonus "Thưởng mới" max 6 { criterion k2 "K2" = 3 criterion k3 "K3" = 1 }\npenalty "Trừ" { criterion p2 "P2" = 2 }'
        )
    ).ruleset
    bonus, penalty = _item(rs, n.Bonus), _item(rs, n.Penalty)
    assert isinstance(bonus, n.Bonus) and isinstance(penalty, n.Penalty)
    assert ("Thưởng mới", "6") == (bonus.label, bonus.max.text)
    assert ["k1", "k2", "k3"] == [c.name for c in bonus.criteria]
    assert None is penalty.max
    assert ["p1", "p2"] == [c.name for c in penalty.criteria]


def test_unnamed_blocks_replace_whole() -> None:
    """`classify`, `effective`, `rotation`… of the child replace the parent's entirely."""
    rs = _resolve(
        _child('effective 2024-01-01 to 2024-12-31\nclassify { level only "Chỉ một" otherwise }')
    ).ruleset
    eff, cls = _item(rs, n.Effective), _item(rs, n.Classify)
    assert isinstance(eff, n.Effective) and isinstance(cls, n.Classify)
    assert 2024 == eff.start.year
    assert ["only"] == [lv.name for lv in cls.levels]
    assert 1 == len(rs.of_kind(n.Classify))


def test_remove_each_kind() -> None:
    """`remove` deletes an input, let, criterion, title or group (a group with its criteria)."""
    body = "remove input b\nremove let doubled\nremove criterion k1\nremove title t2\nremove group g2"
    names = _names(_resolve(_child(body)).ruleset)
    for gone in ["Input:b", "Let:doubled", "  k1", "Title:t2", "Group:g2", "  c3"]:
        assert gone not in names
    assert "  k2" in names


def test_remove_then_redeclare_changes_kind() -> None:
    """Removing an input lets the child declare the same name as a let."""
    rs = _resolve(_child("remove input b\nlet b = 2")).ruleset
    b = _item(rs, n.Let, "b")
    assert isinstance(b, n.Let)
    assert [] == [i for i in rs.items if isinstance(i, n.Input) and i.name == "b"]


def test_chain_of_three() -> None:
    """A parent that itself extends is resolved first; the chain lists every file."""
    mid = 'ruleset mid version "1.5" extends base version "1" { remove title t2\n input m: int >= 0 }'
    child = _child('input m: int >= 5 "M"', header='ruleset child version "2" extends mid version "1.5"')
    resolved = _resolve(child, **{"mid_1.5": mid})
    assert ["child", "mid", "base"] == [link.name for link in resolved.chain]
    names = _names(resolved.ruleset)
    assert "Title:t2" not in names
    m = _item(resolved.ruleset, n.Input, "m")
    assert isinstance(m, n.Input)
    assert "M" == m.label
    assert {"child/2.rules", "mid/1.5.rules", "base/1.rules"} == set(resolved.sources)


def test_child_tests_are_kept() -> None:
    """The resolved ruleset keeps the test blocks written inside the child."""
    rs = _resolve(_child('test "t" { given { a = 1 } expect score == 1 }')).ruleset
    assert ["t"] == [t.label for t in rs.tests]


def test_child_name_may_differ_from_parent() -> None:
    """A ruleset may extend one of another name (a bloc building on another bloc's framework)."""
    rs = _resolve(_child("", header='ruleset khoi7 version "2024.1" extends base version "1"')).ruleset
    assert ("khoi7", "2024.1") == (rs.name, rs.version)


def test_missing_parent_is_reported_at_extends() -> None:
    """A parent that cannot be found is an error at the `extends` clause."""
    errors = _errors(_child("", header='ruleset child version "2" extends base version "9"'))
    assert 1 == len(errors)
    assert errors[0].startswith("1:missing-parent:cannot find parent ruleset base 9")


def test_missing_parent_without_loader() -> None:
    """Without a registry, `extends` cannot be resolved, and says so."""
    with pytest.raises(RulesetError) as info:
        resolve(parse(_child(""), "c.rules"))
    assert "missing-parent" == info.value.diagnostics[0].code


def test_cycle_is_an_error() -> None:
    """A ruleset that (indirectly) extends itself is reported with the whole loop."""
    a = 'ruleset a version "1" extends b version "1" { }'
    b = 'ruleset b version "1" extends a version "1" { }'
    errors = _errors(_child("", header='ruleset child version "2" extends a version "1"'), a_1=a, b_1=b)
    assert 1 == len(errors)
    assert "extends-cycle:`extends` forms a cycle: a 1 → b 1 → a 1" in errors[0]


def test_self_extension_is_a_cycle() -> None:
    """`extends` naming the ruleset itself is a cycle."""
    errors = _errors(_child("", header='ruleset base version "1" extends base version "1"'))
    assert ["1:extends-cycle:`extends` forms a cycle: base 1 → base 1"] == errors


def test_replacement_of_another_kind_names_both() -> None:
    """A `let` with the name of a parent's `input` is an error naming both and how to fix it."""
    with pytest.raises(RulesetError) as info:
        _resolve(_child("let a = 1"))
    (diag,) = info.value.diagnostics
    assert "replace-other-kind" == diag.code
    assert "let 'a' cannot replace input 'a' of base 1 (declared at base/1.rules:5:3)" in diag.message
    assert "remove input a" in (diag.hint or "")
    assert (2, 1) == (diag.span.line, diag.span.column)


def test_criterion_clashing_with_a_title_is_an_error() -> None:
    """A criterion may not take the name of a parent's title (or any other non-criterion)."""
    errors = _errors(_child('group g1 "Nhóm 1" max 10 { criterion t1 "x" = 1 }'))
    assert 1 == len(errors)
    assert "criterion 't1' cannot replace title 't1'" in errors[0]


def test_removing_what_does_not_exist() -> None:
    """Removing a missing name is an error with a did-you-mean; removing under the wrong kind names the right one."""
    with pytest.raises(RulesetError) as info:
        _resolve(_child("remove criterion c33\nremove let a\nremove title t1\nremove title t1"))
    diags = info.value.diagnostics
    assert ["remove-missing", "remove-wrong-kind", "remove-missing"] == [d.code for d in diags]
    assert "did you mean 'c3'?" == diags[0].hint
    assert "write `remove input a`" == diags[1].hint
    assert 5 == diags[2].span.line


def test_remove_without_parent() -> None:
    """`remove` in a ruleset that extends nothing is an error."""
    with pytest.raises(RulesetError) as info:
        resolve(parse('ruleset x version "1" { remove input a }', "x/1.rules"))
    assert "remove-without-parent" == info.value.diagnostics[0].code


def test_all_errors_of_a_file_are_reported() -> None:
    """Several merge errors in one child are reported together."""
    errors = _errors(_child('let a = 1\nremove group nope\ntitle c1 "x" { }'))
    assert 3 == len(errors)


def test_child_duplicates_are_left_for_the_checker() -> None:
    """A child declaring a name twice keeps both, so the checker reports the duplicate."""
    rs = _resolve(_child("input z: int >= 0\ninput z: int >= 1")).ruleset
    assert 2 == len([i for i in rs.items if isinstance(i, n.Input) and i.name == "z"])


def _flat_parent(rs: n.Ruleset) -> n.Ruleset:
    """A generated ruleset made usable as a parent: no `extends`, no `remove`."""
    items = tuple(i for i in rs.items if not isinstance(i, n.Remove))
    return n.Ruleset("p", "1", None, items)


def _unique_names(rs: n.Ruleset) -> bool:
    names: list[str] = []
    for item in rs.items:
        if isinstance(item, (n.Input, n.Let, n.Group, n.Title)):
            names.append(item.name)
        if isinstance(item, (n.Group, n.Bonus, n.Penalty)):
            names.extend(c.name for c in item.criteria)
    return len(names) == len(set(names))


def _load_only(parent: n.Ruleset) -> ParentLoader:
    def load(name: str, version: str, _child: n.SourceFile) -> n.SourceFile:
        return n.SourceFile("p/1.rules", parent, ())

    return load


@settings(max_examples=25)  # large generated trees; the suite's time budget is shared
@given(strategies.rulesets)
def test_property_empty_child_is_its_parent(generated: n.Ruleset) -> None:
    """For any ruleset, an empty child resolves to the parent's declarations (tests aside)."""
    parent = _flat_parent(generated)
    child = n.SourceFile("c/2.rules", n.Ruleset("c", "2", n.ParentRef("p", "1"), ()), ())
    resolved = resolve(child, _load_only(parent))
    assert tuple(i for i in parent.items if not isinstance(i, n.Test)) == resolved.ruleset.items


@settings(max_examples=25)  # large generated trees; the suite's time budget is shared
@given(strategies.rulesets)
def test_property_restating_every_declaration_changes_nothing(generated: n.Ruleset) -> None:
    """A child that repeats each of its parent's declarations resolves to the parent, in order."""
    parent = _flat_parent(generated)
    assume(_unique_names(parent))
    body = tuple(i for i in parent.items if not isinstance(i, n.Test))
    child = n.SourceFile("c/2.rules", n.Ruleset("c", "2", n.ParentRef("p", "1"), body), ())
    assert body == resolve(child, _load_only(parent)).ruleset.items
