"""Streaming calls on their own threads, so that open streams never hold the request threads.

gRPC Python's synchronous server runs each call on a thread of its pool, and a
streaming call (ScoreStream, server reflection, a health `Watch`) keeps that
thread for as long as the stream is open. With every call on one pool,
``--threads`` open streams would leave no thread for anything else — unary
Score and the health checks a load balancer relies on would wait behind
them. `StreamPoolInterceptor`, the outermost interceptor, gives every
streaming method's behaviour gRPC's per-method ``experimental_thread_pool``:
streams run on a pool of ``--stream-threads`` threads, unary calls on the
``--threads`` pool, and neither can starve the other.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent import futures
from typing import Any

import grpc


def _on_pool(behavior: Callable[..., Any], pool: futures.ThreadPoolExecutor) -> Callable[..., Any]:
    def run(request: Any, context: grpc.ServicerContext) -> Any:
        return behavior(request, context)

    # Read by grpc._server._select_thread_pool_for_behavior (tests/service/test_streams.py
    # fails if a gRPC release stops honouring it).
    run.experimental_thread_pool = pool  # type: ignore[attr-defined]
    return run


class StreamPoolInterceptor(grpc.ServerInterceptor):  # type: ignore[type-arg]  # grpc-stubs: generic
    """Runs every streaming method (client, server or both sides) on ``pool``; unary ones are left alone."""

    def __init__(self, pool: futures.ThreadPoolExecutor) -> None:
        self.pool = pool

    def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], grpc.RpcMethodHandler[Any, Any] | None],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler[Any, Any] | None:
        handler = continuation(handler_call_details)
        if handler is None or handler.unary_unary is not None:
            return handler
        codecs = {
            "request_deserializer": handler.request_deserializer,
            "response_serializer": handler.response_serializer,
        }
        if handler.unary_stream is not None:
            return grpc.unary_stream_rpc_method_handler(_on_pool(handler.unary_stream, self.pool), **codecs)
        if handler.stream_unary is not None:
            return grpc.stream_unary_rpc_method_handler(_on_pool(handler.stream_unary, self.pool), **codecs)
        if handler.stream_stream is not None:
            return grpc.stream_stream_rpc_method_handler(_on_pool(handler.stream_stream, self.pool), **codecs)
        return handler
