"""Tests for dsl.inputs: submissions validated against declared types, constraints and defaults."""

from __future__ import annotations

import datetime as dt
import unicodedata
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dsl.api import CompiledRuleset, compile_ruleset
from dsl.errors import InputError
from dsl.inputs import load_json

RULES = """
ruleset v version "1" {
  input members: int >= 1
  input advanced: int in 0..members
  input rate: decimal
  input ok: bool
  input note: text default "none"
  input on: date
  input rating: enum(excellent, good, tốt)
  input extra: int >= 0 default 0
  input discipline: list of { form: enum(reprimand, warning), days: int }
  group g "G" max 10 {
    criterion c "C" max 10 = advanced / members * 10
  }
}
"""


@pytest.fixture(scope="module")
def rs() -> CompiledRuleset:
    return compile_ruleset(RULES, "v.rules")


def good() -> dict[str, Any]:
    return {
        "members": 10,
        "advanced": 5,
        "rate": "12.50",
        "ok": True,
        "on": "2023-02-28",
        "rating": "good",
        "discipline": [{"form": "warning", "days": 3}],
    }


def violations(rs: CompiledRuleset, raw: Any) -> dict[str, str]:
    with pytest.raises(InputError) as info:
        rs.validate(raw)
    return {v.field: v.message for v in info.value.violations}


def test_valid_submission_is_converted(rs: CompiledRuleset) -> None:
    """Numbers become exact Decimals, dates dates, defaults are filled in."""
    out = rs.validate(good())
    assert Decimal(10) == out["members"]
    assert Decimal("12.50") == out["rate"]
    assert dt.date(2023, 2, 28) == out["on"]
    assert "none" == out["note"]
    assert Decimal(0) == out["extra"]
    assert [{"form": "warning", "days": Decimal(3)}] == out["discipline"]


def test_every_violation_is_reported_at_once(rs: CompiledRuleset) -> None:
    """Several bad fields give one InputError naming each of them."""
    raw = dict(good(), members="ten", ok=1, on="28/02/2023", rating="great", bogus=1)
    del raw["rate"]
    found = violations(rs, raw)
    assert {"members", "ok", "on", "rating", "bogus", "rate"} == set(found)
    assert "is required" == found["rate"]
    assert "unknown input" in found["bogus"]


def test_unknown_field_suggests_a_name(rs: CompiledRuleset) -> None:
    """A misspelt input is an error with a did-you-mean."""
    raw = dict(good(), memebrs=3)
    assert "did you mean 'members'?" in violations(rs, raw)["memebrs"]


def test_list_items_are_checked_with_dotted_paths(rs: CompiledRuleset) -> None:
    """List records need exactly their fields; problems name `list[i].field`."""
    raw = dict(
        good(),
        discipline=[
            {"form": "warning", "days": 1},
            {"form": "slap"},
            7,
            {"form": "warning", "days": 1, "x": 2},
        ],
    )
    found = violations(rs, raw)
    assert "must be one of" in found["discipline[1].form"]
    assert "is missing" == found["discipline[1].days"]
    assert "must be an object" in found["discipline[2]"]
    assert "unknown field" in found["discipline[3].x"]


def test_constraint_bound_names_another_input(rs: CompiledRuleset) -> None:
    """`int in 0..members` uses the submission's members; the message shows both."""
    found = violations(rs, dict(good(), advanced=11))
    assert "must be from 0 to members (10), got 11" == found["advanced"]
    assert ">= 1" in violations(rs, dict(good(), members=0))["members"]


def test_constraint_on_an_invalid_bound_is_skipped(rs: CompiledRuleset) -> None:
    """When the bound's input is itself invalid, only that input is reported."""
    found = violations(rs, dict(good(), members="x", advanced=3))
    assert {"members"} == set(found)


def test_int_must_be_integral(rs: CompiledRuleset) -> None:
    """An int input rejects 2.5 but accepts 12.0 and the text "12"."""
    assert "whole number" in violations(rs, dict(good(), advanced=Decimal("2.5")))["advanced"]
    assert Decimal(5) == rs.validate(dict(good(), advanced=Decimal("5.0")))["advanced"]
    assert Decimal(5) == rs.validate(dict(good(), advanced="5"))["advanced"]


def test_floats_are_refused(rs: CompiledRuleset) -> None:
    """A binary float never enters the arithmetic: it is an input error."""
    assert "exactly" in violations(rs, dict(good(), rate=0.1))["rate"]


def test_bool_must_be_a_json_boolean(rs: CompiledRuleset) -> None:
    """0/1 and "true" are not booleans."""
    assert "true or false" in violations(rs, dict(good(), ok="true"))["ok"]
    assert "true or false" in violations(rs, dict(good(), ok=Decimal(1)))["ok"]


def test_dates_are_strict_iso(rs: CompiledRuleset) -> None:
    """Only YYYY-MM-DD strings of real dates are dates."""
    assert "YYYY-MM-DD" in violations(rs, dict(good(), on="20230228"))["on"]
    assert "not a valid date" in violations(rs, dict(good(), on="2023-02-30"))["on"]


def test_enum_values_and_keys_are_nfc_normalized(rs: CompiledRuleset) -> None:
    """A decomposed Vietnamese enum value equals its composed form."""
    decomposed = unicodedata.normalize("NFD", "tốt")
    assert decomposed != "tốt"
    assert "tốt" == rs.validate(dict(good(), rating=decomposed))["rating"]


def test_null_uses_the_default_or_is_an_error(rs: CompiledRuleset) -> None:
    """null counts as absent: defaults apply, required inputs are reported."""
    assert Decimal(0) == rs.validate(dict(good(), extra=None))["extra"]
    assert "must not be null" == violations(rs, dict(good(), members=None))["members"]


def test_not_an_object(rs: CompiledRuleset) -> None:
    """A submission that is not an object is one clear violation."""
    assert {"inputs"} == set(violations(rs, [1, 2]))


def test_json_numbers_are_decimals() -> None:
    """`load_json` never produces floats."""
    data = load_json('{"a": 0.1, "b": 3}')
    assert Decimal("0.1") == data["a"] and isinstance(data["a"], Decimal)
    assert isinstance(data["b"], Decimal)


@given(st.integers(min_value=1, max_value=10**6), st.integers(min_value=-5, max_value=10**6 + 5))
def test_range_constraint_matches_arithmetic(members: int, advanced: int) -> None:
    """`advanced in 0..members` accepts exactly the integers from 0 to members."""
    rs = _shared()
    raw = dict(good(), members=members, advanced=advanced)
    if 0 <= advanced <= members:
        assert Decimal(advanced) == rs.validate(raw)["advanced"]
    else:
        with pytest.raises(InputError):
            rs.validate(raw)


_CACHE: list[CompiledRuleset] = []


def _shared() -> CompiledRuleset:
    if not _CACHE:
        _CACHE.append(compile_ruleset(RULES, "v.rules"))
    return _CACHE[0]


RAW_VALUES = st.one_of(
    st.integers(min_value=-3, max_value=30),
    st.decimals(min_value=-5, max_value=30, places=2, allow_nan=False, allow_infinity=False),
    st.sampled_from(["12.50", "5", "x", "2023-02-28", "2023-02-30", "good", "tốt", "bad", True, False, None]),
    st.just([{"form": "warning", "days": 3}]),
    st.just([{"form": "nope"}]),
)


@given(
    st.dictionaries(
        st.sampled_from(
            ["members", "advanced", "rate", "ok", "note", "on", "rating", "extra", "discipline", "zz"]
        ),
        RAW_VALUES,
    )
)
def test_fast_path_agrees_with_general_validator(partial: dict[str, Any]) -> None:
    """The compiled fast path either defers (None) or returns exactly what the general validator returns."""
    rs = _shared()
    raw = dict(good(), **partial)
    fast = rs.evaluator.validate(raw)
    try:
        general: Any = rs.validator.validate(raw)
    except InputError:
        general = None
    if fast is not None:
        assert general == fast


def test_fast_path_takes_common_submissions() -> None:
    """A plain valid submission is accepted by the compiled fast path itself."""
    assert rs_fast_ok()


def rs_fast_ok() -> bool:
    rs = _shared()
    return rs.evaluator.validate(good() | {"rate": Decimal("12.50"), "on": "2023-02-28"}) is not None
