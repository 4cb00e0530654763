"""The one place where thidua's errors become gRPC statuses.

Every servicer method is wrapped by `guarded`: an error the engine raises on
purpose (`dsl.errors`) becomes its status code with rich details
(google.rpc.BadRequest for invalid input, PreconditionFailure for an
evaluation error); anything else is a bug in the server, logged with its
traceback and answered INTERNAL. Streams use `item_error` to put the same
mapping into one item's response instead of ending the stream.

| error | status |
|---|---|
| RulesetError (source that does not parse/check) | INVALID_ARGUMENT, one violation per diagnostic |
| InputError (submission or case) | INVALID_ARGUMENT, every field violation |
| LimitError (a configured limit) | INVALID_ARGUMENT, the violation names the limit |
| NotFoundError | NOT_FOUND |
| ConflictError | ALREADY_EXISTS |
| EvaluationError (division by zero, …) | FAILED_PRECONDITION naming the criterion |
| ServiceError | its own code (FAILED_PRECONDITION, UNIMPLEMENTED, …) |
| UnavailableError (database unreachable; safe to retry) | UNAVAILABLE |
"""

from __future__ import annotations

import functools
import inspect
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import grpc
import structlog
from google.protobuf import any_pb2
from google.rpc import error_details_pb2, status_pb2

from dsl.errors import (
    ConflictError,
    Diagnostic,
    EvaluationError,
    FieldViolation,
    InputError,
    LimitError,
    NotFoundError,
    RulesetError,
    ThiduaError,
    render,
)
from service.db.errors import UnavailableError
from service.gen.thidua.v1 import values_pb2

log = structlog.get_logger("thidua.service")

REQUEST_ID_KEY = "x-request-id"
_DETAILS_KEY = "grpc-status-details-bin"


class ServiceError(ThiduaError):
    """A refusal decided by the service itself, with its status code (e.g. no database configured)."""

    def __init__(self, code: grpc.StatusCode, message: str) -> None:
        super().__init__(message)
        self.code = code


class RequestLimitError(LimitError):
    """A configured limit exceeded by one field of a request (``field`` is its path)."""

    def __init__(self, limit: str, field: str, message: str) -> None:
        super().__init__(limit, message)
        self.field = field


@dataclass(frozen=True, slots=True)
class Mapped:
    """An error as the client sees it: code, one-line message, and the details."""

    code: grpc.StatusCode
    message: str
    violations: tuple[FieldViolation, ...] = ()
    precondition: tuple[tuple[str, str, str], ...] = ()  # (type, subject, description)


def diagnostic_violation(diag: Diagnostic, field: str = "source") -> FieldViolation:
    """One diagnostic as a BadRequest field violation: the request field, and the §1.10 header line."""
    return FieldViolation(field, render(diag, None))


def prefixed(exc: InputError, prefix: str) -> InputError:
    """The same input error with every field path under ``prefix`` (``inputs.``, ``bloc_case.``)."""
    return InputError([FieldViolation(prefix + v.field, v.message) for v in exc.violations], what=exc.what)


#: Absolute folders of the server's own files (the rulesets folder), never shown to clients.
_PRIVATE_FOLDERS: dict[str, None] = {}


def hide_folder(folder: Path) -> None:
    """Keep ``folder``'s absolute location out of every message a client gets (see `public_text`)."""
    for path in (str(folder), str(folder.resolve())):
        path = path.rstrip(os.sep)
        if os.path.isabs(path) and path:  # (not the file system's root itself)
            _PRIVATE_FOLDERS[path] = None


def public_text(text: str) -> str:
    """``text`` without the server's private folders: a file in one is named relative to it
    (``divz/1.rules:6:5``), the folder itself as "the rulesets folder"."""
    for folder in sorted(_PRIVATE_FOLDERS, key=len, reverse=True):
        if folder in text:
            text = text.replace(folder + os.sep, "").replace(folder, "the rulesets folder")
    return text


def map_error(exc: BaseException) -> Mapped | None:
    """Our errors → what the client gets; None for an exception that is a server bug."""
    mapped = _map_error(exc)
    if mapped is None or not _PRIVATE_FOLDERS:
        return mapped
    return Mapped(
        mapped.code,
        public_text(mapped.message),
        tuple(FieldViolation(v.field, public_text(v.message)) for v in mapped.violations),
        tuple((kind, subject, public_text(what)) for kind, subject, what in mapped.precondition),
    )


def _map_error(exc: BaseException) -> Mapped | None:
    if isinstance(exc, ServiceError):
        return Mapped(exc.code, exc.message)
    if isinstance(exc, RulesetError):
        diags = [d for d in exc.diagnostics if d.is_error] or list(exc.diagnostics)
        field = getattr(exc, "field", "source")
        return Mapped(
            grpc.StatusCode.INVALID_ARGUMENT,
            f"invalid ruleset: {exc.message}",
            tuple(diagnostic_violation(d, field) for d in diags),
        )
    if isinstance(exc, InputError):
        return Mapped(grpc.StatusCode.INVALID_ARGUMENT, exc.message, tuple(exc.violations))
    if isinstance(exc, RequestLimitError):
        return Mapped(
            grpc.StatusCode.INVALID_ARGUMENT,
            f"limit {exc.limit} exceeded: {exc.message}",
            (FieldViolation(exc.field, f"{exc.message} (limit {exc.limit})"),),
        )
    if isinstance(exc, LimitError):
        return Mapped(
            grpc.StatusCode.INVALID_ARGUMENT,
            f"limit {exc.limit} exceeded: {exc.message}",
            (FieldViolation(exc.limit, exc.message),),
        )
    if isinstance(exc, NotFoundError):
        return Mapped(grpc.StatusCode.NOT_FOUND, exc.message)
    if isinstance(exc, ConflictError):
        return Mapped(grpc.StatusCode.ALREADY_EXISTS, exc.message)
    if isinstance(exc, EvaluationError):
        return Mapped(
            grpc.StatusCode.FAILED_PRECONDITION,
            f"evaluation error: {exc}",
            precondition=(("evaluation", exc.where or "ruleset", exc.message),),
        )
    if isinstance(exc, UnavailableError):
        # The database is unreachable: nothing was written, the client may retry (docs/persistence.md).
        return Mapped(grpc.StatusCode.UNAVAILABLE, exc.message)
    if isinstance(exc, ThiduaError):
        # An engine error without a more specific class is still about what the client sent.
        return Mapped(grpc.StatusCode.INVALID_ARGUMENT, exc.message)
    return None


def _status_proto(mapped: Mapped) -> status_pb2.Status:
    status = status_pb2.Status(code=mapped.code.value[0], message=mapped.message)
    if mapped.violations:
        bad = error_details_pb2.BadRequest(
            field_violations=[
                error_details_pb2.BadRequest.FieldViolation(field=v.field, description=v.message)
                for v in mapped.violations
            ]
        )
        detail = any_pb2.Any()
        detail.Pack(bad)
        status.details.append(detail)
    if mapped.precondition:
        pf = error_details_pb2.PreconditionFailure(
            violations=[
                error_details_pb2.PreconditionFailure.Violation(type=t, subject=s, description=d)
                for t, s, d in mapped.precondition
            ]
        )
        detail = any_pb2.Any()
        detail.Pack(pf)
        status.details.append(detail)
    return status


@dataclass(frozen=True, slots=True)
class _GrpcStatus(grpc.Status):
    code: grpc.StatusCode
    details: str
    trailing_metadata: tuple[tuple[str, str | bytes], ...]


def to_grpc_status(mapped: Mapped, request_id: str | None = None) -> grpc.Status:
    """A `grpc.Status` carrying the google.rpc.Status details (and the request id) in trailing metadata."""
    metadata: list[tuple[str, str | bytes]] = [(_DETAILS_KEY, _status_proto(mapped).SerializeToString())]
    if request_id:
        metadata.append((REQUEST_ID_KEY, request_id))
    return _GrpcStatus(mapped.code, mapped.message, tuple(metadata))


INTERNAL = Mapped(grpc.StatusCode.INTERNAL, "internal server error; the request id identifies it in the logs")


def item_error(exc: BaseException) -> values_pb2.ItemError:
    """The error of one stream item, mapped like a unary call's status (see module docstring)."""
    mapped = map_error(exc)
    if mapped is None:
        log.error("unexpected error in stream item", exc_info=exc)
        mapped = INTERNAL
    return values_pb2.ItemError(
        code=mapped.code.value[0],
        status=mapped.code.name,
        message=mapped.message,
        violations=[
            values_pb2.FieldViolation(field=v.field, description=v.message) for v in mapped.violations
        ],
    )


def abort(context: grpc.ServicerContext, exc: BaseException) -> None:
    """End the call with the status for ``exc`` (logging a traceback when it is a server bug)."""
    # Imported here: service.logging imports this module's constants.
    from service.logging import current_request_id

    mapped = map_error(exc)
    if mapped is None:
        log.error("unexpected error", exc_info=exc)
        mapped = INTERNAL
    context.abort_with_status(to_grpc_status(mapped, current_request_id()))


F = TypeVar("F", bound=Callable[..., Any])


def guarded(method: F) -> F:
    """Servicer-method decorator: nothing escapes as UNKNOWN; errors become statuses via `abort`.

    Works for unary responses and for response generators (streams).
    """

    @functools.wraps(method)
    def unary(self: Any, request: Any, context: grpc.ServicerContext) -> Any:
        try:
            return method(self, request, context)
        except Exception as exc:  # the point: map every error, bugs included
            if _is_abort(exc, context):
                raise
            abort(context, exc)

    @functools.wraps(method)
    def streaming(self: Any, request: Any, context: grpc.ServicerContext) -> Iterator[Any]:
        try:
            yield from method(self, request, context)
        except Exception as exc:
            if _is_abort(exc, context):
                raise
            if _client_gone(exc, context):
                log.info("client ended the stream", error=type(exc).__name__)
                return
            abort(context, exc)

    return streaming if inspect.isgeneratorfunction(method) else unary  # type: ignore[return-value]


def _client_gone(exc: Exception, context: grpc.ServicerContext) -> bool:
    # Reading the requests of a stream the client cancelled (or whose deadline
    # passed) raises a bare RpcError: there is nobody left to answer, and it is
    # no server bug to log with a traceback.
    return isinstance(exc, grpc.RpcError) and not context.is_active()


def _is_abort(exc: Exception, context: grpc.ServicerContext) -> bool:
    # context.abort() raises a bare Exception after setting the code: let it through unchanged.
    code = context.code()  # type: ignore[attr-defined]  # grpc-stubs lacks the accessor
    return code is not None and type(exc) is Exception
