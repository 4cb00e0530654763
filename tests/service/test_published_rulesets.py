"""Rulesets published through the API are usable at once: Score by version, and as the latest."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest

from service.config import ServerConfig
from service.db import Store
from service.gen.thidua.v1 import evaluation_pb2 as ev
from service.gen.thidua.v1 import evaluation_pb2_grpc, rulesets_pb2_grpc
from service.gen.thidua.v1 import rulesets_pb2 as rs
from service.gen.thidua.v1 import values_pb2 as vals
from service.server import _stop, build_server
from tests.service.grpc_helpers import DATA, make_rulesets

DIVZ = (DATA / "rulesets" / "divz" / "1.rules").read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The gRPC tests' rulesets folder (divz versions 1 and 2)."""
    return make_rulesets(tmp_path_factory.mktemp("rulesets"))


@pytest.fixture
def channel(folder: Path, store: Store) -> Iterator[grpc.Channel]:
    """A channel to a server whose database is ``store``."""
    running = build_server(ServerConfig(address="127.0.0.1:0", rulesets=folder), publisher=store)
    opened = grpc.insecure_channel(f"127.0.0.1:{running.port}")
    yield opened
    opened.close()
    _stop(running, 0)


def _publish(channel: grpc.Channel, version: str) -> rs.PublishRulesetResponse:
    source = DIVZ.replace('version "1"', f'version "{version}"')
    request = rs.PublishRulesetRequest(name="divz", version=version, source=source, author="test")
    reply: rs.PublishRulesetResponse = rulesets_pb2_grpc.RulesetServiceStub(channel).PublishRuleset(
        request, timeout=30
    )
    return reply


def _score(channel: grpc.Channel, version: str) -> ev.ScoreResponse:
    request = ev.ScoreRequest(
        ruleset=vals.RulesetRef(name="divz", version=version),
        inputs={"assigned": vals.Value(integer=4), "met": vals.Value(integer=1)},
    )
    reply: ev.ScoreResponse = evaluation_pb2_grpc.EvaluationServiceStub(channel).Score(request, timeout=30)
    return reply


def test_a_published_version_scores_at_once(channel: grpc.Channel) -> None:
    """Score names a version published a moment ago through PublishRuleset, with its SHA-256."""
    published = _publish(channel, "9")
    reply = _score(channel, "9")
    assert ("9", published.ruleset.sha256, "2.50") == (
        reply.ruleset.version,
        reply.ruleset.sha256,
        reply.result.score,
    )


def test_latest_includes_published_versions(channel: grpc.Channel) -> None:
    """An empty version picks the database's published version when it is newer than the folder's."""
    assert "2" == _score(channel, "").ruleset.version
    _publish(channel, "1.5")
    assert "2" == _score(channel, "").ruleset.version
    _publish(channel, "10")
    assert "10" == _score(channel, "").ruleset.version


def test_drafts_are_not_served(channel: grpc.Channel, store: Store) -> None:
    """A draft stored in the database is not a ruleset clients can score with."""
    text = DIVZ.replace('version "1"', 'version "11"')
    store.save_draft("divz", "11", text, text, hashlib.sha256(text.encode()).hexdigest(), "test")
    with pytest.raises(grpc.RpcError) as caught:
        _score(channel, "11")
    assert grpc.StatusCode.NOT_FOUND == caught.value.code()
    assert "2" == _score(channel, "").ruleset.version


def test_published_versions_are_listed_and_got(channel: grpc.Channel) -> None:
    """ListRulesets lists a version published through the API (as the latest), and GetRuleset returns its source."""
    _publish(channel, "9")
    stub = rulesets_pb2_grpc.RulesetServiceStub(channel)
    listed = stub.ListRulesets(rs.ListRulesetsRequest(name="divz"), timeout=30).rulesets
    by_version = {info.ruleset.version: info for info in listed}
    assert {"1", "2", "9"} <= set(by_version)
    assert "published" == by_version["9"].status
    assert [True] == [info.latest for info in listed if info.latest and info.ruleset.version == "9"]
    assert not by_version["2"].latest
    got = stub.GetRuleset(rs.GetRulesetRequest(ruleset=vals.RulesetRef(name="divz", version="9")), timeout=30)
    assert 'version "9"' in got.source
    assert got.info.latest
    assert by_version["9"].ruleset.sha256 == got.info.ruleset.sha256
