"""Tests for service/convert.py: typed Values in, result records out, exact decimals both ways."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dsl.errors import InputError
from service.config import Limits
from service.convert import case_from_json, case_to_mapping, inputs_to_python, to_value, value_from_json
from service.errors import RequestLimitError
from service.gen.thidua.v1 import evaluation_pb2 as ev
from service.gen.thidua.v1 import values_pb2 as vals


def test_each_kind_becomes_what_json_would_give() -> None:
    """decimal → Decimal, integer → int, text NFC, date → ISO text, lists and records recursively."""
    values = {
        "d": vals.Value(decimal="0.70"),
        "i": vals.Value(integer=-3),
        "b": vals.Value(boolean=False),
        "t": vals.Value(text="Đo\u0302\u0300"),  # decomposed diacritics
        "day": vals.Value(date="2024-02-29"),
        "l": value_from_json([{"form": "warning"}]),
    }
    got = inputs_to_python(values, Limits())
    assert {
        "d": Decimal("0.70"),
        "i": -3,
        "b": False,
        "t": "Đồ",
        "day": "2024-02-29",
        "l": [{"form": "warning"}],
    } == got
    assert isinstance(got["d"], Decimal)


@pytest.mark.parametrize("text", ["1e5", "NaN", "Infinity", "1,5", "", "--1", "0x10", "1" * 101])
def test_malformed_decimals_are_violations(text: str) -> None:
    """Only plain base-10 decimals are accepted; the violation names the field."""
    with pytest.raises(InputError) as info:
        inputs_to_python({"x": vals.Value(decimal=text)}, Limits())
    assert ["inputs.x"] == [v.field for v in info.value.violations]


@pytest.mark.parametrize("text", ["2023-02-30", "2023-2-3", "23-02-03", "yesterday"])
def test_malformed_dates_are_violations(text: str) -> None:
    """Dates must be real calendar days written YYYY-MM-DD."""
    with pytest.raises(InputError):
        inputs_to_python({"x": vals.Value(date=text)}, Limits())


def test_every_violation_at_once_in_field_order() -> None:
    """All malformed values are reported together, sorted by field, nested paths included."""
    values = {
        "b": vals.Value(decimal="x"),
        "a": vals.Value(),
        "l": value_from_json([{"when": "2023-13-01"}]),
    }
    values["l"].list.values[0].record.fields["when"].CopyFrom(vals.Value(date="2023-13-01"))
    with pytest.raises(InputError) as info:
        inputs_to_python(values, Limits())
    assert ["inputs.a", "inputs.b", "inputs.l[0].when"] == [v.field for v in info.value.violations]


def test_list_length_limit() -> None:
    """A list longer than the limit raises the limit error for that field."""
    with pytest.raises(RequestLimitError) as info:
        inputs_to_python({"l": value_from_json([1, 2, 3])}, Limits(max_list_length=2))
    assert ("max_list_length", "inputs.l") == (info.value.limit, info.value.field)


@given(st.decimals(min_value=-(10**20), max_value=10**20, places=8))
def test_decimals_round_trip_exactly(value: Decimal) -> None:
    """Decimals sent with value_from_json arrive as the same number, digits and places kept."""
    got = inputs_to_python({"x": value_from_json(value)}, Limits(), prefix="")["x"]
    assert value == got
    assert str(value) == str(got) or value.is_zero()


def test_floats_are_refused_on_the_client_side() -> None:
    """value_from_json will not send a binary float."""
    with pytest.raises(TypeError):
        value_from_json(0.1)


def test_to_value_kinds() -> None:
    """Engine values become typed Values: decimals exact text, dates ISO, nested lists/records."""
    value = to_value([Decimal("2.50"), 3, True, dt.date(2023, 1, 2), {"k": "v"}, None, Decimal("1E-7")])
    kinds = [v.WhichOneof("kind") for v in value.list.values]
    assert ["decimal", "integer", "boolean", "date", "record", None, "decimal"] == kinds
    assert ("2.50", "2023-01-02") == (value.list.values[0].decimal, value.list.values[3].date)
    assert "0.0000001" == value.list.values[6].decimal, "never exponent notation"


def test_case_round_trip_leaves_absent_holders_out() -> None:
    """A CASE file → BlocCase → mapping keeps members, holders, history and inputs; empty holders vanish."""
    data = {
        "bloc": "k",
        "period": "2023",
        "members": ["a", "b"],
        "current": {"leader": "a"},
        "history": [{"period": "2022", "leader": "b", "deputy": "a"}],
        "submissions": [{"unit": "a", "inputs": {"n": 1}}, {"unit": "b", "inputs": {"n": Decimal("2.5")}}],
    }
    mapping = case_to_mapping(case_from_json(data), Limits())
    assert {**data, "elected": {}} == mapping


def test_units_per_bloc_limit() -> None:
    """More members than max_units_per_bloc raises the limit naming bloc_case.members."""
    case = ev.BlocCase(members=["a", "b", "c"])
    with pytest.raises(RequestLimitError) as info:
        case_to_mapping(case, Limits(max_units_per_bloc=2))
    assert ("max_units_per_bloc", "bloc_case.members") == (info.value.limit, info.value.field)


def test_a_name_given_composed_and_decomposed_is_refused() -> None:
    """'tên' sent both as NFC and NFD keys is one name (SPEC §1.1): a violation, not one value silently dropped."""
    import unicodedata

    nfc, nfd = (unicodedata.normalize(form, "điểm_số") for form in ("NFC", "NFD"))
    with pytest.raises(InputError) as info:
        inputs_to_python({nfc: vals.Value(integer=3), nfd: vals.Value(integer=9)}, Limits())
    assert 1 == len(info.value.violations)
    assert "given twice" in info.value.violations[0].message
