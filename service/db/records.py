"""What the repository hands out: frozen records, detached from any database session.

Servicers and commands work with these, never with the mutable sqlmodel rows
of `service.db.models`, so a record stays valid after its transaction ends
and can be passed between threads. Write operations return a record together
with ``created``: False means the same write had already happened and this
call changed nothing (a retry, or the same content again).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


@dataclass(frozen=True, slots=True)
class StoredRuleset:
    """One stored ruleset version (``status``: draft, published or retired)."""

    id: int
    name: str
    version: str
    source: str
    resolved_source: str
    sha256: str
    status: str
    author: str
    created_at: datetime
    published_at: datetime | None = None
    retired_at: datetime | None = None

    @property
    def ref(self) -> str:
        return f"{self.name}@{self.version}"


@dataclass(frozen=True, slots=True)
class PublishResult:
    """The outcome of `Store.publish`/`Store.save_draft`: the stored version, and whether this call wrote it."""

    ruleset: StoredRuleset
    created: bool


@dataclass(frozen=True, slots=True)
class StoredBloc:
    """A bloc and its members in the agreed rotation order."""

    name: str
    label: str
    members: tuple[str, ...]
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class BlocWrite:
    """The outcome of `Store.put_bloc`: ``created`` is False when nothing changed."""

    bloc: StoredBloc
    created: bool


@dataclass(frozen=True, slots=True)
class NewSubmission:
    """One unit's inputs to store (an item of `Store.store_submissions`)."""

    unit: str
    inputs: Mapping[str, Any]
    stage: str = "self"
    idempotency_key: str | None = None


@dataclass(frozen=True, slots=True)
class StoredSubmission:
    """One stored write of a unit's inputs for a period at a stage.

    ``revision`` counts writes of the same stage (1 = first); ``inputs`` is the
    document as stored (decimals as `Decimal`, dates as ISO text).
    """

    id: int
    bloc: str
    unit: str
    period: str
    stage: str
    revision: int
    inputs: Mapping[str, Any]
    content_sha256: str
    idempotency_key: str | None
    author: str
    created_at: datetime


@dataclass(frozen=True, slots=True)
class SubmissionWrite:
    """The outcome of storing one submission: ``created`` is False for a retried write."""

    submission: StoredSubmission
    created: bool


@dataclass(frozen=True, slots=True)
class StoredEvaluation:
    """A recorded evaluation: request and result documents and the SHA-256 of the ruleset used."""

    id: int
    kind: str
    ruleset_name: str
    ruleset_version: str
    ruleset_sha256: str
    bloc: str | None
    period: str | None
    request: Any
    result: Any
    idempotency_key: str | None
    author: str
    created_at: datetime


@dataclass(frozen=True, slots=True)
class NewEvaluation:
    """An evaluation to record in a batch (`Store.record_evaluations`): ``ruleset`` is (name, version, sha256).

    ``request`` and ``result`` are JSON-like documents, or objects with a
    ``to_json()`` method (engine results), converted when written.
    """

    kind: str
    ruleset: tuple[str, str, str]
    request: Any
    result: Any
    bloc: str | None = None
    period: str | None = None
    author: str = ""


@dataclass(frozen=True, slots=True)
class EvaluationWrite:
    """The outcome of recording an evaluation: ``created`` is False for a retried write."""

    evaluation: StoredEvaluation
    created: bool


@dataclass(frozen=True, slots=True)
class Verification:
    """A stored evaluation run again with the ruleset its SHA-256 names.

    ``matches`` is True when the recomputed result equals the stored one
    (compared as canonical JSON); ``recomputed`` is that result.
    """

    evaluation: StoredEvaluation
    ruleset: StoredRuleset
    recomputed: Any
    matches: bool


@dataclass(frozen=True, slots=True)
class Holders:
    """Who leads and deputizes a bloc in one period (either may be absent)."""

    bloc: str
    period: str
    leader: str | None
    deputy: str | None
    evaluation_id: int | None = None
    author: str = ""
    created_at: datetime | None = None

    def to_case(self) -> dict[str, str]:
        """The ``current``/``history`` item shape of a CASE document (SPEC §2)."""
        out = {"period": self.period}
        if self.leader is not None:
            out["leader"] = self.leader
        if self.deputy is not None:
            out["deputy"] = self.deputy
        return out


@dataclass(frozen=True, slots=True)
class HoldersWrite:
    """The outcome of `Store.commit_holders`: ``created`` is False when already committed."""

    holders: Holders
    created: bool


@dataclass(frozen=True, slots=True)
class StoredCase:
    """A CASE document (SPEC §2) assembled from stored data, and the submissions it used.

    ``case`` can be given to the bloc evaluator as is; ``submissions`` says
    which stage and revision of each unit's inputs went into it.
    """

    case: Mapping[str, Any]
    submissions: tuple[StoredSubmission, ...] = field(default_factory=tuple)
