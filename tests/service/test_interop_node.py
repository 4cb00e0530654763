"""Interop: a Node client (@grpc/grpc-js + @grpc/proto-loader) calls the server and gets the Python answers.

The npm packages are pinned in protos/package.json + package-lock.json and
installed with `npm ci` into a cache folder (``THIDUA_NPM_TOOLS``, default
``~/.cache/thidua/npm`` — the same one `make lint-protos` uses). The test is
skipped only when npm itself is absent.
"""

from __future__ import annotations

import base64
import fcntl
import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from google.protobuf.message import Message

from service.convert import case_from_json, value_from_json
from service.gen.thidua.v1 import evaluation_pb2 as ev
from service.gen.thidua.v1 import rulesets_pb2 as rs
from service.gen.thidua.v1 import values_pb2 as vals
from tests.service.grpc_helpers import KHOI3, ROOT, Client, load_case, make_rulesets, serving

NODE_DIR = Path(__file__).resolve().parent / "node"
TOOLS = Path(os.environ.get("THIDUA_NPM_TOOLS", Path.home() / ".cache" / "thidua" / "npm"))

pytestmark = pytest.mark.skipif(
    shutil.which("npm") is None or shutil.which("node") is None,
    reason="npm/node are not installed: the Node interop test needs them (apt-get install nodejs npm)",
)


def _install_node_packages() -> Path:
    """`npm ci` the pinned packages into TOOLS once per lock file content; return its node_modules."""
    TOOLS.mkdir(parents=True, exist_ok=True)
    lock = (ROOT / "protos" / "package-lock.json").read_text(encoding="utf-8")
    with open(TOOLS / ".lock", "w") as guard:
        # Two test runs at once must not run `npm ci` over each other.
        fcntl.flock(guard, fcntl.LOCK_EX)
        installed = TOOLS / "package-lock.json"
        ready = (TOOLS / "node_modules" / "@grpc" / "grpc-js").is_dir() and (
            TOOLS / "node_modules" / "@grpc" / "proto-loader"
        ).is_dir()
        if not (ready and installed.is_file() and installed.read_text(encoding="utf-8") == lock):
            shutil.copy(ROOT / "protos" / "package.json", TOOLS / "package.json")
            shutil.copy(ROOT / "protos" / "package-lock.json", installed)
            subprocess.run(
                ["npm", "ci", "--no-audit", "--no-fund", "--silent"], cwd=TOOLS, check=True, timeout=300
            )
    return TOOLS / "node_modules"


@pytest.fixture(scope="module")
def node_modules() -> Path:
    return _install_node_packages()


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Client]:
    with serving(make_rulesets(tmp_path_factory.mktemp("rulesets"))) as c:
        yield c


def _node(node_modules: Path, port: int, calls: list[dict[str, Any]]) -> list[dict[str, Any]]:
    spec = {"address": f"127.0.0.1:{port}", "protos": str(ROOT / "protos"), "calls": calls}
    result = subprocess.run(
        ["node", str(NODE_DIR / "interop.js")],
        input=json.dumps(spec),
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "NODE_PATH": str(node_modules)},
        check=False,
    )
    assert 0 == result.returncode, result.stderr
    return [json.loads(line) for line in result.stdout.splitlines()]


def _call(service: str, method: str, request: Message) -> dict[str, Any]:
    return {
        "service": service,
        "method": method,
        "request_b64": base64.b64encode(request.SerializeToString()).decode("ascii"),
    }


def test_node_client_gets_the_python_clients_answers(node_modules: Path, client: Client) -> None:
    """Score, CheckEligibility, ListRulesets and health from Node equal the Python client's results."""
    case = load_case()
    inputs = {k: value_from_json(v) for k, v in case["submissions"][0]["inputs"].items()}
    score = ev.ScoreRequest(ruleset=KHOI3, unit="tham_muu", inputs=inputs, explain=True)
    check = ev.CheckEligibilityRequest(ruleset=KHOI3, bloc_case=case_from_json(case), explain=True)
    listing = rs.ListRulesetsRequest(name="khoi3")
    answers = _node(
        node_modules,
        client.running.port,
        [
            _call("thidua.v1.EvaluationService", "Score", score),
            _call("thidua.v1.EvaluationService", "CheckEligibility", check),
            _call("thidua.v1.RulesetService", "ListRulesets", listing),
            {"health": ""},
            {"health": "thidua.v1.EvaluationService"},
        ],
    )
    from_node = [
        ev.ScoreResponse.FromString(base64.b64decode(answers[0]["response_b64"])),
        ev.CheckEligibilityResponse.FromString(base64.b64decode(answers[1]["response_b64"])),
        rs.ListRulesetsResponse.FromString(base64.b64decode(answers[2]["response_b64"])),
    ]
    from_python = [
        client.evaluation.Score(score),
        client.evaluation.CheckEligibility(check),
        client.rulesets.ListRulesets(listing),
    ]
    assert from_python == from_node
    assert "102.88" == from_node[0].result.score
    assert [{"status": "SERVING"}, {"status": "SERVING"}] == answers[3:]


def test_node_client_sees_status_codes(node_modules: Path, client: Client) -> None:
    """Errors reach Node with the same status codes (NOT_FOUND = 5, INVALID_ARGUMENT = 3)."""
    unknown = ev.ScoreRequest(ruleset=vals.RulesetRef(name="nope"))
    invalid = ev.ScoreRequest(ruleset=KHOI3, inputs={"members": vals.Value(decimal="lots")})
    answers = _node(
        node_modules,
        client.running.port,
        [
            _call("thidua.v1.EvaluationService", "Score", unknown),
            _call("thidua.v1.EvaluationService", "Score", invalid),
        ],
    )
    assert [5, 3] == [a["code"] for a in answers]
    assert "nope" in answers[0]["details"]
