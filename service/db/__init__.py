"""Persistence: thidua's database (SQLite by default, PostgreSQL by URL).

`Store` is the whole API the service uses; `service.db.records` holds what it
returns, `service.db.errors` what it raises besides `dsl.errors`.

Names are loaded on first use (PEP 562): importing ``service.db.errors`` —
which the gRPC error mapping does — must not pull in SQLAlchemy and sqlmodel,
a second or more of start-up for every process that only maps errors.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from service.db.errors import DatabaseConfigError, UnavailableError
    from service.db.records import (
        BlocWrite,
        EvaluationWrite,
        Holders,
        HoldersWrite,
        NewEvaluation,
        NewSubmission,
        PublishResult,
        StoredBloc,
        StoredCase,
        StoredEvaluation,
        StoredRuleset,
        StoredSubmission,
        SubmissionWrite,
        Verification,
    )
    from service.db.repository import Store

_HOMES = {
    "DatabaseConfigError": "service.db.errors",
    "UnavailableError": "service.db.errors",
    "Store": "service.db.repository",
    **{
        name: "service.db.records"
        for name in (
            "BlocWrite",
            "EvaluationWrite",
            "Holders",
            "HoldersWrite",
            "NewEvaluation",
            "NewSubmission",
            "PublishResult",
            "StoredBloc",
            "StoredCase",
            "StoredEvaluation",
            "StoredRuleset",
            "StoredSubmission",
            "SubmissionWrite",
            "Verification",
        )
    },
}

__all__ = [
    "BlocWrite",
    "DatabaseConfigError",
    "EvaluationWrite",
    "Holders",
    "HoldersWrite",
    "NewEvaluation",
    "NewSubmission",
    "PublishResult",
    "Store",
    "StoredBloc",
    "StoredCase",
    "StoredEvaluation",
    "StoredRuleset",
    "StoredSubmission",
    "SubmissionWrite",
    "UnavailableError",
    "Verification",
]


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module 'service.db' has no attribute {name!r}")
    value = getattr(importlib.import_module(home), name)
    globals()[name] = value
    return value
