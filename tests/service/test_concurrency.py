"""Concurrency: scoring the same submissions from 16 threads gives exactly what one thread gives.

Through the Python API (a freshly compiled ruleset, so the threads also race
on its lazily compiled functions) and through the gRPC service (Score and
CheckEligibility), answers are compared byte for byte with a single-threaded
run — results, explanations and errors alike.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable, Iterator
from decimal import Decimal
from typing import Any

import grpc
import pytest

from dsl.api import compile_ruleset
from dsl.errors import ThiduaError
from service.convert import value_from_json
from service.gen.thidua.v1 import evaluation_pb2 as ev
from tests.service.grpc_helpers import KHOI3, ROOT, Client, load_case, make_rulesets, serving

THREADS = 16
REFERENCE = ROOT / "rulesets" / "khoi3" / "2023.1.rules"


def _variants() -> list[tuple[str, dict[str, Any]]]:
    """The bundled case's submissions, and each with its whole numbers scaled ×0, ×2, ×3 (some invalid)."""
    out: list[tuple[str, dict[str, Any]]] = []
    for sub in load_case()["submissions"]:
        out.append((sub["unit"], sub["inputs"]))
        for k in (0, 2, 3):
            scaled = {
                name: value * k if isinstance(value, int) and not isinstance(value, bool) else value
                for name, value in sub["inputs"].items()
            }
            out.append((sub["unit"], scaled))
    return out


VARIANTS = _variants()


def _race(work: Callable[[int], list[Any]]) -> list[list[Any]]:
    """Run ``work(thread_index)`` on THREADS threads released together; their results in thread order."""
    barrier = threading.Barrier(THREADS)
    results: list[list[Any]] = [[] for _ in range(THREADS)]
    failures: list[BaseException] = []

    def run(index: int) -> None:
        barrier.wait()
        try:
            results[index] = work(index)
        except BaseException as exc:  # surfaced below with the thread's index
            failures.append(exc)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(THREADS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert [] == failures
    return results


def _rotated(index: int) -> list[int]:
    """Each thread walks the submissions from a different start, so different inputs overlap in time."""
    order = list(range(len(VARIANTS)))
    shift = index % len(order)
    return order[shift:] + order[:shift]


def _api_outcome(rs: Any, unit: str, inputs: dict[str, Any], explain: bool) -> Any:
    try:
        return rs.score(dict(inputs), unit=unit, explain=explain).to_json(explain=explain)
    except ThiduaError as exc:
        return ("error", type(exc).__name__, str(exc))


def test_api_scoring_from_16_threads_equals_one_thread() -> None:
    """A fresh ruleset scored from 16 threads at once: every result, explanation and error as in one thread."""
    source = REFERENCE.read_text(encoding="utf-8")
    alone = compile_ruleset(source, str(REFERENCE))
    expected = [_api_outcome(alone, u, i, e) for u, i in VARIANTS for e in (False, True)]
    assert any(isinstance(x, tuple) for x in expected), "some variants must fail validation"
    assert any(isinstance(x, dict) for x in expected)
    shared = compile_ruleset(source, str(REFERENCE))  # fresh: its functions compile on first use, in the race

    def work(index: int) -> list[Any]:
        got: dict[int, Any] = {}
        for position in _rotated(index):
            unit, inputs = VARIANTS[position]
            for e, explain in enumerate((False, True)):
                got[2 * position + e] = _api_outcome(shared, unit, inputs, explain)
        return [got[k] for k in sorted(got)]

    for got in _race(work):
        assert expected == got


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Client]:
    with serving(make_rulesets(tmp_path_factory.mktemp("rulesets"))) as c:
        yield c


def _score_request(unit: str, inputs: dict[str, Any]) -> ev.ScoreRequest:
    return ev.ScoreRequest(
        ruleset=KHOI3, unit=unit, inputs={k: value_from_json(v) for k, v in inputs.items()}, explain=True
    )


def _eligibility_request() -> ev.CheckEligibilityRequest:
    case = load_case()
    bloc = ev.BlocCase(
        bloc=case["bloc"],
        period=case["period"],
        members=case["members"],
        submissions=[
            ev.Submission(unit=s["unit"], inputs={k: value_from_json(v) for k, v in s["inputs"].items()})
            for s in case["submissions"]
        ],
    )
    return ev.CheckEligibilityRequest(ruleset=KHOI3, bloc_case=bloc, explain=True)


def _rpc_outcome(call: Callable[[], Any]) -> Any:
    try:
        return call().SerializeToString(deterministic=True)
    except grpc.RpcError as exc:
        return ("error", exc.code(), exc.details())


def test_grpc_scoring_from_16_threads_equals_one_thread(client: Client) -> None:
    """Score (with explanations) and CheckEligibility from 16 threads: answers byte-identical to one thread."""
    requests = [_score_request(u, i) for u, i in VARIANTS]
    check = _eligibility_request()

    def one_pass(order: list[int]) -> list[Any]:
        got: dict[int, Any] = {}
        for p in order:
            got[p] = _rpc_outcome(functools.partial(client.evaluation.Score, requests[p], timeout=60))
        out = [got[p] for p in sorted(got)]
        out.append(_rpc_outcome(lambda: client.evaluation.CheckEligibility(check, timeout=60)))
        return out

    expected = one_pass(list(range(len(requests))))
    assert any(isinstance(x, bytes) for x in expected)
    assert any(isinstance(x, tuple) and x[1] == grpc.StatusCode.INVALID_ARGUMENT for x in expected)
    for got in _race(lambda index: one_pass(_rotated(index))):
        assert expected == got


def test_variants_hold_decimal_values_not_floats() -> None:
    """The shared submissions are read with Decimal (never float), so equality is exact."""
    values = [v for _, inputs in VARIANTS for v in inputs.values()]
    assert not any(isinstance(v, float) for v in values)
    assert any(isinstance(v, (int, Decimal)) for v in values)
