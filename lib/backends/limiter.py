"""A rate limiter shared by every worker: images per minute and calls in flight, per model.

With REDIS_URL set the counters live in Redis, so all workers on all machines stay together under
Gemini's quota; otherwise they live in this process (the embedded default runs one worker).
The images-per-minute window comes from the `limits` library (moving window). A call waiting for a
slot in flight sleeps on a Redis list that every release pushes to, so it starts the moment one frees
instead of at its next poll. The backend enters `slot` around each HTTP call (lib.backends.gemini).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from limits import RateLimitItemPerSecond
from limits.storage import storage_from_string
from limits.strategies import MovingWindowRateLimiter

log = logging.getLogger(__name__)
IN_FLIGHT_TTL_SECONDS = 600  # a worker killed while holding a slot frees it after this
WAKE_TIMEOUT_SECONDS = 0.5  # a waiter looks again at least this often (a slot freed by the TTL wakes nobody)
WINDOW_SECONDS = 61


class ModelLimiter:
    """Blocks until a call may start; use as `with limiter.slot(model): ...`."""

    def __init__(
        self, *, images_per_minute: int, max_in_flight: int, redis_url: str | None = None,
        sleep: Callable[[float], None] = time.sleep, prefix: str = "studio",
    ) -> None:
        # Counted over 61 s rather than 60: calls reach the model a moment after they pass here, and a
        # window that is exactly as long as the provider's lets an occasional call land one too early.
        self.per_minute = RateLimitItemPerSecond(images_per_minute, WINDOW_SECONDS)
        self.max_in_flight = max_in_flight
        self.window = MovingWindowRateLimiter(storage_from_string(redis_url or "memory://"))
        self.redis: Any = None
        if redis_url:
            import redis

            self.redis = redis.Redis.from_url(redis_url)
        self.sleep = sleep
        self.prefix = prefix
        self._local: dict[str, threading.BoundedSemaphore] = {}
        self._lock = threading.Lock()

    def _acquire_in_flight(self, model: str) -> None:
        if self.redis is None:
            with self._lock:
                semaphore = self._local.setdefault(model, threading.BoundedSemaphore(self.max_in_flight))
            semaphore.acquire()
            return
        key, wake = f"{self.prefix}:inflight:{model}", f"{self.prefix}:inflight-wake:{model}"
        while True:
            count, _ = self.redis.pipeline().incr(key).expire(key, IN_FLIGHT_TTL_SECONDS).execute()
            if count <= self.max_in_flight:
                return
            if self.redis.decr(key) < self.max_in_flight:
                continue  # a slot freed while we counted (its wake-up may have gone to another waiter)
            # A release between the DECR above and this wait leaves its wake-up in the list: none is lost.
            self.redis.blpop([wake], timeout=WAKE_TIMEOUT_SECONDS)

    def _release_in_flight(self, model: str) -> None:
        if self.redis is None:
            self._local[model].release()
            return
        wake = f"{self.prefix}:inflight-wake:{model}"
        # One wake-up per release; kept to max_in_flight so unclaimed ones cost at most a look each.
        (self.redis.pipeline().decr(f"{self.prefix}:inflight:{model}").lpush(wake, 1)
         .ltrim(wake, 0, self.max_in_flight - 1).expire(wake, IN_FLIGHT_TTL_SECONDS).execute())

    def _wait_for_window(self, model: str) -> None:
        key = f"{self.prefix}:ipm:{model}"
        while not self.window.hit(self.per_minute, key):
            stats = self.window.get_window_stats(self.per_minute, key)
            if stats.remaining > 0:
                continue  # the oldest call left the window between the two looks: try again now
            self.sleep(max(0.01, min(stats.reset_time - time.time(), 5.0)))

    @contextmanager
    def slot(self, model: str) -> Iterator[None]:
        self._acquire_in_flight(model)
        try:
            self._wait_for_window(model)
            yield
        finally:
            self._release_in_flight(model)
