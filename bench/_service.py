"""`thidua serve` as a child process for the reliability scripts: start, wait healthy, measure, kill, stop.

The server runs exactly as an operator runs it (``python -m service.commands.serve``
with flags), on a free loopback port, quiet logs, no auth (loopback only). The
parent process never creates a gRPC object before it has forked its clients
(clients are spawned), so no gRPC state crosses a fork.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

ROOT = Path(__file__).resolve().parents[1]
RULESETS = ROOT / "rulesets"
CASE = RULESETS / "khoi3" / "cases" / "2023.json"


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def rss_kib(pid: int) -> int:
    """Resident set size of one process in KiB (Linux /proc), 0 when it is gone."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except (OSError, ValueError):
        return 0
    return 0


def children_of(pid: int) -> list[int]:
    """Direct children of ``pid`` (the worker processes of ``--workers N``)."""
    try:
        text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    except OSError:
        return []
    return [int(p) for p in text.split()]


@dataclass
class ServeProcess:
    """One running ``thidua serve``; `address` is ``127.0.0.1:PORT``."""

    port: int
    args: list[str]
    env: dict[str, str]
    log_path: Path
    process: subprocess.Popen[bytes] | None = None
    _log: IO[bytes] | None = field(default=None, repr=False)

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    @classmethod
    def start(
        cls,
        *,
        database_url: str,
        workers: int = 1,
        threads: int = 8,
        log_path: Path,
        port: int | None = None,
        extra: list[str] | None = None,
    ) -> ServeProcess:
        """Start the service and wait until it answers health checks (SERVING)."""
        chosen = port or free_port()
        args = [
            sys.executable,
            "-m",
            "service.commands.serve",
            "--address",
            f"127.0.0.1:{chosen}",
            "--rulesets",
            str(RULESETS),
            "--workers",
            str(workers),
            "--threads",
            str(threads),
            "--database-url",
            database_url,
            "--insecure-no-auth",
            "--log-format",
            "json",
            "--log-level",
            "warning",
            *(extra or []),
        ]
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        server = cls(chosen, args, env, log_path)
        server.restart()
        return server

    def restart(self, timeout: float = 60.0) -> None:
        """(Re)start the process with the same flags and port; wait until it is SERVING."""
        self._log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            self.args, cwd=ROOT, env=self.env, stdout=self._log, stderr=subprocess.STDOUT
        )
        wait_serving(self.address, timeout, self.process)

    def pids(self) -> list[int]:
        """The serving processes: the workers with ``--workers N``, else the one process."""
        assert self.process is not None
        kids = children_of(self.process.pid)
        return kids or [self.process.pid]

    def rss_kib(self) -> int:
        """Resident memory of every serving process together (KiB)."""
        return sum(rss_kib(p) for p in self.pids())

    def kill(self) -> None:
        """SIGKILL the service and its workers at once: a crash, no grace, nothing flushed."""
        assert self.process is not None
        for pid in [*children_of(self.process.pid), self.process.pid]:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        self.process.wait(30)
        self._close_log()

    def stop(self) -> int | None:
        """SIGTERM and wait (SIGKILL after 30 s); the exit code."""
        if self.process is None or self.process.poll() is not None:
            self._close_log()
            return None if self.process is None else self.process.returncode
        self.process.send_signal(signal.SIGTERM)
        try:
            code = self.process.wait(30)
        except subprocess.TimeoutExpired:
            self.kill()
            code = -9
        self._close_log()
        return code

    def _close_log(self) -> None:
        if self._log is not None:
            self._log.close()
            self._log = None


def wait_serving(address: str, timeout: float, process: subprocess.Popen[bytes] | None = None) -> None:
    """Poll the standard health check until SERVING; raise when the process died or time ran out."""
    import grpc
    from grpc_health.v1 import health_pb2, health_pb2_grpc

    deadline = time.monotonic() + timeout
    with grpc.insecure_channel(address) as channel:
        stub = health_pb2_grpc.HealthStub(channel)
        while time.monotonic() < deadline:
            if process is not None and process.poll() is not None:
                raise RuntimeError(f"thidua serve exited with {process.returncode} before serving")
            try:
                if stub.Check(health_pb2.HealthCheckRequest(), timeout=2).status == 1:
                    return
            except grpc.RpcError:
                pass
            time.sleep(0.1)
    raise RuntimeError(f"thidua serve on {address} was not SERVING after {timeout:.0f} s")


def score_request() -> Any:
    """The reference unit's ScoreRequest (khoi3 2023.1, tham_muu, expected score 102.88)."""
    import json
    from decimal import Decimal

    from service.convert import value_from_json
    from service.gen.thidua.v1 import evaluation_pb2 as ev
    from service.gen.thidua.v1 import values_pb2 as vals

    case = json.loads(CASE.read_text(encoding="utf-8"), parse_float=Decimal)
    sub = next(s for s in case["submissions"] if s["unit"] == "tham_muu")
    return ev.ScoreRequest(
        ruleset=vals.RulesetRef(name="khoi3", version="2023.1"),
        unit="tham_muu",
        inputs={k: value_from_json(v) for k, v in sub["inputs"].items()},
    )


def eligibility_request() -> Any:
    """CheckEligibility for the whole bundled khoi3 2023 bloc case."""
    import json
    from decimal import Decimal

    from service.convert import case_from_json
    from service.gen.thidua.v1 import evaluation_pb2 as ev
    from service.gen.thidua.v1 import values_pb2 as vals

    case = json.loads(CASE.read_text(encoding="utf-8"), parse_float=Decimal)
    return ev.CheckEligibilityRequest(
        ruleset=vals.RulesetRef(name="khoi3", version="2023.1"), bloc_case=case_from_json(case)
    )


def percentiles(samples: list[float]) -> dict[str, float]:
    """p50/p99/p999 and max of latencies in seconds, as milliseconds (nearest-rank)."""
    if not samples:
        return {"p50": 0.0, "p99": 0.0, "p999": 0.0, "max": 0.0}
    ordered = sorted(samples)

    def rank(q: float) -> float:
        return ordered[min(len(ordered) - 1, max(0, int(q * len(ordered) + 0.999999) - 1))] * 1000

    return {"p50": rank(0.50), "p99": rank(0.99), "p999": rank(0.999), "max": ordered[-1] * 1000}


def machine() -> str:
    """One line naming the machine the figures come from."""
    import platform

    mem_kib = 0
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemTotal:"):
            mem_kib = int(line.split()[1])
    return (
        f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; {os.cpu_count()} cores; "
        f"{mem_kib / 1024 / 1024:.1f} GiB RAM; Python {platform.python_version()}; {platform.platform()}"
    )
