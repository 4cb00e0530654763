"""Tests for service/demo.py (`make demo`): the bloc decided through the API, the server always stopped."""

from __future__ import annotations

import json
import socket
from pathlib import Path

import pytest

from service import demo
from service.demo import run_demo, table
from tests.service.grpc_helpers import CASE_FILE, free_port, make_rulesets


def test_table_aligns_columns() -> None:
    """Columns are as wide as their widest cell, headers underlined."""
    assert "a    bb\n---  --\nccc  d " == table(["a", "bb"], [["ccc", "d"]])


def test_demo_prints_ranking_titles_and_rotation(tmp_path: Path) -> None:
    """The bundled case through a real server: the reference ranking, awards and the new holders."""
    report = run_demo(make_rulesets(tmp_path / "r"), CASE_FILE)
    lines = report.splitlines()
    assert lines[0].startswith("Bloc khoi3, period 2023 — ruleset khoi3 2023.1")
    ranking = [line.split()[1] for line in lines[4:10]]
    assert ["tham_muu", "tccb", "ctd_ctct", "ubkt", "hau_can", "thanh_tra"] == ranking
    assert "✓" in lines[4]
    assert any(line.startswith("co_bca") and "tham_muu" in line for line in lines)
    assert any(line.startswith("leader (khối trưởng)  hau_can   current.deputy") for line in lines)
    assert any(line.startswith("deputy (khối phó)     tham_muu") for line in lines)


def test_demo_failure_is_one_line_and_stops_the_server(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A case naming an unknown ruleset: exit 1 with the status, and nothing listens on the port after."""
    case = json.loads(CASE_FILE.read_text(encoding="utf-8"))
    case["ruleset"] = "nope@1"
    path = tmp_path / "case.json"
    path.write_text(json.dumps(case), encoding="utf-8")
    port = free_port()
    monkeypatch.setattr(demo, "_free_port", lambda: port)
    assert 1 == demo.main(["--rulesets", str(make_rulesets(tmp_path / "r")), "--case", str(path)])
    assert "demo: the call failed: NOT_FOUND" in capsys.readouterr().err
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        assert 0 != sock.connect_ex(("127.0.0.1", port)), "the demo server is still listening"
