"""Structured logs of the service: structlog set-up and the per-call log interceptor.

One event per call (``event="rpc"``): method, status code, duration in ms,
the ruleset SHA-256 the call used, the number of stream items, and the
request id — taken from the ``x-request-id`` metadata or generated, and
returned to the client in trailing metadata. Submission contents never appear
at info level: error messages (which may quote a value) are logged at debug.
JSON lines when stderr is not a terminal; readable console lines when it is.
"""

from __future__ import annotations

import contextvars
import logging
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, TextIO

import grpc
import structlog

from service.errors import REQUEST_ID_KEY

log = structlog.get_logger("thidua.service")


def configure(log_format: str = "json", level: str = "info", stream: TextIO | None = None) -> None:
    """Set structlog up for the whole process: ``json`` lines or ``console`` (colours on a TTY)."""
    stream = sys.stderr if stream is None else stream
    renderer: Any
    if log_format == "console":
        renderer = structlog.dev.ConsoleRenderer(colors=stream.isatty())
    else:
        renderer = structlog.processors.JSONRenderer(sort_keys=True)
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.format_exc_info if log_format == "json" else structlog.dev.set_exc_info,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(getattr(logging, level.upper())),
        logger_factory=structlog.WriteLoggerFactory(file=stream),
        cache_logger_on_first_use=False,
    )


@dataclass
class CallInfo:
    """What one call's log event will say; filled in while the call runs (hence not frozen)."""

    method: str
    request_id: str
    ruleset_sha256: str | None = None
    items: int | None = None


_current: contextvars.ContextVar[CallInfo | None] = contextvars.ContextVar("thidua_call", default=None)


def current_request_id() -> str | None:
    """The request id of the call running in this thread (None outside a call)."""
    info = _current.get()
    return info.request_id if info else None


def note_ruleset(sha256: str) -> None:
    """Record the ruleset SHA-256 the current call used, for its log event."""
    info = _current.get()
    if info is not None:
        info.ruleset_sha256 = sha256


def note_item() -> None:
    """Count one stream item of the current call."""
    info = _current.get()
    if info is not None:
        info.items = (info.items or 0) + 1


def _request_id(context: grpc.ServicerContext) -> str:
    for key, value in context.invocation_metadata() or ():
        if key == REQUEST_ID_KEY and isinstance(value, str) and 0 < len(value) <= 128:
            return value
    return uuid.uuid4().hex


def _emit(
    info: CallInfo, context: grpc.ServicerContext, started: float, failed: BaseException | None
) -> None:
    code = context.code()  # type: ignore[attr-defined]  # grpc-stubs lacks the accessor
    if code is None:
        if isinstance(failed, GeneratorExit) or not context.is_active():
            # The client went away (or cancelled) before the call ended.
            code = grpc.StatusCode.CANCELLED
        elif failed is not None:
            code = grpc.StatusCode.UNKNOWN
        else:
            code = grpc.StatusCode.OK
    fields: dict[str, Any] = {
        "method": info.method,
        "code": code.name,
        "duration_ms": round((time.perf_counter() - started) * 1000, 3),
        "request_id": info.request_id,
    }
    if info.ruleset_sha256:
        fields["ruleset_sha256"] = info.ruleset_sha256
    if info.items is not None:
        fields["items"] = info.items
    if code is grpc.StatusCode.OK:
        log.info("rpc", **fields)
    else:
        log.warning("rpc", **fields)
        log.debug("rpc error details", request_id=info.request_id, details=context.details())  # type: ignore[attr-defined]


class CallLogInterceptor(grpc.ServerInterceptor):  # type: ignore[type-arg]  # grpc-stubs: generic over request/response
    """Wraps every method handler: request id in, one log event out, request id in trailing metadata."""

    def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], grpc.RpcMethodHandler[Any, Any] | None],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler[Any, Any] | None:
        handler = continuation(handler_call_details)
        if handler is None:
            return None
        method = handler_call_details.method
        if handler.unary_unary is not None:
            return grpc.unary_unary_rpc_method_handler(
                _wrap_unary(handler.unary_unary, method),
                request_deserializer=handler.request_deserializer,
                response_serializer=handler.response_serializer,
            )
        if handler.unary_stream is not None:
            return grpc.unary_stream_rpc_method_handler(
                _wrap_stream(handler.unary_stream, method),
                request_deserializer=handler.request_deserializer,
                response_serializer=handler.response_serializer,
            )
        if handler.stream_unary is not None:
            return grpc.stream_unary_rpc_method_handler(
                _wrap_unary(handler.stream_unary, method),
                request_deserializer=handler.request_deserializer,
                response_serializer=handler.response_serializer,
            )
        # The one kind left: stream-stream.
        stream_stream = handler.stream_stream
        assert stream_stream is not None
        return grpc.stream_stream_rpc_method_handler(
            _wrap_stream(stream_stream, method),
            request_deserializer=handler.request_deserializer,
            response_serializer=handler.response_serializer,
        )


def _begin(method: str, context: grpc.ServicerContext) -> CallInfo:
    info = CallInfo(method=method, request_id=_request_id(context))
    context.set_trailing_metadata(((REQUEST_ID_KEY, info.request_id),))
    return info


def _wrap_unary(behavior: Callable[[Any, grpc.ServicerContext], Any], method: str) -> Callable[..., Any]:
    def wrapped(request: Any, context: grpc.ServicerContext) -> Any:
        started = time.perf_counter()
        info = _begin(method, context)
        token = _current.set(info)
        failed: BaseException | None = None
        try:
            return behavior(request, context)
        except BaseException as exc:
            failed = exc
            raise
        finally:
            _emit(info, context, started, failed)
            _current.reset(token)

    return wrapped


def _wrap_stream(
    behavior: Callable[[Any, grpc.ServicerContext], Iterator[Any]], method: str
) -> Callable[..., Iterator[Any]]:
    def wrapped(request: Any, context: grpc.ServicerContext) -> Iterator[Any]:
        started = time.perf_counter()
        info = _begin(method, context)
        failed: BaseException | None = None
        # The generator runs in the one thread that drains it, between its own
        # yields only: set the call info around each step, not across yields,
        # so the thread's context is clean whenever control leaves the generator.
        responses = iter(behavior(request, context))
        try:
            while True:
                token = _current.set(info)
                try:
                    response = next(responses)
                except StopIteration:
                    return
                finally:
                    _current.reset(token)
                yield response
        except BaseException as exc:
            failed = exc
            raise
        finally:
            _emit(info, context, started, failed)

    return wrapped
