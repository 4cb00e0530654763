"""The service with persistence and security wired in: tokens, roles, TLS and publishing into the database."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from service.auth import EDITOR, READER, AuthSettings, TokenTable, hash_token, metadata_for
from service.config import ConfigError, ServerConfig, add_arguments, build_config
from service.db import Store
from service.gen.thidua.v1 import evaluation_pb2 as ev
from service.gen.thidua.v1 import evaluation_pb2_grpc, rulesets_pb2_grpc
from service.gen.thidua.v1 import rulesets_pb2 as rs
from service.gen.thidua.v1 import values_pb2 as vals
from service.server import _stop, build_server
from service.tls import TlsSettings, channel_credentials
from tests.service.grpc_helpers import DATA, free_port, make_rulesets
from tests.service.tls_certs import issue, make_authority

READER_TOKEN, EDITOR_TOKEN = "reader-6b0e2d", "editor-41c9aa"
AUTH = AuthSettings(tokens=TokenTable({hash_token(READER_TOKEN): READER, hash_token(EDITOR_TOKEN): EDITOR}))
THIDUA = [sys.executable, "-m", "service.cli"]
DIVZ = (DATA / "rulesets" / "divz" / "1.rules").read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The gRPC tests' rulesets folder."""
    return make_rulesets(tmp_path_factory.mktemp("rulesets"))


def _score_request() -> ev.ScoreRequest:
    return ev.ScoreRequest(
        ruleset=vals.RulesetRef(name="divz", version="1"),
        inputs={"assigned": vals.Value(integer=4), "met": vals.Value(integer=1)},
    )


def _publish_request(version: str = "9") -> rs.PublishRulesetRequest:
    source = DIVZ.replace('version "1"', f'version "{version}"')
    return rs.PublishRulesetRequest(name="divz", version=version, source=source, author="test")


@pytest.fixture
def secured(folder: Path, database_url: str) -> Iterator[tuple[grpc.Channel, Store]]:
    """An in-process server with token auth and a database behind PublishRuleset."""
    store = Store(database_url)
    store.migrate()
    config = ServerConfig(address="127.0.0.1:0", rulesets=folder, auth=AUTH, database_url=database_url)
    running = build_server(config, publisher=store)
    channel = grpc.insecure_channel(f"127.0.0.1:{running.port}")
    yield channel, store
    channel.close()
    _stop(running, 0)
    store.close()


def test_scoring_needs_a_token(secured: tuple[grpc.Channel, Store]) -> None:
    """Score without a token is UNAUTHENTICATED; with a reader token it answers."""
    stub = evaluation_pb2_grpc.EvaluationServiceStub(secured[0])
    with pytest.raises(grpc.RpcError) as caught:
        stub.Score(_score_request(), timeout=10)
    assert grpc.StatusCode.UNAUTHENTICATED == caught.value.code()
    assert (
        "2.50" == stub.Score(_score_request(), metadata=metadata_for(READER_TOKEN), timeout=10).result.score
    )


def test_publish_needs_an_editor_and_lands_in_the_database(secured: tuple[grpc.Channel, Store]) -> None:
    """A reader's PublishRuleset is PERMISSION_DENIED; an editor's is stored, and repeating it is a no-op."""
    channel, store = secured
    stub = rulesets_pb2_grpc.RulesetServiceStub(channel)
    with pytest.raises(grpc.RpcError) as caught:
        stub.PublishRuleset(_publish_request(), metadata=metadata_for(READER_TOKEN), timeout=30)
    assert grpc.StatusCode.PERMISSION_DENIED == caught.value.code()
    assert None is store.find_ruleset("divz", "9")
    first = stub.PublishRuleset(_publish_request(), metadata=metadata_for(EDITOR_TOKEN), timeout=30)
    again = stub.PublishRuleset(_publish_request(), metadata=metadata_for(EDITOR_TOKEN), timeout=30)
    assert (True, False) == (first.created, again.created)
    stored = store.get_ruleset("divz", "9")
    assert (first.ruleset.sha256, "test", "published") == (stored.sha256, stored.author, stored.status)


def test_publishing_other_content_under_a_version_is_already_exists(
    secured: tuple[grpc.Channel, Store],
) -> None:
    """Other content under a published version is ALREADY_EXISTS through the API."""
    stub = rulesets_pb2_grpc.RulesetServiceStub(secured[0])
    stub.PublishRuleset(_publish_request(), metadata=metadata_for(EDITOR_TOKEN), timeout=30)
    changed = _publish_request()
    changed.source = changed.source.replace("max 10 =", "max 9 =")
    with pytest.raises(grpc.RpcError) as caught:
        stub.PublishRuleset(changed, metadata=metadata_for(EDITOR_TOKEN), timeout=30)
    assert grpc.StatusCode.ALREADY_EXISTS == caught.value.code()


def test_health_needs_no_token(secured: tuple[grpc.Channel, Store]) -> None:
    """Health probes are answered without a token on a secured server."""
    response = health_pb2_grpc.HealthStub(secured[0]).Check(health_pb2.HealthCheckRequest(), timeout=10)
    assert health_pb2.HealthCheckResponse.SERVING == response.status


def test_tls_and_tokens_together(folder: Path, tmp_path: Path) -> None:
    """Over TLS the token travels encrypted and the same roles apply."""
    ca = make_authority(tmp_path, "ca")
    pair = issue(tmp_path, ca, "server", server=True)
    config = ServerConfig(
        address="127.0.0.1:0", rulesets=folder, auth=AUTH, tls=TlsSettings(pair.cert, pair.key)
    )
    running = build_server(config)
    try:
        with grpc.secure_channel(f"localhost:{running.port}", channel_credentials(ca.cert)) as channel:
            stub = evaluation_pb2_grpc.EvaluationServiceStub(channel)
            reply = stub.Score(_score_request(), metadata=metadata_for(READER_TOKEN), timeout=10)
            assert "2.50" == reply.result.score
    finally:
        _stop(running, 0)


def test_build_config_reads_security_settings(tmp_path: Path) -> None:
    """THIDUA_TOKENS, --tls-cert/--tls-key and --database-url reach the server configuration."""
    import argparse

    parser = argparse.ArgumentParser()
    add_arguments(parser)
    ca = make_authority(tmp_path, "ca")
    pair = issue(tmp_path, ca, "server", server=True)
    args = parser.parse_args(
        ["--tls-cert", str(pair.cert), "--tls-key", str(pair.key), "--database-url", "sqlite:///x.db"]
    )
    config = build_config(args, {"THIDUA_TOKENS": f"{hash_token('t')}:editor"}, stderr_is_tty=False)
    assert (TlsSettings(pair.cert, pair.key), "sqlite:///x.db") == (config.tls, config.database_url)
    assert config.auth is not None
    assert (False, EDITOR) == (config.auth.insecure_no_auth, config.auth.tokens.role_of("t"))
    defaults = build_config(parser.parse_args(["--insecure-no-auth"]), {}, stderr_is_tty=False)
    assert defaults.auth is not None
    assert (True, "sqlite:///var/thidua.db", None) == (
        defaults.auth.insecure_no_auth,
        defaults.database_url,
        defaults.tls,
    )
    with pytest.raises(ConfigError, match="is not a SHA-256 hex digest"):
        build_config(parser.parse_args([]), {"THIDUA_TOKENS": "plain-token:reader"}, stderr_is_tty=False)


def test_serve_without_tokens_refuses_to_start(folder: Path, sqlite_url: str) -> None:
    """`thidua serve` with no token configured and no --insecure-no-auth exits 2 saying how to fix it."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("THIDUA_TOKENS")}
    result = subprocess.run(
        [*THIDUA, "serve", "--address", f"127.0.0.1:{free_port()}", "--rulesets", str(folder)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env={**env, "THIDUA_DATABASE_URL": sqlite_url},
    )
    assert 2 == result.returncode
    assert "no tokens configured: set THIDUA_TOKENS" in result.stderr
    assert "Traceback" not in result.stderr


def test_serve_migrates_and_imports_the_folder_on_start(folder: Path, sqlite_url: str) -> None:
    """`thidua serve` creates the schema before serving and publishes the folder's rulesets (in the background)."""
    proc = subprocess.Popen(
        [
            *THIDUA,
            "serve",
            "--address",
            f"127.0.0.1:{free_port()}",
            "--rulesets",
            str(folder),
            "--workers",
            "1",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "THIDUA_DATABASE_URL": sqlite_url, "THIDUA_TOKENS": f"{hash_token('t')}:reader"},
    )
    try:
        # The "serving" line comes after migration and import.
        assert proc.stderr is not None
        for line in proc.stderr:
            if "serving" in line:
                break
        store = Store(sqlite_url)
        assert store.schema_revision() is not None
        deadline = time.monotonic() + 60
        names: set[str] = set()
        while time.monotonic() < deadline and names != {"aggr", "divz", "khoi3"}:
            names = {r.name for r in store.list_rulesets()}
            time.sleep(0.2)
        assert {"aggr", "divz", "khoi3"} == names
        store.close()
    finally:
        proc.terminate()
        proc.communicate(timeout=30)
    assert 0 == proc.returncode
