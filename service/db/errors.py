"""Errors of the persistence layer that the engine's own errors do not cover.

`UnavailableError` means "the database could not be reached or answered
too late": the write did not happen (or is not known to have happened), and
retrying the same call later is safe because every write is idempotent. The
gRPC layer maps it to UNAVAILABLE. `DatabaseConfigError` is a database URL
that names no database thidua can use: an operator's mistake, reported as one
line, never a traceback.
"""

from __future__ import annotations

from dsl.errors import ThiduaError


class UnavailableError(ThiduaError):
    """The database is unreachable or busy; the same call may be retried."""


class DatabaseConfigError(ThiduaError):
    """A database URL that is malformed or names an unsupported database."""
