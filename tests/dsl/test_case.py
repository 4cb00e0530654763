"""Tests for dsl.case: reading and checking a bloc CASE."""

from __future__ import annotations

import copy
import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from dsl.case import Case, HistoryEntry, Holders, check_case, load_case, parse_case, period_key
from dsl.errors import InputError

EXAMPLE_CASE = Path(__file__).resolve().parents[2] / "rulesets" / "khoi3" / "cases" / "2023.json"


def small_case(**overrides: Any) -> dict[str, Any]:
    case: dict[str, Any] = {
        "ruleset": "khoi3@2023.1",
        "bloc": "khoi3",
        "period": "2023",
        "members": ["a", "b", "c"],
        "current": {"leader": "a", "deputy": "b"},
        "history": [{"period": "2022", "leader": "c", "deputy": "a"}],
        "submissions": [
            {"unit": "a", "inputs": {"x": 1}},
            {"unit": "b", "inputs": {"x": 2}},
            {"unit": "c", "inputs": {"x": 3}},
        ],
    }
    case.update(overrides)
    return case


def violations(data: Any) -> dict[str, str]:
    _, found = check_case(data)
    return {v.field: v.message for v in found}


def test_reads_the_reference_case() -> None:
    """The bundled reference case reads into members, holders, history and six submissions."""
    case = load_case(EXAMPLE_CASE.read_text(encoding="utf-8"))
    assert ("hau_can", "tham_muu", "ubkt", "tccb", "ctd_ctct", "thanh_tra") == case.members
    assert Holders("ubkt", "hau_can") == case.current
    assert Holders() == case.elected
    assert (HistoryEntry("2022", "tccb", "ubkt"),) == case.history
    assert 6 == len(case.submissions)
    assert "khoi3@2023.1" == case.ruleset


def test_json_numbers_become_decimals_not_floats() -> None:
    """A JSON decimal number is read as an exact Decimal; an integer stays an int."""
    case = load_case(json.dumps(small_case()).replace('"x": 1}', '"x": 0.1, "y": 7}'))
    sub = case.submission("a")
    assert sub is not None
    assert Decimal("0.1") == sub.inputs["x"]
    assert isinstance(sub.inputs["x"], Decimal)
    assert 7 == sub.inputs["y"]


def test_malformed_json_names_line_and_column() -> None:
    """Text that is not JSON is an InputError saying where it broke."""
    with pytest.raises(InputError) as exc:
        load_case('{"members": [', "case.json")
    assert "case.json" == exc.value.violations[0].field
    assert "line 1" in exc.value.violations[0].message


def test_nan_is_rejected() -> None:
    """NaN is not a number a case may carry."""
    with pytest.raises(InputError) as exc:
        load_case('{"members": ["a"], "submissions": [{"unit": "a", "inputs": {"x": NaN}}]}')
    assert "NaN" in str(exc.value)


def test_history_is_sorted_newest_first_in_natural_order() -> None:
    """History entries are ordered by period, newest first, with numeric parts compared as numbers."""
    case = parse_case(
        small_case(
            period="2023.10",
            history=[
                {"period": "2023.2", "leader": "a"},
                {"period": "2023.9", "leader": "b"},
                {"period": "2022.11", "leader": "c"},
            ],
        )
    )
    assert ["2023.9", "2023.2", "2022.11"] == [h.period for h in case.history]


def test_period_key_orders_numerically() -> None:
    """2023.10 comes after 2023.9."""
    assert period_key("2023.10") > period_key("2023.9")


def test_missing_members_is_an_error() -> None:
    """A case without members says they are required."""
    data = small_case()
    del data["members"]
    assert "members" in violations(data)
    assert "required" in violations(data)["members"]


def test_member_without_submission() -> None:
    """A member with no submission is reported at its members[] position."""
    data = small_case()
    data["submissions"] = data["submissions"][:2]
    assert {"members[2]": "member 'c' has no submission"} == violations(data)


def test_submission_for_a_non_member() -> None:
    """A submission for a unit outside the bloc is reported at its unit field."""
    data = small_case()
    data["submissions"].append({"unit": "z", "inputs": {}})
    assert {"submissions[3].unit": "'z' is not a member of the bloc"} == violations(data)


def test_two_submissions_for_one_unit() -> None:
    """A second submission for the same unit names the first one."""
    data = small_case()
    data["submissions"].append({"unit": "b", "inputs": {}})
    found = violations(data)
    assert ["submissions[3].unit"] == list(found)
    assert "first at submissions[1]" in found["submissions[3].unit"]


def test_duplicate_members() -> None:
    """A unit listed twice among the members is an error."""
    data = small_case(members=["a", "b", "a", "c"])
    assert {"members[2]": "'a' is listed twice (first at members[0])"} == violations(data)


def test_holders_and_history_must_be_members() -> None:
    """Current, elected and history units outside the bloc are each reported."""
    data = small_case(
        current={"leader": "x", "deputy": "b"},
        elected={"deputy": "y"},
        history=[{"period": "2022", "leader": "a", "deputy": "w"}],
    )
    assert {"current.leader", "elected.deputy", "history[0].deputy"} == set(violations(data))


def test_every_problem_is_reported_at_once() -> None:
    """Several independent problems come back together in one InputError."""
    data = small_case(members=["a", "b", "b", "c"], current={"leader": "q"})
    data["submissions"].append({"unit": "a", "inputs": {}})
    data["submissions"].append({"unit": "k", "inputs": []})
    with pytest.raises(InputError) as exc:
        parse_case(data)
    fields = {v.field for v in exc.value.violations}
    assert {
        "members[2]",
        "current.leader",
        "submissions[3].unit",
        "submissions[4](k).inputs",
        "submissions[4].unit",
    } == fields
    assert "case" == exc.value.what


def test_unknown_fields_are_reported() -> None:
    """A misspelt top-level field is an error rather than silently ignored."""
    data = small_case()
    data["histroy"] = []
    assert "histroy" in violations(data)


def test_history_period_must_be_earlier() -> None:
    """A history entry for the case's own period (or later) is an error."""
    data = small_case(history=[{"period": "2023", "leader": "a"}])
    assert "history[0].period" in violations(data)


def test_wrong_shapes_are_reported() -> None:
    """Non-object case, non-list members and non-string units are reported without a crash."""
    assert {"$"} == set(violations([1, 2]))
    assert "members" in violations(small_case(members="a,b"))
    data = small_case()
    data["submissions"][0]["unit"] = 5
    assert "submissions[0].unit" in violations(data)


def test_same_leader_and_deputy_is_an_error() -> None:
    """The current leader cannot also be the current deputy."""
    assert "current.deputy" in violations(small_case(current={"leader": "a", "deputy": "a"}))


def test_unit_names_are_nfc_normalized() -> None:
    """A unit name typed with decomposed diacritics equals its composed form."""
    composed = "đội_hậu_cần"
    decomposed = "đội_ha\u0302\u0323u_ca\u0302\u0300n"
    data = small_case(members=[composed, "b", "c"], current={})
    data["history"] = []
    data["submissions"][0]["unit"] = decomposed
    case = parse_case(data)
    assert composed == case.submissions[0].unit


def test_absent_holders_are_fine() -> None:
    """A case without current or elected holders is valid (a new bloc)."""
    data = small_case()
    del data["current"]
    case = parse_case(copy.deepcopy(data))
    assert isinstance(case, Case)
    assert Holders() == case.current


def test_absurdly_nested_json_is_an_input_error() -> None:
    """JSON nested beyond what the parser can follow is reported, not a crash."""
    with pytest.raises(InputError, match="nested too deeply"):
        load_case("[" * 100_000 + "]" * 100_000)


def test_duplicate_json_key_is_an_input_error() -> None:
    """A key given twice in one case object is refused, naming the key (JSON would keep only the last)."""
    with pytest.raises(InputError, match='the key "members" appears twice'):
        load_case('{"members": ["a", "b"], "members": ["a"], "submissions": []}')


def test_duplicate_key_composed_and_decomposed_is_an_input_error() -> None:
    """A key typed once composed and once decomposed is the same name (NFC) and so a duplicate."""
    import unicodedata

    nfc, nfd = (unicodedata.normalize(form, "thành_viên") for form in ("NFC", "NFD"))
    with pytest.raises(InputError, match="appears twice"):
        load_case(f'{{"{nfc}": 1, "{nfd}": 2, "members": [], "submissions": []}}')
