"""Persistence: thidua's database (SQLite by default, PostgreSQL by URL).

`Store` is the whole API the service uses; `service.db.records` holds what it
returns, `service.db.errors` what it raises besides `dsl.errors`.
"""

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
