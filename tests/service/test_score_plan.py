"""Tests for service/score_plan.py: the Score fast path gives exactly the generic converters' answers."""

from __future__ import annotations

import unicodedata
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dsl.api import CompiledRuleset, compile_ruleset
from dsl.errors import InputError
from dsl.results import TitleResult, UnitResult
from service.config import Limits
from service.convert import criterion_sections, inputs_to_python, ruleset_pb, unit_result_pb
from service.errors import RequestLimitError
from service.gen.thidua.v1 import evaluation_pb2 as ev
from service.gen.thidua.v1 import values_pb2 as vals
from service.score_plan import ScorePlan, score_plan
from tests.service.value_strategies import nested_values

RULESET = """ruleset kinds version "1" {
  rounding %d half_up
  input count: int in 0..100 "Số"
  input ratio: decimal >= 0 default 0 "Tỷ lệ"
  input ok: bool default false "Đạt"
  input note: text default "" "Ghi chú"
  input day: date "Ngày"
  input rating: enum(high, low) "Xếp loại"
  input items: list of { form: enum(a, b) } "Danh sách"
  input điểm: int >= 0 default 0 "Điểm"
  group main "Nhóm chính" max 50 {
    criterion c_count "Đếm" max 20 = count / 3
    criterion c_ratio "Tỷ lệ" max 20 = ratio * 7
    criterion c_day "Ngày" max 5 = if day <= 2023-06-30 then 5 else 1
  }
  group other "Nhóm khác" max 10 {
    criterion c_items "Mục" max 10 = 2 * count(items)
    criterion c_diem "Điểm" max 10 = điểm
  }
  bonus "Thưởng" max 5 {
    criterion b_ok "Đạt" = if ok then 1.5 else 0
  }
  penalty "Trừ" {
    criterion p_low "Thấp" = if rating == low then 2 else 0
  }
  classify {
    level top "Xuất sắc" when score >= 40
    level fine "Tốt" otherwise
  }
  title star "Ngôi sao" {
    require level == top "Xuất sắc"
    require rank == 1 "Dẫn đầu"
  }
  title plain "Thường" {
    require count >= 10 "Đủ số"
  }
}"""

COMPILED = {places: compile_ruleset(RULESET % places, f"<kinds {places}>") for places in (0, 2, 3)}
LIMITS = Limits(max_list_length=3)
DECOMPOSED = unicodedata.normalize("NFD", "điểm")


# ------------------------------------------------------------------ inputs


def _outcome(read: Any) -> Any:
    """What a conversion gave, comparable exactly: items in order with reprs, or the error's contents."""
    try:
        out = read()
    except InputError as exc:
        return ("InputError", exc.what, [(v.field, v.message) for v in exc.violations])
    except RequestLimitError as exc:
        return ("RequestLimitError", str(exc), exc.limit, exc.field)
    return ("ok", [(k, repr(v)) for k, v in out.items()])


_texts = st.sampled_from(
    ["", "a", "low", "high", " x ", "Đo\u0302\u0300", "\ufeffhigh", "2023-01-02", "2023-02-30", "12.5"]
)
_scalars = st.one_of(
    st.builds(lambda i: vals.Value(integer=i), st.sampled_from([0, 1, -1, 7, 100, 101, 2**62])),
    st.builds(
        lambda d: vals.Value(decimal=d), st.sampled_from(["0", "1.25", " 2.5 ", "-0.0", "1e5", "", "x"])
    ),
    st.builds(lambda b: vals.Value(boolean=b), st.booleans()),
    st.builds(lambda t: vals.Value(text=t), _texts),
    st.builds(
        lambda d: vals.Value(date=d), st.sampled_from(["2023-01-02", "2024-02-29", "2023-02-30", "x", ""])
    ),
    st.just(vals.Value()),
)
_values = nested_values(_scalars, ["form", "x", "Đo\u0302\u0300"], max_fields=2, max_leaves=6)
_names = st.sampled_from(
    ["count", "ratio", "ok", "note", "day", "rating", "items", "điểm", DECOMPOSED, "extra", "Ω", "\u212a"]
)


@settings(max_examples=300)
@given(st.dictionaries(_names, _values, max_size=10), st.sampled_from(sorted(COMPILED)))
def test_inputs_read_like_the_generic_reader(values: dict[str, vals.Value], places: int) -> None:
    """Any inputs map: same values in the same order, or the same error with the same violations."""
    message = ev.ScoreRequest(inputs=values).inputs
    plan = score_plan(COMPILED[places])
    generic = _outcome(lambda: inputs_to_python(message, LIMITS))
    assert generic == _outcome(lambda: plan.read_inputs(message, LIMITS))


def test_declared_kinds_are_read_without_the_generic_reader(monkeypatch: pytest.MonkeyPatch) -> None:
    """A typical submission (zeros, an empty list, a date as text) never falls back to the generic reader."""
    import service.convert as convert
    import service.score_plan as module

    def refuse(*args: Any) -> Any:
        raise AssertionError("the generic reader was used")

    monkeypatch.setattr(convert._Reader, "value", refuse)
    monkeypatch.setattr(module, "inputs_to_python", refuse)
    values = {
        "count": vals.Value(integer=0),
        "ratio": vals.Value(decimal="1.25"),
        "ok": vals.Value(boolean=False),
        "note": vals.Value(text="abc"),
        "day": vals.Value(text="2023-01-02"),
        "rating": vals.Value(text="low"),
        "items": vals.Value(list=vals.ValueList()),
        "điểm": vals.Value(integer=3),
    }
    got = score_plan(COMPILED[2]).read_inputs(ev.ScoreRequest(inputs=values).inputs, LIMITS)
    assert {
        "count": 0,
        "ratio": Decimal("1.25"),
        "ok": False,
        "note": "abc",
        "day": "2023-01-02",
        "rating": "low",
        "items": [],
        "điểm": 3,
    } == got


# ------------------------------------------------------------------ results


def _plain(compiled: CompiledRuleset, r: UnitResult) -> bytes:
    """The response as the generic converters build it, field by field."""
    return ev.ScoreResponse(
        ruleset=ruleset_pb(compiled.ref),
        result=unit_result_pb(r, explain=False, sections=criterion_sections(compiled)),
    ).SerializeToString()


_decimals = st.one_of(
    st.integers(0, 5).flatmap(
        lambda p: st.decimals(
            allow_nan=False, allow_infinity=False, min_value=-(10**9), max_value=10**9, places=p
        )
    ),
    st.decimals(allow_nan=False, allow_infinity=False, min_value=-(10**12), max_value=10**12),
    st.sampled_from(
        [Decimal("0"), Decimal("-0"), Decimal("-0.00"), Decimal("1E+2"), Decimal("1E-10"), Decimal("1.005")]
    ),
)
_unit_texts = st.one_of(st.sampled_from(["", "tham_muu", "đơn vị", "x" * 200]), st.text(max_size=8))
_statuses = st.sampled_from(["eligible", "not_eligible", "undecided", "awarded", "tied", "over_quota", "odd"])


@st.composite
def _results(draw: st.DrawFn, compiled: CompiledRuleset) -> UnitResult:
    group_names = [g.name for g in compiled.plan.groups]
    criterion_names = [name for name, _ in criterion_sections(compiled)]
    groups = {
        name: draw(_decimals)
        for name in draw(st.lists(st.sampled_from([*group_names, "ghost", "Ω"]), unique=True))
    }
    criteria = {
        name: draw(_decimals) for name in draw(st.lists(st.sampled_from(criterion_names), unique=True))
    }
    values: dict[str, Any] = {
        name: draw(st.one_of(_decimals, st.just(3), st.just("text")))
        for name in draw(st.lists(st.sampled_from([*criterion_names, "count"]), unique=True))
    }
    titles = {
        name: TitleResult(
            name,
            draw(st.sampled_from(["", "Ngôi sao", "label"])),
            draw(_statuses),
            (),
            draw(
                st.sampled_from([None, "", "needs the bloc (rank, bloc size or a bloc aggregate)", "ghi chú"])
            ),
        )
        for name in draw(st.lists(st.sampled_from(["star", "plain", "other"]), unique=True))
    }
    level: Any = draw(st.sampled_from([None, "", "top", "fine", "mức khác"]))  # None: no classify block
    return UnitResult(
        unit=draw(st.one_of(st.none(), _unit_texts)),
        ruleset=compiled.ref,
        places=compiled.places,
        score=draw(_decimals),
        level=level,
        groups=groups,
        criteria=criteria,
        bonus=draw(_decimals),
        penalty=draw(_decimals),
        titles=titles,
        values=values,
        rank=draw(st.one_of(st.none(), st.integers(-(2**31), 2**31 - 1))),
    )


@settings(max_examples=300)
@given(st.data(), st.sampled_from(sorted(COMPILED)))
def test_encoded_response_is_byte_for_byte_the_plain_message(data: st.DataObject, places: int) -> None:
    """Random results: the hand-encoded ScoreResponse equals the field-by-field message's bytes."""
    compiled = COMPILED[places]
    plan = ScorePlan(compiled)
    r = data.draw(_results(compiled))
    expected = _plain(compiled, r)
    assert expected == plan.response_bytes(r)
    # Twice: the second time from the remembered encodings.
    assert expected == plan.response_bytes(r)
    assert ev.ScoreResponse.FromString(expected) == plan.response(r)


@pytest.mark.parametrize("places", sorted(COMPILED))
def test_engine_results_encode_like_the_plain_message(places: int) -> None:
    """Real scores of the test ruleset, every title status: the same bytes as the plain path."""
    compiled = COMPILED[places]
    plan = score_plan(compiled)
    for count, ratio, rating in [
        (0, "0", "high"),
        (50, "1.25", "low"),
        (100, "9.999", "high"),
        (7, "0.001", "low"),
    ]:
        inputs = {"count": count, "ratio": Decimal(ratio), "day": "2023-01-02", "rating": rating, "items": []}
        r = compiled.score(inputs, unit="u")
        assert _plain(compiled, r) == plan.response_bytes(r)
