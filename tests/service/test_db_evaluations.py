"""service.db.repository: recorded evaluations, their idempotency, and re-evaluation against the SHA-256."""

from __future__ import annotations

import hashlib
from decimal import Decimal
from typing import Any

import pytest

from dsl.errors import ConflictError, NotFoundError
from service.db import Store, StoredRuleset

RESOLVED = 'ruleset khoi3 version "2023.1" {\n}\n'
SHA = hashlib.sha256(RESOLVED.encode()).hexdigest()
REQUEST = {"unit": "ubkt", "inputs": {"members": 20, "rate": Decimal("0.70")}}
RESULT = {"unit": "ubkt", "score": "97.50", "level": "excellent", "ruleset": {"sha256": SHA}}


def _published(store: Store) -> StoredRuleset:
    return store.publish("khoi3", "2023.1", RESOLVED, RESOLVED, SHA, "alice").ruleset


def test_record_and_read_back(store: Store) -> None:
    """A recorded evaluation keeps kind, ruleset identity, request and result exactly."""
    ruleset = _published(store)
    written = store.record_evaluation("score", ruleset, REQUEST, RESULT, bloc="khoi3", period="2023")
    stored = store.get_evaluation(written.evaluation.id)
    assert ("score", "khoi3", "2023.1", SHA, REQUEST, RESULT) == (
        stored.kind,
        stored.ruleset_name,
        stored.ruleset_version,
        stored.ruleset_sha256,
        stored.request,
        stored.result,
    )
    assert [stored] == store.evaluations(bloc="khoi3", period="2023")
    assert [] == store.evaluations(ruleset_sha256="0" * 64)


def test_without_a_key_every_evaluation_is_recorded(store: Store) -> None:
    """Two identical evaluations without an idempotency key are two records (each run is history)."""
    store.record_evaluation("score", ("khoi3", "2023.1", SHA), REQUEST, RESULT)
    store.record_evaluation("score", ("khoi3", "2023.1", SHA), REQUEST, RESULT)
    assert 2 == len(store.evaluations())


def test_keyed_evaluation_retry_is_a_no_op_and_other_content_conflicts(store: Store) -> None:
    """The same key returns the first record; the same key with another result is a ConflictError."""
    first = store.record_evaluation("score", ("khoi3", "2023.1", SHA), REQUEST, RESULT, idempotency_key="e1")
    again = store.record_evaluation("score", ("khoi3", "2023.1", SHA), REQUEST, RESULT, idempotency_key="e1")
    assert (False, first.evaluation.id) == (again.created, again.evaluation.id)
    with pytest.raises(ConflictError, match="idempotency key 'e1'"):
        store.record_evaluation(
            "score", ("khoi3", "2023.1", SHA), REQUEST, {"score": "1.00"}, idempotency_key="e1"
        )


def test_unknown_evaluation_is_not_found(store: Store) -> None:
    """get_evaluation of an id never recorded raises NotFoundError."""
    with pytest.raises(NotFoundError, match="evaluation 41 not found"):
        store.get_evaluation(41)


def test_verify_reevaluates_with_the_ruleset_its_sha_names(store: Store) -> None:
    """Verification hands the stored ruleset and request to the engine and compares the results."""
    ruleset = _published(store)
    evaluation_id = store.record_evaluation("score", ruleset, REQUEST, RESULT).evaluation.id
    seen: list[tuple[str, Any]] = []

    def same_engine(used: StoredRuleset, request: Any) -> Any:
        seen.append((used.sha256, request))
        return dict(RESULT)

    verified = store.verify_evaluation(evaluation_id, same_engine)
    assert [(SHA, REQUEST)] == seen
    assert (True, ruleset) == (verified.matches, verified.ruleset)

    def changed_engine(used: StoredRuleset, request: Any) -> Any:
        return {**RESULT, "score": "97.49"}

    assert False is store.verify_evaluation(evaluation_id, changed_engine).matches


def test_verify_without_the_stored_ruleset_is_not_found(store: Store) -> None:
    """An evaluation whose ruleset SHA-256 is not stored cannot be verified, and says so."""
    evaluation_id = store.record_evaluation("score", ("khoi3", "2023.1", SHA), REQUEST, RESULT).evaluation.id
    with pytest.raises(NotFoundError, match="cannot be re-evaluated"):
        store.verify_evaluation(evaluation_id, lambda ruleset, request: RESULT)
