"""Helpers for the gRPC tests: a real server on a free loopback port, stubs, and the bundled case."""

from __future__ import annotations

import contextlib
import json
import shutil
import socket
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import grpc

from service.config import Limits, ServerConfig
from service.gen.thidua.v1 import evaluation_pb2_grpc, rulesets_pb2_grpc
from service.gen.thidua.v1 import values_pb2 as vals
from service.server import Running, build_server

ROOT = Path(__file__).resolve().parents[2]
DATA = Path(__file__).resolve().parent / "data"
CASE_FILE = ROOT / "rulesets" / "khoi3" / "cases" / "2023.json"
KHOI3 = vals.RulesetRef(name="khoi3", version="2023.1")


def make_rulesets(folder: Path) -> Path:
    """A rulesets folder with khoi3 2023.1 (the reference) and the test rulesets aggr and divz."""
    (folder / "khoi3").mkdir(parents=True)
    shutil.copy(ROOT / "rulesets" / "khoi3" / "2023.1.rules", folder / "khoi3" / "2023.1.rules")
    for sub in (DATA / "rulesets").iterdir():
        shutil.copytree(sub, folder / sub.name)
    return folder


def load_case() -> dict[str, Any]:
    """The bundled khoi3 2023 case, numbers as Decimal/int (never float)."""
    data: dict[str, Any] = json.loads(CASE_FILE.read_text(encoding="utf-8"), parse_float=Decimal)
    return data


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass(frozen=True)
class Client:
    """A channel to a test server and its stubs."""

    channel: grpc.Channel
    evaluation: evaluation_pb2_grpc.EvaluationServiceStub
    rulesets: rulesets_pb2_grpc.RulesetServiceStub
    running: Running


@contextlib.contextmanager
def serving(rulesets: Path, limits: Limits | None = None, **options: Any) -> Iterator[Client]:
    """Run a real in-process server on a free loopback port for the duration of the block."""
    config = ServerConfig(address="127.0.0.1:0", rulesets=rulesets, limits=limits or Limits(), **options)
    running = build_server(config)
    channel = grpc.insecure_channel(f"127.0.0.1:{running.port}")
    try:
        yield Client(
            channel,
            evaluation_pb2_grpc.EvaluationServiceStub(channel),
            rulesets_pb2_grpc.RulesetServiceStub(channel),
            running,
        )
    finally:
        channel.close()
        running.server.stop(0).wait()
