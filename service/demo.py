"""``make demo``: start the service, decide the bundled khoi3 2023 bloc through the API, stop it.

Starts ``thidua serve`` on a free loopback port with the bundled rulesets,
waits until health says SERVING, calls CheckEligibility and ComputeRotation
for the case file, prints the ranking, the titles and the rotation as tables,
and always stops the server (SIGTERM, then a kill if it does not exit).
Exit status 0 when everything worked.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from service.convert import STATUS_NAMES, case_from_json
from service.gen.thidua.v1 import evaluation_pb2 as ev
from service.gen.thidua.v1 import evaluation_pb2_grpc
from service.gen.thidua.v1 import values_pb2 as vals

_MARKS = {"awarded": "✓", "tied": "tied", "over_quota": "over quota", "not_eligible": "–"}


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_serving(channel: grpc.Channel, server: subprocess.Popen[bytes], timeout: float) -> None:
    stub = health_pb2_grpc.HealthStub(channel)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"the server exited with status {server.returncode} before serving")
        try:
            status = stub.Check(health_pb2.HealthCheckRequest(), timeout=2).status
            if status == health_pb2.HealthCheckResponse.SERVING:
                return
        except grpc.RpcError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"the server was not SERVING after {timeout:.0f} s")


def _stop(server: subprocess.Popen[bytes]) -> None:
    if server.poll() is not None:
        return
    server.send_signal(signal.SIGTERM)
    try:
        server.wait(timeout=15)
    except subprocess.TimeoutExpired:
        server.kill()
        server.wait()


def table(headers: list[str], rows: list[list[str]]) -> str:
    """A plain text table, columns as wide as their widest cell."""
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(headers)]
    line = "  ".join("-" * w for w in widths)
    out = ["  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)), line]
    out += ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) for r in rows]
    return "\n".join(out)


def render(eligibility: ev.CheckEligibilityResponse, rotation: ev.ComputeRotationResponse) -> str:
    """The ranking, the titles and the rotation as text tables."""
    titles = [t.name for t in eligibility.titles]
    rows = [
        [str(u.rank), u.unit, u.score, u.level]
        + [_MARKS.get(STATUS_NAMES.get(t.status, ""), "?") for t in u.titles]
        for u in eligibility.units
    ]
    rs = eligibility.ruleset
    parts = [
        f"Bloc {eligibility.bloc}, period {eligibility.period} — ruleset {rs.name} {rs.version} "
        f"(sha256 {rs.sha256[:12]}…)",
        "",
        table(["rank", "unit", "score", "level", *titles], rows),
        "",
        table(
            ["title", "label", "quota", "awarded", "tied"],
            [
                [
                    t.name,
                    t.label,
                    str(t.quota) if t.HasField("quota") else "–",
                    ", ".join(t.awarded) or "–",
                    ", ".join(t.tied) or "–",
                ]
                for t in eligibility.titles
            ],
        ),
        "",
        table(
            ["role", "unit", "chosen by"],
            [
                ["leader (khối trưởng)", rotation.leader.unit, rotation.leader.chosen_by],
                ["deputy (khối phó)", rotation.deputy.unit, rotation.deputy.chosen_by],
            ],
        ),
    ]
    return "\n".join(parts)


def run_demo(rulesets: Path, case_path: Path, *, timeout: float = 60) -> str:
    """Serve ``rulesets``, decide ``case_path`` through the API and return the printed report."""
    case: dict[str, Any] = json.loads(case_path.read_text(encoding="utf-8"), parse_float=Decimal)
    name, _, version = str(case.get("ruleset", "")).partition("@")
    if not name:
        raise ValueError(f'{case_path}: the case names no ruleset ("ruleset": "NAME@VERSION")')
    ref = vals.RulesetRef(name=name, version=version)
    port = _free_port()
    with tempfile.TemporaryDirectory(prefix="thidua-demo-") as scratch:
        log_path = Path(scratch) / "server.log"
        with open(log_path, "wb") as log:
            server = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "service.commands.serve",
                    "--address",
                    f"127.0.0.1:{port}",
                    "--rulesets",
                    str(rulesets),
                    "--log-format",
                    "json",
                    # A throwaway loopback server for the demo: no tokens (docs/security.md),
                    # its own scratch database (the developer's var/thidua.db stays untouched).
                    "--insecure-no-auth",
                    "--database-url",
                    f"sqlite:///{Path(scratch) / 'demo.db'}",
                ],
                stdout=log,
                stderr=log,
                env={**os.environ},
            )
            try:
                with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
                    _wait_serving(channel, server, timeout)
                    stub = evaluation_pb2_grpc.EvaluationServiceStub(channel)
                    bloc = case_from_json(case)
                    eligibility = stub.CheckEligibility(
                        ev.CheckEligibilityRequest(ruleset=ref, bloc_case=bloc), timeout=timeout
                    )
                    rotation = stub.ComputeRotation(
                        ev.ComputeRotationRequest(ruleset=ref, bloc_case=bloc), timeout=timeout
                    )
            except (grpc.RpcError, RuntimeError):
                _stop(server)
                sys.stderr.write(log_path.read_text(encoding="utf-8", errors="replace"))
                raise
            finally:
                _stop(server)
    return render(eligibility, rotation)


def main(argv: list[str] | None = None) -> int:
    """``python -m service.demo [--rulesets DIR] [--case FILE]``."""
    parser = argparse.ArgumentParser(prog="python -m service.demo", description=__doc__.splitlines()[0])
    parser.add_argument(
        "--rulesets", default="rulesets", type=Path, help="rulesets folder (default rulesets/)"
    )
    parser.add_argument(
        "--case",
        default=Path("rulesets/khoi3/cases/2023.json"),
        type=Path,
        help="bloc case file (default rulesets/khoi3/cases/2023.json)",
    )
    args = parser.parse_args(argv)
    try:
        print(run_demo(args.rulesets, args.case))
    except grpc.RpcError as exc:
        print(f"demo: the call failed: {exc.code().name}: {exc.details()}", file=sys.stderr)
        return 1
    except (RuntimeError, ValueError, OSError) as exc:
        print(f"demo: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
