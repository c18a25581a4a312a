"""What the admin Health page shows: the database, each alarm check, the queue and every worker."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.exc import OperationalError

from lib.core.queries import q
from lib.core.settings import Settings
from lib.ops import alarms


@dataclass(frozen=True)
class Check:
    reading: alarms.Reading
    since: datetime | None  # when the recorded state began (None: never evaluated by the worker yet)
    recorded_firing: bool | None


@dataclass(frozen=True)
class Health:
    database: str  # "ok" or why not
    checks: list[Check]
    queue: dict[str, Any]
    workers: list[dict[str, Any]]  # id, heartbeat age in seconds, alive
    events: list[dict[str, Any]]


def snapshot(engine: Engine, settings: Settings) -> Health:
    """Everything the Health page shows, read now; a lost database is reported, not raised."""
    try:
        with engine.connect() as conn:
            readings = alarms.read(conn, settings)
            states = {r.name: r for r in conn.execute(q("alarm_states"))}
            queue = dict(conn.execute(q("metrics_queue")).one()._mapping)
            workers = [{"worker": r.id, "heartbeat_age_s": round(float(r.age), 1),
                        "alive": float(r.age) <= settings.worker_stall_seconds}
                       for r in conn.execute(q("metrics_workers"))]
            events = [dict(r._mapping) for r in conn.execute(q("recent_alarm_events"), {"limit": 50})]
    except OperationalError as exc:
        return Health(database=f"not reachable ({type(exc.orig).__name__})", checks=[], queue={}, workers=[], events=[])
    checks = [Check(r, states[r.name].since if r.name in states else None,
                    states[r.name].firing if r.name in states else None) for r in readings]
    return Health(database="ok", checks=checks, queue=queue, workers=workers, events=events)
