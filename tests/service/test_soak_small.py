"""A short soak: 2,000 Score calls against a real ``thidua serve``; its memory stays flat after warm-up.

The full soak (200,000 calls on PostgreSQL) is ``bench/soak.py``. Here the
server process runs on a SQLite file, the reference unit is scored from 4
threads, every answer is checked, and the server's resident memory is
sampled after each 250 calls: from the sample after the first 500 calls to
the end it may grow by less than 5 %.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench"
sys.path.insert(0, str(BENCH))

from _service import ServeProcess, score_request  # noqa: E402

from service.gen.thidua.v1 import evaluation_pb2_grpc  # noqa: E402

CALLS, STEP, WARMUP, THREADS = 2000, 250, 500, 4


@pytest.fixture
def server(tmp_path: Path) -> Iterator[ServeProcess]:
    """``thidua serve`` on a fresh SQLite file, stopped (SIGTERM) afterwards."""
    running = ServeProcess.start(
        database_url=f"sqlite:///{tmp_path / 'soak.db'}", workers=1, log_path=tmp_path / "serve.log"
    )
    try:
        yield running
    finally:
        assert 0 == running.stop()


def test_rss_stays_flat_over_2000_score_calls(server: ServeProcess) -> None:
    """Every answer is right, and RSS at the end is within 5 % of RSS after the first 500 calls."""
    request = score_request()
    samples: list[int] = []
    wrong: list[str] = []
    with grpc.insecure_channel(server.address) as channel:
        stub = evaluation_pb2_grpc.EvaluationServiceStub(channel)

        def batch(count: int) -> None:
            for _ in range(count):
                score = stub.Score(request, timeout=60).result.score
                if score != "102.88":
                    wrong.append(score)

        for _ in range(CALLS // STEP):
            threads = [threading.Thread(target=batch, args=(STEP // THREADS,)) for _ in range(THREADS)]
            for t in threads:
                t.start()
            for t in threads:
                t.join(120)
            samples.append(server.rss_kib())
    assert [] == wrong
    baseline = samples[WARMUP // STEP - 1]
    growth = (samples[-1] - baseline) / baseline
    assert growth < 0.05, f"RSS grew {growth:.1%}: samples (KiB) every {STEP} calls: {samples}"
