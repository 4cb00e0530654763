"""Requests that are not valid protobuf: INVALID_ARGUMENT instead of gRPC's own INTERNAL.

gRPC Python answers a request whose bytes its deserializer rejects with
``INTERNAL: Exception deserializing request!`` — a server-fault status for
something only the client did wrong (SPEC §3: never UNKNOWN or INTERNAL for
anything a client sent). `DecodeGuardInterceptor` wraps every handler's
request deserializer: bytes that do not parse become an `Undecodable` marker,
and the handler answers it, through `service.errors.abort`, with
INVALID_ARGUMENT and a violation on the field ``request`` (for a stream, on
the first bad message). It must be the innermost interceptor, so that call
logging and authentication see (and copy) the guarded deserializer.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import grpc

from dsl.errors import FieldViolation, InputError
from service.errors import abort

if TYPE_CHECKING:  # grpc-stubs makes the handler generic; the runtime class is not subscriptable
    Handler = grpc.RpcMethodHandler[Any, Any]


@dataclass(frozen=True, slots=True)
class Undecodable:
    """What the guarded deserializer returns for bytes that are not a valid message."""

    reason: str


def _error(bad: Undecodable, method: str) -> InputError:
    return InputError(
        [FieldViolation("request", f"not a valid request message for {method}: {bad.reason}")],
        what="request",
    )


def _safe(deserializer: Callable[[bytes], Any] | None) -> Callable[[bytes], Any] | None:
    if deserializer is None:
        return None

    def decode(data: bytes) -> Any:
        try:
            return deserializer(data)
        except Exception as exc:  # the point: any decoding failure is the sender's
            return Undecodable(" ".join(str(exc).split())[:200] or type(exc).__name__)

    return decode


def _unary(behaviour: Callable[[Any, grpc.ServicerContext], Any], method: str) -> Any:
    def call(request: Any, context: grpc.ServicerContext) -> Any:
        if isinstance(request, Undecodable):
            abort(context, _error(request, method))
        return behaviour(request, context)

    return call


def _checked(requests: Iterator[Any], context: grpc.ServicerContext, method: str) -> Iterator[Any]:
    for request in requests:
        if isinstance(request, Undecodable):
            abort(context, _error(request, method))
        yield request


def _streaming(behaviour: Callable[[Any, grpc.ServicerContext], Any], method: str) -> Any:
    def call(requests: Iterator[Any], context: grpc.ServicerContext) -> Any:
        return behaviour(_checked(requests, context, method), context)

    return call


class DecodeGuardInterceptor(grpc.ServerInterceptor):  # type: ignore[type-arg]  # grpc-stubs: generic
    """Answers undecodable request bytes with INVALID_ARGUMENT (see the module docstring)."""

    def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Handler | None],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> Handler | None:
        handler = continuation(handler_call_details)
        if handler is None:
            return None
        method: str = handler_call_details.method
        decode = _safe(handler.request_deserializer)
        out = handler.response_serializer
        if handler.unary_unary is not None:
            return grpc.unary_unary_rpc_method_handler(_unary(handler.unary_unary, method), decode, out)
        if handler.unary_stream is not None:
            return grpc.unary_stream_rpc_method_handler(_unary(handler.unary_stream, method), decode, out)
        if handler.stream_unary is not None:
            return grpc.stream_unary_rpc_method_handler(_streaming(handler.stream_unary, method), decode, out)
        assert handler.stream_stream is not None  # the one kind left
        return grpc.stream_stream_rpc_method_handler(_streaming(handler.stream_stream, method), decode, out)
