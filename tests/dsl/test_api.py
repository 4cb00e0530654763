"""Tests for dsl.api: compile once, validate, score, explain, titles at unit and bloc level."""

from __future__ import annotations

import json
import threading
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from dsl.api import CompiledRuleset, compile_ruleset, load_ruleset
from dsl.errors import EvaluationError, InputError, RulesetError
from dsl.inputs import load_json

ROOT = Path(__file__).resolve().parents[2]
RULES = ROOT / "rulesets" / "khoi3" / "2023.1.rules"
CASE = ROOT / "rulesets" / "khoi3" / "cases" / "2023.json"

EXPECTED = {
    "tham_muu": ("102.88", "excellent"),
    "tccb": ("98.83", "excellent"),
    "ctd_ctct": ("97.00", "good"),
    "ubkt": ("90.40", "excellent"),
    "hau_can": ("82.50", "good"),
    "thanh_tra": ("74.50", "done"),
}


@pytest.fixture(scope="module")
def khoi3() -> CompiledRuleset:
    return load_ruleset(RULES)


@pytest.fixture(scope="module")
def submissions() -> dict[str, dict[str, Any]]:
    case = load_json(CASE.read_text(encoding="utf-8"))
    return {s["unit"]: s["inputs"] for s in case["submissions"]}


def test_reference_example_scores(khoi3: CompiledRuleset, submissions: dict[str, dict[str, Any]]) -> None:
    """Every unit of the reference bloc gets the announced score and level."""
    for unit, (score, level) in EXPECTED.items():
        result = khoi3.score(submissions[unit], unit=unit).to_json()
        assert (score, level) == (result["score"], result["level"]), unit


def test_reference_interpreter_agrees(khoi3: CompiledRuleset, submissions: dict[str, dict[str, Any]]) -> None:
    """The AST interpreter gives the same full explained result as the compiled code."""
    for unit, inputs in submissions.items():
        compiled = khoi3.score(inputs, unit=unit, explain=True)
        reference = khoi3.score(inputs, unit=unit, explain=True, reference=True)
        assert compiled.to_json(explain=True) == reference.to_json(explain=True)
        assert compiled.values == reference.values


def test_identity_fields(khoi3: CompiledRuleset) -> None:
    """The compiled ruleset names itself, its rounding and a SHA-256 of its text."""
    assert ("khoi3", "2023.1", 2, "half_up") == (khoi3.name, khoi3.version, khoi3.places, khoi3.rounding_mode)
    assert 64 == len(khoi3.sha256)
    assert khoi3.sha256 == khoi3.ref.sha256
    assert khoi3.uses_bloc is False


def test_json_shape_of_one_unit(khoi3: CompiledRuleset, submissions: dict[str, dict[str, Any]]) -> None:
    """`to_json` has SPEC §2's fields with decimals as strings of exactly two places."""
    out = khoi3.score(submissions["tham_muu"], unit="tham_muu").to_json()
    assert {"unit", "score", "level", "groups", "criteria", "bonus", "penalty", "titles"} <= set(out)
    assert "19.88" == out["groups"]["force"]
    assert "5.88" == out["criteria"]["training"]
    assert "3.00" == out["bonus"]
    assert "rank" not in out


def test_unit_level_title_eligibility(khoi3: CompiledRuleset, submissions: dict[str, dict[str, Any]]) -> None:
    """Alone, a unit is eligible/not_eligible, or undecided where `rank` is needed; failures win."""
    titles = khoi3.score(submissions["tham_muu"]).to_json()["titles"]
    assert {
        "tien_tien": "eligible",
        "quyet_thang": "eligible",
        "co_bca": "undecided",
        "co_ubnd": "undecided",
    } == titles
    titles = khoi3.score(submissions["ubkt"]).to_json()["titles"]
    # co_bca needs rank (undecided) but fails the 80% vote: a failure beats undecided.
    assert "not_eligible" == titles["co_bca"]
    titles = khoi3.score(submissions["ctd_ctct"]).to_json()["titles"]
    assert "not_eligible" == titles["tien_tien"]


def test_values_hold_every_name(khoi3: CompiledRuleset, submissions: dict[str, dict[str, Any]]) -> None:
    """`UnitResult.values` has inputs, lets, criteria, groups, bonus, penalty, score and level."""
    values = khoi3.score(submissions["ubkt"]).values
    for name in ("members", "target_rate", "severe_discipline", "plan", "mission", "bonus", "penalty"):
        assert name in values
    assert Decimal("90.40") == values["score"]
    assert "excellent" == values["level"]
    assert Decimal(14) == values["advanced_members"]


def test_explanation_contents(khoi3: CompiledRuleset, submissions: dict[str, dict[str, Any]]) -> None:
    """Explanations give raw values, clamping, the matched table row, group sums and level steps."""
    result = khoi3.score(submissions["tham_muu"], explain=True)
    ex = result.explanation
    assert ex is not None
    crit = {c.name: c for c in ex.criteria}
    # mass_movement = 2 × 3 models = 6, over its max of 5.
    assert (Decimal(6), Decimal("5.00"), True) == (
        crit["mass_movement"].raw,
        crit["mass_movement"].points,
        crit["mass_movement"].clamped,
    )
    assert crit["key_tasks"].clamped is False
    assert 1 == crit["targets"].table_row
    assert 1 == crit["party"].table_row
    mission = next(g for g in ex.groups if g.name == "mission")
    assert (Decimal("50.00"), Decimal("50")) == (mission.total, mission.value)
    assert ex.level is not None and "excellent" == ex.level.level
    assert ex.level.steps[0].when is True and ex.level.steps[0].unless is False
    reqs = result.titles["tien_tien"].requires
    assert [True, True, True] == [r.passed for r in reqs]
    assert "advanced_members > 50% * members" == reqs[1].text
    assert {"advanced_members": Decimal(40), "members": Decimal(48)} == reqs[1].values


def test_explanations_off_record_nothing(
    khoi3: CompiledRuleset, submissions: dict[str, dict[str, Any]]
) -> None:
    """Without `explain`, no explanation and no requirement details are built."""
    result = khoi3.score(submissions["tham_muu"])
    assert result.explanation is None
    assert () == result.titles["tien_tien"].requires


def test_validated_inputs_can_be_reused(
    khoi3: CompiledRuleset, submissions: dict[str, dict[str, Any]]
) -> None:
    """`validated=True` scores inputs from `validate` without validating again."""
    inputs = khoi3.validate(submissions["tccb"])
    assert Decimal("98.83") == khoi3.score(inputs, validated=True).score


def test_bad_input_reports_every_violation(
    khoi3: CompiledRuleset, submissions: dict[str, dict[str, Any]]
) -> None:
    """Scoring an invalid submission raises InputError with all problems, never a traceback."""
    bad = dict(submissions["tham_muu"], members="many", party_rating="great")
    with pytest.raises(InputError) as info:
        khoi3.score(bad, unit="tham_muu")
    fields = {v.field for v in info.value.violations}
    assert {"members", "party_rating"} <= fields


def test_require_results_in_a_bloc(khoi3: CompiledRuleset, submissions: dict[str, dict[str, Any]]) -> None:
    """Bloc-level requirements read rank and earlier awards from `extra`."""
    values = khoi3.score(submissions["tham_muu"]).values
    results = khoi3.require_results("co_bca", values, {"rank": Decimal(1), "quyet_thang": True}, explain=True)
    assert [True, True, True] == [r.passed for r in results]
    assert {"rank": Decimal(1)} == results[1].values
    results = khoi3.require_results(
        "co_bca", values, {"rank": Decimal(2), "quyet_thang": True}, explain=False
    )
    assert [True, False, True] == [r.passed for r in results]
    assert {} == results[1].values


def test_require_results_without_rank_is_undecided(
    khoi3: CompiledRuleset, submissions: dict[str, dict[str, Any]]
) -> None:
    """A requirement whose names are not given is undecided, not an error."""
    values = khoi3.score(submissions["tham_muu"]).values
    results = khoi3.require_results("co_bca", values, {"quyet_thang": True}, explain=False)
    assert [True, None, True] == [r.passed for r in results]


def test_unknown_title_is_an_error(khoi3: CompiledRuleset) -> None:
    """Asking for a title the ruleset lacks is a clear EvaluationError."""
    with pytest.raises(EvaluationError, match="no title 'nope'"):
        khoi3.require_results("nope", {}, {}, explain=False)


def test_threads_give_the_same_results(
    khoi3: CompiledRuleset, submissions: dict[str, dict[str, Any]]
) -> None:
    """16 threads scoring at once get exactly what one thread gets."""
    expected = {u: khoi3.score(i, unit=u, explain=True).to_json(explain=True) for u, i in submissions.items()}
    failures: list[str] = []

    def work() -> None:
        for _ in range(20):
            for u, i in submissions.items():
                if khoi3.score(i, unit=u, explain=True).to_json(explain=True) != expected[u]:
                    failures.append(u)

    threads = [threading.Thread(target=work) for _ in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert [] == failures


def test_compile_errors_carry_every_diagnostic() -> None:
    """A ruleset with errors raises RulesetError listing each of them."""
    text = 'ruleset r version "1" {\n  let a = nope + 1\n  let b = also_nope\n}\n'
    with pytest.raises(RulesetError) as info:
        compile_ruleset(text, "r.rules")
    assert 2 <= len(info.value.diagnostics)


def test_no_ruleset_in_file() -> None:
    """A file with only tests cannot be compiled, with a clear message."""
    with pytest.raises(RulesetError, match="no ruleset"):
        compile_ruleset('test "x" { expect true }\n', "t.rules")


def test_first_calls_from_many_threads(submissions: dict[str, dict[str, Any]]) -> None:
    """16 threads racing on a fresh ruleset's first calls (which compile code lazily) agree."""
    fresh = load_ruleset(RULES)
    inputs = submissions["tccb"]
    explained: list[Any] = []
    plain: list[Any] = []

    def work() -> None:
        explained.append(fresh.score(inputs, explain=True).to_json(explain=True))
        plain.append(fresh.score(fresh.validate(inputs), validated=True).to_json())

    threads = [threading.Thread(target=work) for _ in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert (16, 16) == (len(explained), len(plain))
    assert all(r["score"] == "98.83" for r in explained + plain)
    assert 1 == len({json.dumps(r, sort_keys=True, ensure_ascii=False) for r in explained})
    assert 1 == len({json.dumps(r, sort_keys=True, ensure_ascii=False) for r in plain})
