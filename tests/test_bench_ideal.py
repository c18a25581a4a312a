"""The batch benchmark's ideal schedule: the yardstick its efficiency figure is measured against."""

from __future__ import annotations

from benchmarks.bench_batch import ideal_starts


def test_latency_bound_calls_go_out_in_waves_of_the_in_flight_limit() -> None:
    starts = ideal_starts(40, latency=3.0, ipm=600, in_flight=10)
    assert starts == [0.0] * 10 + [3.0] * 10 + [6.0] * 10 + [9.0] * 10  # last answer at 12 s


def test_rate_bound_calls_wait_for_both_limits_at_once() -> None:
    """20 images per minute and 10 in flight: calls 31-40 wait for calls 11-20 (started at 3 s) to leave the
    window, so the last answer is in at 66 s; counting the per-minute bound alone would say 63 s."""
    starts = ideal_starts(40, latency=3.0, ipm=20, in_flight=10)
    assert starts[19:22] == [3.0, 60.0, 60.0] and starts[-1] + 3.0 == 66.0


def test_one_call_at_a_time() -> None:
    assert ideal_starts(3, latency=2.0, ipm=600, in_flight=1) == [0.0, 2.0, 4.0]
