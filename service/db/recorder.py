"""Recording every evaluation the service answers (SPEC §4), off the request path.

A call hands its request and result to `EvaluationRecorder.record`, which
only puts them on a queue; one background thread renders them to canonical
JSON and writes them in batches (one transaction per batch), so scoring does
not wait for the database. `close` writes what is still queued; the server
calls it on shutdown, after in-flight calls have finished.

When the database is unreachable the current batch is kept and retried every
second; new records wait in the queue (at most ``max_pending``). Beyond that,
records are dropped rather than slowing the service down, and every drop is
counted and logged — the answer the client got is unaffected either way.
"""

from __future__ import annotations

import queue
import threading
from typing import Any

from service.db.errors import UnavailableError
from service.db.records import NewEvaluation
from service.db.repository import Store

#: Records written per transaction at most.
BATCH = 500
#: Seconds between attempts while the database is unreachable.
RETRY_S = 1.0


class EvaluationRecorder:
    """A queue and a writer thread recording evaluations into a `Store`."""

    def __init__(self, store: Store, *, max_pending: int = 10_000, log: Any | None = None) -> None:
        self._store = store
        self._queue: queue.Queue[NewEvaluation | None] = queue.Queue(maxsize=max_pending)
        self._log = log
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._closed = threading.Event()
        self.recorded = 0
        self.dropped = 0

    def record(self, item: NewEvaluation) -> None:
        """Queue one evaluation for writing; never blocks the caller."""
        if self._closed.is_set():
            return
        self._start()
        try:
            self._queue.put_nowait(item)
        except queue.Full:
            with self._lock:
                self.dropped += 1
                dropped = self.dropped
            # Logged at powers of two: visible, without one log line per call under load.
            if self._log is not None and dropped & (dropped - 1) == 0:
                self._log.error("evaluations not recorded: the database is behind", dropped=dropped)

    def _start(self) -> None:
        with self._lock:
            if self._thread is None:
                # Started on first use, in the process that serves: a thread does not survive a fork.
                self._thread = threading.Thread(target=self._run, name="thidua-recorder", daemon=True)
                self._thread.start()

    def _run(self) -> None:
        stopping = False
        while not stopping:
            first = self._queue.get()
            batch: list[NewEvaluation] = []
            if first is None:
                stopping = True
            else:
                batch.append(first)
            while len(batch) < BATCH:
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
                if item is None:
                    stopping = True
                    break
                batch.append(item)
            self._write(batch, give_up=stopping)

    def _write(self, batch: list[NewEvaluation], *, give_up: bool) -> None:
        while batch:
            try:
                written = self._store.record_evaluations(batch)
            except UnavailableError as exc:
                if give_up:
                    with self._lock:
                        self.dropped += len(batch)
                    if self._log is not None:
                        self._log.error(
                            "evaluations not recorded at shutdown", dropped=len(batch), error=exc.message
                        )
                    return
                if self._log is not None:
                    self._log.warning(
                        "recording evaluations: database unavailable, retrying", error=exc.message
                    )
                self._closed.wait(RETRY_S)
                give_up = self._closed.is_set()
                continue
            except Exception:  # a record that cannot be rendered must not stop the recorder
                with self._lock:
                    self.dropped += len(batch)
                if self._log is not None:
                    self._log.exception("evaluations not recorded", dropped=len(batch))
                return
            with self._lock:
                self.recorded += written
                # Records the store could not render (a float, an over-long name) are left out of the batch.
                self.dropped += len(batch) - written
            return

    def close(self, timeout: float = 10.0) -> None:
        """Write what is queued (waiting at most ``timeout`` seconds) and stop the thread."""
        self._closed.set()
        thread = self._thread
        if thread is None:
            return
        try:
            self._queue.put(None, timeout=timeout)
        except queue.Full:
            return
        thread.join(timeout)
