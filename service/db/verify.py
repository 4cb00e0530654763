"""Re-running a recorded evaluation with the ruleset its SHA-256 names (`thidua db verify`).

This module owns how each kind of recorded evaluation is computed again from
its stored request — the same engine calls the service made — so that
`Store.verify_evaluation` can compare the result with the stored one. The
ruleset is compiled from its stored resolved text, and its identity must be
the SHA-256 the evaluation names: a different hash means the stored text is
not the ruleset that produced the result, and verification fails loudly.
"""

from __future__ import annotations

from typing import Any

from dsl.errors import ThiduaError
from service.db.records import StoredEvaluation, StoredRuleset, Verification
from service.db.repository import Store

KINDS = ("score", "eligibility", "bloc", "rotation")


class VerificationError(ThiduaError):
    """A recorded evaluation that cannot be computed again (unknown kind, mismatched ruleset text)."""


def reevaluate(evaluation: StoredEvaluation, ruleset: StoredRuleset, request: Any) -> Any:
    """The result document of ``request`` computed afresh, as the service computed it for ``evaluation.kind``."""
    from dsl.api import compile_ruleset
    from dsl.bloc import evaluate_bloc

    compiled = compile_ruleset(ruleset.resolved_source, f"<stored {ruleset.ref}>")
    if compiled.sha256 != evaluation.ruleset_sha256:
        raise VerificationError(
            f"the stored text of {ruleset.ref} compiles to sha256 {compiled.sha256}, "
            f"not the {evaluation.ruleset_sha256} evaluation {evaluation.id} names"
        )
    kind = evaluation.kind
    if kind in ("score", "eligibility"):
        unit = request.get("unit") or None
        return compiled.score(request["inputs"], unit=unit, explain=kind == "eligibility").to_json()
    if kind == "bloc":
        return evaluate_bloc(compiled, request["case"], explain=True).to_json()
    if kind == "rotation":
        rotation = evaluate_bloc(compiled, request["case"]).rotation
        if rotation is None:
            raise VerificationError(f"{ruleset.ref} has no rotation rules")
        # A committed rotation is recorded with its traces (the request names the committed period).
        return rotation.to_json(explain="commit_period" in request)
    raise VerificationError(
        f"evaluation {evaluation.id} is of kind {kind!r}; known kinds: {', '.join(KINDS)}"
    )


def verify(store: Store, evaluation_id: int) -> Verification:
    """Re-run evaluation ``evaluation_id`` and compare; raises `NotFoundError`/`VerificationError`."""
    evaluation = store.get_evaluation(evaluation_id)
    return store.verify_evaluation(
        evaluation_id, lambda ruleset, request: reevaluate(evaluation, ruleset, request)
    )
