"""The workers' shared rate limiter (lib.backends.limiter) on a real Redis, as two worker processes use it.

Each test takes its own key prefix, so tests and earlier runs do not share counters.
"""

from __future__ import annotations

import os
import threading
import time
from uuid import uuid4

import pytest
import redis

from lib.backends.limiter import ModelLimiter

REDIS_URL = os.environ.get("STUDIO_TEST_REDIS_URL", "redis://127.0.0.1:6379/12")
MODEL = "gemini-3.1-flash-image"


def limiters(count: int, **options: object) -> list[ModelLimiter]:
    prefix = f"test-{uuid4().hex[:8]}"
    return [ModelLimiter(redis_url=REDIS_URL, prefix=prefix, **options) for _ in range(count)]  # type: ignore[arg-type]


def test_calls_in_flight_never_exceed_the_limit_across_processes() -> None:
    """Two limiters (two worker processes), 24 threads: never more than 3 calls out at once, every call
    made, and the wake-ups left behind are bounded by the limit."""
    first, second = limiters(2, images_per_minute=1000, max_in_flight=3)
    lock, out, most, made = threading.Lock(), [0], [0], []

    def call(limiter: ModelLimiter, n: int) -> None:
        with limiter.slot(MODEL):
            with lock:
                out[0] += 1
                most[0] = max(most[0], out[0])
            time.sleep(0.01)
            with lock:
                out[0] -= 1
                made.append(n)

    threads = [threading.Thread(target=call, args=((first, second)[n % 2], n)) for n in range(24)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert sorted(made) == list(range(24))
    assert most[0] == 3
    client = redis.Redis.from_url(REDIS_URL)
    assert int(client.get(f"{first.prefix}:inflight:{MODEL}") or 0) == 0  # every slot given back
    assert client.llen(f"{first.prefix}:inflight-wake:{MODEL}") <= 3


def test_a_waiting_call_is_woken_by_the_release_instead_of_polling() -> None:
    """One slot, held for a while by one process: the other process's waiting call asks Redis for the slot
    a few times (woken once by the release, plus at most one look per wake timeout), not every 50 ms."""
    holder, waiter = limiters(2, images_per_minute=1000, max_in_flight=1)
    client = redis.Redis.from_url(REDIS_URL)
    key = f"{holder.prefix}:inflight:{MODEL}"
    incrs = []
    real_pipeline = waiter.redis.pipeline

    def counting_pipeline(*args: object, **kwargs: object) -> redis.client.Pipeline:
        incrs.append(1)  # each look at the slot count is one INCR pipeline
        return real_pipeline(*args, **kwargs)

    waiter.redis.pipeline = counting_pipeline  # our own client object, not the SDK: count its looks
    held = waiter.slot(MODEL)  # kept: a collected context manager would give its slot back
    with holder.slot(MODEL):
        thread = threading.Thread(target=held.__enter__)
        thread.start()
        time.sleep(1.2)  # the waiter waits through two wake timeouts
        assert int(client.get(key)) == 1  # it did not get in while the slot was held
    thread.join(timeout=10)
    assert not thread.is_alive()
    assert int(client.get(key)) == 1  # the waiter holds the slot now
    assert 2 <= len(incrs) <= 5, len(incrs)  # polling every 50 ms would have looked ~24 times
    held.__exit__(None, None, None)
    assert int(client.get(key)) == 0


def test_a_call_over_the_images_per_minute_waits_for_the_window() -> None:
    """The fourth call of a 3-per-minute quota does not start: it sleeps (5 s at a time, the oldest call
    leaves the 61 s window only in a minute) and looks again."""
    calls = 3
    pauses: list[float] = []

    class Stop(Exception):
        pass

    def sleep(seconds: float) -> None:
        pauses.append(seconds)
        raise Stop

    (limiter,) = limiters(1, images_per_minute=calls, max_in_flight=10, sleep=sleep)
    for _ in range(calls):
        with limiter.slot(MODEL):
            pass
    with pytest.raises(Stop), limiter.slot(MODEL):
        pass
    assert pauses == [5.0]
