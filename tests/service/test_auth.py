"""service.auth: bearer tokens, roles, and the interceptor on a real gRPC server."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from concurrent import futures
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import grpc
import pytest
from grpc_health.v1 import health, health_pb2, health_pb2_grpc

from service.auth import (
    EDITOR,
    INSECURE_WARNING,
    READER,
    AuthConfigError,
    AuthInterceptor,
    TokenTable,
    bearer_token,
    hash_token,
    load_tokens,
    metadata_for,
    parse_tokens,
    read_tokens_file,
    required_role,
    server_interceptors,
)

READER_TOKEN, EDITOR_TOKEN = "reader-3f9c1e7a2b", "editor-8d4a6c0f1e"
TOKENS = TokenTable({hash_token(READER_TOKEN): READER, hash_token(EDITOR_TOKEN): EDITOR})

LIST = "/thidua.v1.RulesetService/ListRulesets"
PUBLISH = "/thidua.v1.RulesetService/PublishRuleset"
ROTATION = "/thidua.v1.EvaluationService/ComputeRotation"
STREAM = "/thidua.v1.EvaluationService/ScoreStream"


def _decode(data: bytes) -> Any:
    return SimpleNamespace(**json.loads(data))


def _encode(value: Any) -> bytes:
    return json.dumps(value).encode()


def _echo(request: Any, context: grpc.ServicerContext) -> Any:
    return vars(request)


def _echo_stream(requests: Iterator[Any], context: grpc.ServicerContext) -> Iterator[Any]:
    for request in requests:
        yield vars(request)


def _test_services() -> list[grpc.GenericRpcHandler]:
    """Stand-ins with thidua's method names: JSON in, the same JSON out."""
    unary = grpc.unary_unary_rpc_method_handler(_echo, _decode, _encode)
    stream = grpc.stream_stream_rpc_method_handler(_echo_stream, _decode, _encode)
    return [
        grpc.method_handlers_generic_handler(
            "thidua.v1.RulesetService", {"ListRulesets": unary, "PublishRuleset": unary}
        ),
        grpc.method_handlers_generic_handler(
            "thidua.v1.EvaluationService", {"ComputeRotation": unary, "ScoreStream": stream}
        ),
    ]


@pytest.fixture(scope="module")
def channel() -> Iterator[grpc.Channel]:
    """A channel to a loopback server running the auth interceptor, health and the stand-in services."""
    server = grpc.server(futures.ThreadPoolExecutor(4), interceptors=[AuthInterceptor(TOKENS)])
    server.add_generic_rpc_handlers(_test_services())
    health_pb2_grpc.add_HealthServicer_to_server(health.HealthServicer(), server)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    with grpc.insecure_channel(f"127.0.0.1:{port}") as opened:
        yield opened
    server.stop(None)


def _call(channel: grpc.Channel, method: str, request: dict[str, Any], token: str | None) -> Any:
    stub = channel.unary_unary(method, request_serializer=_encode, response_deserializer=json.loads)
    metadata = metadata_for(token) if token is not None else None
    return stub(request, metadata=metadata, timeout=5)


def _code(channel: grpc.Channel, method: str, request: dict[str, Any], token: str | None) -> grpc.StatusCode:
    try:
        _call(channel, method, request, token)
    except grpc.RpcError as exc:
        code: grpc.StatusCode = exc.code()
        return code
    return grpc.StatusCode.OK


def test_hash_token_is_sha256_hex() -> None:
    """Tokens are configured by the SHA-256 hex digest of their UTF-8 bytes."""
    assert "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08" == hash_token("test")


def test_parse_tokens_reads_hash_role_pairs() -> None:
    """THIDUA_TOKENS is a comma-separated list of sha256hex:role; spaces and case of hex are tolerated."""
    spec = f" {hash_token('a').upper()}:reader , {hash_token('b')}:editor,"
    assert {hash_token("a"): READER, hash_token("b"): EDITOR} == parse_tokens(spec)


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("secret-token:reader", "entry 1: 'secret-token'… is not a SHA-256 hex digest"),
        (f"{'a' * 64}:admin", "entry 1: unknown role 'admin'"),
        (f"{'a' * 64}:reader,{'b' * 64}", "entry 2: expected SHA256HEX:ROLE"),
    ],
)
def test_bad_token_entries_are_named(spec: str, message: str) -> None:
    """A raw token, an unknown role or a missing role is an AuthConfigError naming the entry."""
    with pytest.raises(AuthConfigError, match=message):
        parse_tokens(spec)


def test_tokens_file_with_comments(tmp_path: Path) -> None:
    """A tokens file holds one sha256hex:role per line; comments and blank lines are ignored."""
    path = tmp_path / "tokens"
    path.write_text(f"# team tokens\n\n{hash_token('a')}:reader  # CI\n{hash_token('b')}:editor\n")
    assert {hash_token("a"): READER, hash_token("b"): EDITOR} == read_tokens_file(path)
    path.write_text("oops\n")
    with pytest.raises(AuthConfigError, match="tokens:1: expected SHA256HEX:ROLE"):
        read_tokens_file(path)


def test_load_tokens_merges_file_and_environment(tmp_path: Path) -> None:
    """THIDUA_TOKENS_FILE and THIDUA_TOKENS both contribute; the list wins for a hash in both."""
    path = tmp_path / "tokens"
    path.write_text(f"{hash_token('a')}:editor\n{hash_token('b')}:reader\n")
    env = {"THIDUA_TOKENS_FILE": str(path), "THIDUA_TOKENS": f"{hash_token('a')}:reader"}
    table = load_tokens(environ=env)
    assert (READER, READER, None) == (table.role_of("a"), table.role_of("b"), table.role_of("c"))


def test_required_role_by_method() -> None:
    """Health is public, reads need a reader, verbs that write need an editor."""
    assert None is required_role("/grpc.health.v1.Health/Check")
    assert READER == required_role(LIST)
    assert READER == required_role(ROTATION)
    for method in (
        PUBLISH,
        "/thidua.v1.X/StoreSubmissions",
        "/thidua.v1.X/PutBloc",
        "/thidua.v1.X/CommitHolders",
    ):
        assert EDITOR == required_role(method)


def test_bearer_token_parsing() -> None:
    """Only 'Bearer <token>' under the authorization key counts; the scheme is case-insensitive."""
    assert "abc" == bearer_token([("x-other", "1"), ("authorization", "bearer abc")])
    assert "abc" == bearer_token([("authorization", b"Bearer abc ")])
    assert None is bearer_token([("authorization", "Basic YTpi")])
    assert None is bearer_token([("authorization", "Bearer ")])
    assert None is bearer_token(None)


def test_no_token_is_unauthenticated(channel: grpc.Channel) -> None:
    """A call without a token is refused with UNAUTHENTICATED, saying what is expected."""
    with pytest.raises(grpc.RpcError) as caught:
        _call(channel, LIST, {}, None)
    assert grpc.StatusCode.UNAUTHENTICATED == caught.value.code()
    assert "authorization: Bearer <token>" in caught.value.details()


def test_unknown_token_is_unauthenticated(channel: grpc.Channel) -> None:
    """A token that is not configured is refused with UNAUTHENTICATED."""
    assert grpc.StatusCode.UNAUTHENTICATED == _code(channel, LIST, {}, "guessed")


def test_reader_reads_but_may_not_write(channel: grpc.Channel) -> None:
    """A reader's reads succeed; its publish is PERMISSION_DENIED naming the role needed."""
    assert {"name": "khoi3"} == _call(channel, LIST, {"name": "khoi3"}, READER_TOKEN)
    with pytest.raises(grpc.RpcError) as caught:
        _call(channel, PUBLISH, {"name": "khoi3"}, READER_TOKEN)
    assert grpc.StatusCode.PERMISSION_DENIED == caught.value.code()
    assert "needs the editor role (token has reader)" in caught.value.details()


def test_rotation_with_commit_needs_an_editor(channel: grpc.Channel) -> None:
    """ComputeRotation is a read for a reader unless it asks to commit the holders."""
    assert grpc.StatusCode.OK == _code(channel, ROTATION, {"commit": False}, READER_TOKEN)
    assert grpc.StatusCode.PERMISSION_DENIED == _code(channel, ROTATION, {"commit": True}, READER_TOKEN)
    assert grpc.StatusCode.OK == _code(channel, ROTATION, {"commit": True}, EDITOR_TOKEN)


def test_editor_may_write(channel: grpc.Channel) -> None:
    """An editor's publish reaches the servicer."""
    assert {"name": "khoi3"} == _call(channel, PUBLISH, {"name": "khoi3"}, EDITOR_TOKEN)


def test_streaming_calls_are_checked_too(channel: grpc.Channel) -> None:
    """A bidirectional stream without a token ends UNAUTHENTICATED; with one it flows."""
    stub = channel.stream_stream(STREAM, request_serializer=_encode, response_deserializer=json.loads)
    with pytest.raises(grpc.RpcError) as caught:
        list(stub(iter([{"i": 1}]), timeout=5))
    assert grpc.StatusCode.UNAUTHENTICATED == caught.value.code()
    assert [{"i": 1}, {"i": 2}] == list(
        stub(iter([{"i": 1}, {"i": 2}]), metadata=metadata_for(READER_TOKEN), timeout=5)
    )


def test_health_needs_no_token(channel: grpc.Channel) -> None:
    """Health checks answer without any token."""
    response = health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), timeout=5)
    assert health_pb2.HealthCheckResponse.SERVING == response.status


def test_an_interceptor_without_tokens_refuses_to_start() -> None:
    """No configured token and no --insecure-no-auth: the server cannot be built, and says how to fix it."""
    with pytest.raises(AuthConfigError, match="no tokens configured: set THIDUA_TOKENS"):
        server_interceptors(insecure_no_auth=False, tokens=TokenTable())


def test_insecure_mode_has_no_interceptor_and_warns(caplog: pytest.LogCaptureFixture) -> None:
    """--insecure-no-auth installs no interceptor and logs the loud warning."""
    with caplog.at_level(logging.WARNING, logger="thidua.auth"):
        assert () == tuple(server_interceptors(insecure_no_auth=True))
    assert [INSECURE_WARNING] == [r.getMessage() for r in caplog.records]


def test_tokens_are_never_logged(channel: grpc.Channel, caplog: pytest.LogCaptureFixture) -> None:
    """Refused calls are logged without the token that was presented."""
    with caplog.at_level(logging.WARNING, logger="thidua.auth"):
        _code(channel, LIST, {}, "leaked-secret-value")
        _code(channel, PUBLISH, {}, READER_TOKEN)
    assert caplog.records
    text = " ".join(r.getMessage() + str(r.__dict__) for r in caplog.records)
    assert "leaked-secret-value" not in text
    assert READER_TOKEN not in text
