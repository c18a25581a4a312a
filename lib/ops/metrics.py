"""The studio's Prometheus metrics, read from Postgres at each scrape.

Every worker on every machine writes its work into the same database, so any one studio process can
report all of it: no per-process counters to merge, nothing lost when a worker restarts. Rates are over
the last `METRICS_WINDOW_SECONDS` (gauges: Prometheus takes rates over its own window from them too).
"""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import GaugeHistogramMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy import Engine

from lib.core.queries import q

BUCKETS = (1, 2, 5, 10, 30, 60, 120, 300)


class StudioCollector(Collector):
    """Generation latency and outcomes, the queue, workers and credits, from one short read."""

    def __init__(self, engine: Engine, *, window_seconds: int, stall_seconds: float) -> None:
        self.engine = engine
        self.window = window_seconds
        self.stall = stall_seconds

    def collect(self) -> Iterator[Metric]:
        params = {"window_seconds": self.window}
        with self.engine.connect() as conn:
            latency = conn.execute(q("metrics_latency"), params).all()
            outcomes = conn.execute(q("metrics_outcomes"), params).all()
            queue = conn.execute(q("metrics_queue")).one()
            workers = conn.execute(q("metrics_workers")).all()
            credits = conn.execute(q("metrics_credits"), params).one()
            calls = conn.execute(q("metrics_service_calls"), params).all()
        window = f"the last {self.window} s"
        histogram = GaugeHistogramMetricFamily("studio_generation_seconds",
                                               f"Time to make an image (finished in {window}), by model",
                                               labels=["model"])
        for row in latency:
            buckets = [(str(b), getattr(row, f"le_{b}")) for b in BUCKETS] + [("+Inf", row.total)]
            histogram.add_metric([row.model], buckets, gsum_value=float(row.seconds))
        yield histogram
        ended = GaugeMetricFamily("studio_images_ended", f"Images that ended in {window}, by model and outcome "
                                  "(done, cancelled, or the failure kind: safety, rate_limited, timeout, ...)",
                                  labels=["model", "outcome"])
        for row in outcomes:
            ended.add_metric([row.model, row.outcome], row.n)
        yield ended
        yield GaugeMetricFamily("studio_queue_waiting", "Images waiting for a worker", value=queue.queued)
        yield GaugeMetricFamily("studio_queue_running", "Images being made now", value=queue.running)
        yield GaugeMetricFamily("studio_queue_oldest_waiting_seconds", "Age of the oldest waiting image",
                                value=float(queue.oldest_seconds))
        heartbeat = GaugeMetricFamily("studio_worker_heartbeat_age_seconds", "Seconds since each worker's heartbeat",
                                      labels=["worker"])
        for row in workers:
            heartbeat.add_metric([str(row.id)], float(row.age))
        yield heartbeat
        yield GaugeMetricFamily("studio_workers_alive", "Workers whose heartbeat is recent",
                                value=sum(row.age <= self.stall for row in workers))
        yield GaugeMetricFamily("studio_credits_held", "Credits held by unfinished images", value=credits.held)
        yield GaugeMetricFamily("studio_credits_captured", f"Credits charged in {window}", value=credits.captured)
        counted = GaugeMetricFamily("studio_service_calls", f"REST API requests and storage operations in {window}, "
                                    "by outcome (error: a 5xx answer, or a failed storage operation)",
                                    labels=["service", "outcome"])
        seconds = GaugeMetricFamily("studio_service_call_seconds", f"Time those calls took in {window}",
                                    labels=["service", "outcome"])
        for row in calls:
            counted.add_metric([row.service, row.outcome], row.calls)
            seconds.add_metric([row.service, row.outcome], float(row.seconds))
        yield counted
        yield seconds
        yield GaugeMetricFamily("studio_api_slow_requests", f"REST API requests in {window} slower than "
                                "ALARM_API_SLOW_SECONDS", value=sum(r.slow for r in calls if r.service == "api"))


def scrape(engine: Engine, *, window_seconds: int, stall_seconds: float) -> bytes:
    """The text exposition of the studio's metrics."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(StudioCollector(engine, window_seconds=window_seconds, stall_seconds=stall_seconds))
    return generate_latest(registry)
