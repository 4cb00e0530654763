"""Tests for dsl.identity: the SHA-256 of a ruleset's canonical resolved form."""

from __future__ import annotations

import hashlib
import re
import unicodedata
from pathlib import Path

from hypothesis import given, settings

from dsl import nodes as n
from dsl.identity import canonical_text, ruleset_sha256
from dsl.inherit import resolve
from dsl.parser import parse
from dsl.registry import Registry
from tests.dsl import strategies

REPO = Path(__file__).resolve().parents[2]
BASE = (REPO / "rulesets" / "khoi3" / "2023.1.rules").read_text(encoding="utf-8")


def _sha(text: str) -> str:
    sf = parse(text, "x.rules")
    assert sf.ruleset is not None
    return ruleset_sha256(resolve(sf).ruleset)


def test_is_sha256_of_the_canonical_text() -> None:
    """The identity is the hex SHA-256 of the UTF-8 canonical text."""
    sf = parse(BASE, "x.rules")
    assert sf.ruleset is not None
    expected = hashlib.sha256(canonical_text(sf.ruleset).encode("utf-8")).hexdigest()
    assert expected == ruleset_sha256(sf.ruleset)
    assert re.fullmatch(r"[0-9a-f]{64}", expected)


def test_layout_and_comments_do_not_change_it() -> None:
    """Re-indenting, joining lines and adding or removing comments keep the same hash."""
    relaid = re.sub(r"[ \t]+", " ", BASE)  # collapse alignment
    relaid = re.sub(r"#[^\n]*", "", relaid)  # drop every comment
    relaid = relaid.replace("{\n", "{ # opened\n")
    assert _sha(BASE) == _sha(relaid)


def test_test_blocks_do_not_change_it() -> None:
    """Test blocks are not part of a ruleset's meaning, so not of its identity."""
    with_test = BASE + '\ntest "t" { given { members = 1 } expect score >= 0 }\n'
    assert _sha(BASE) == _sha(with_test)


def test_unicode_composition_does_not_change_it() -> None:
    """The same Vietnamese text typed decomposed (NFD) has the same hash."""
    assert _sha(BASE) == _sha(unicodedata.normalize("NFD", BASE))


def test_any_change_of_meaning_changes_it() -> None:
    """A changed number, label, name or version gives another hash."""
    base = _sha(BASE)
    assert base != _sha(BASE.replace("max 4 =", "max 5 =", 1))
    assert base != _sha(BASE.replace('"Hoàn thành tốt nhiệm vụ"', '"Hoàn thành tốt"', 1))
    assert base != _sha(BASE.replace('version "2023.1"', 'version "2023.2"', 1))
    assert base != _sha(BASE.replace("advanced_members > 50%", "advanced_members >= 50%", 1))


def test_extends_has_the_identity_of_the_same_rules_written_flat() -> None:
    """khoi3 2024.1 (written with extends) hashes like its resolved text written out as one file."""
    resolved = Registry(REPO / "rulesets").resolve("khoi3", "2024.1").ruleset
    flat_text = canonical_text(resolved)
    assert "extends" not in flat_text
    assert ruleset_sha256(resolved) == _sha(flat_text)
    assert _sha(BASE) != ruleset_sha256(resolved)


@settings(max_examples=25)  # large generated trees; the suite's time budget is shared
@given(strategies.rulesets)
def test_property_identity_survives_formatting(generated: n.Ruleset) -> None:
    """For any ruleset, formatting it and parsing the text back gives the same identity."""
    flat = n.Ruleset(generated.name, generated.version, generated.parent, generated.items)
    text = canonical_text(flat)
    sf = parse(text, "x.rules")
    assert sf.ruleset is not None
    assert ruleset_sha256(flat) == ruleset_sha256(sf.ruleset)
