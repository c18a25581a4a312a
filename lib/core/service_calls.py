"""Calls to the studio's own services — REST API requests and object-storage operations — counted per minute.

Each process counts in memory (`CALLS.record`, cheap and thread-safe) and a background thread adds the counts
to `service_calls` in Postgres every few seconds (`start_flushing`), so the alarms and `/metrics` of any one
process see every process's calls. Counts that cannot be written (the database is away) are kept and added
with the next flush: none is lost while the process lives.
"""

from __future__ import annotations

import atexit
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal

from sqlalchemy import Connection, Engine

from lib.core.queries import q

log = logging.getLogger(__name__)
Service = Literal["api", "storage"]


@dataclass
class Tally:
    calls: int = 0
    seconds: float = 0.0
    slow: int = 0

    def add(self, other: Tally) -> None:
        self.calls += other.calls
        self.seconds += other.seconds
        self.slow += other.slow


Key = tuple[datetime, str, str]  # (minute, service, outcome)


class ServiceCalls:
    """A process's counts not yet in the database."""

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self._lock = threading.Lock()
        self._pending: dict[Key, Tally] = {}
        self._clock = clock

    def record(self, service: Service, *, ok: bool, seconds: float, slow: bool = False) -> None:
        minute = datetime.fromtimestamp(self._clock() // 60 * 60, UTC)
        key = (minute, service, "ok" if ok else "error")
        with self._lock:
            self._pending.setdefault(key, Tally()).add(Tally(1, max(seconds, 0.0), int(slow)))

    def pending(self) -> dict[Key, Tally]:
        with self._lock:
            return {key: Tally(t.calls, t.seconds, t.slow) for key, t in self._pending.items()}

    def flush(self, conn: Connection) -> int:
        """Add the pending counts to `service_calls` (the caller commits); returns how many calls were written.

        The counts leave memory only once the statement ran; if it raises they are put back.
        """
        with self._lock:
            taken, self._pending = self._pending, {}
        try:
            if taken:
                conn.execute(q("add_service_calls"), [
                    {"minute": minute, "service": service, "outcome": outcome, "calls": t.calls,
                     "seconds": t.seconds, "slow": t.slow} for (minute, service, outcome), t in taken.items()])
        except BaseException:
            self._put_back(taken)
            raise
        return sum(t.calls for t in taken.values())

    def _put_back(self, taken: dict[Key, Tally]) -> None:
        with self._lock:
            for key, tally in taken.items():
                self._pending.setdefault(key, Tally()).add(tally)

    def flush_to(self, engine: Engine) -> int:
        """One flush in its own transaction; a failure is logged and the counts kept for the next one."""
        taken = self.pending()
        try:
            with engine.begin() as conn:
                return self.flush(conn)
        except Exception as exc:  # noqa: BLE001 - counting must never take a process down
            log.warning("service call counts not written yet (%d kept): %s",
                        sum(t.calls for t in taken.values()), exc)
            return 0


CALLS = ServiceCalls()  # this process's counts
_flusher: threading.Thread | None = None
_flusher_lock = threading.Lock()


def start_flushing(engine: Callable[[], Engine], *, every: float = 10.0) -> None:
    """Write this process's counts every `every` seconds from a daemon thread (once per process)."""
    global _flusher
    with _flusher_lock:
        if _flusher is not None:
            return

        def loop() -> None:
            while True:
                time.sleep(every)
                CALLS.flush_to(engine())

        _flusher = threading.Thread(target=loop, name="service-calls-flush", daemon=True)
        _flusher.start()
        atexit.register(lambda: CALLS.flush_to(engine()))  # the last seconds' counts of a process that stops
