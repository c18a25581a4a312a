"""Alarms on the studio's own services: REST API server errors and slow answers, failed storage operations.

Requests go through the real API application (Starlette's test client) and storage operations to S3 over
HTTP (moto server); their counts reach Postgres as they do in production (`ServiceCalls.flush`).
"""

from __future__ import annotations

import uuid

import boto3
import pytest
import sqlalchemy as sa
from sqlalchemy import Engine, text
from starlette.testclient import TestClient

from lib.api import rest
from lib.core import storage
from lib.core.errors import NotFound, StorageError
from lib.core.service_calls import ServiceCalls
from lib.core.settings import load_settings
from lib.core.storage import CountedStore, LocalStore, S3Store
from lib.ops import alarms, metrics
from tests.test_storage import moto_endpoint  # noqa: F401 - the moto server fixture

DEAD_DATABASE = "postgresql+psycopg://postgres@127.0.0.1:1/nothing"  # nothing listens on port 1


def api_settings(**overrides: object):
    return load_settings(**{"studio_cookie_key": "k" * 40, "api_rate_limits": "1000 per second",
                            "alarm_min_calls": 20, **overrides})


def readings(engine: Engine, settings) -> dict[str, alarms.Reading]:
    with engine.connect() as conn:
        return {r.name: r for r in alarms.read(conn, settings)}


def flush(calls: ServiceCalls, engine: Engine) -> int:
    with engine.begin() as conn:
        return calls.flush(conn)


def move_window_on(engine: Engine) -> None:
    with engine.begin() as conn:
        conn.execute(text("UPDATE service_calls SET minute = minute - interval '1 hour'"))


@pytest.fixture
def clean(engine: Engine):
    yield engine
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM service_calls; DELETE FROM alarm_states; DELETE FROM alarm_events"))


def test_api_server_errors_and_slow_answers_fire_then_resolve(clean: Engine, tmp_path, caplog) -> None:
    engine, calls, settings = clean, ServiceCalls(), api_settings()
    healthy = TestClient(rest.create_api(settings, engine=engine, store=LocalStore(tmp_path), calls=calls))
    for _ in range(20):
        assert healthy.get("/credits").status_code == 401  # a refusal is an answer, not a server failure
    assert flush(calls, engine) == 20 and calls.pending() == {}
    now = readings(engine, settings)
    assert now["api_error_rate"].value == 0 and not now["api_latency"].firing
    assert alarms.evaluate(engine, settings) == []

    dead = sa.create_engine(DEAD_DATABASE)
    broken = TestClient(rest.create_api(settings, engine=dead, store=LocalStore(tmp_path), calls=calls),
                        raise_server_exceptions=False)  # answered as a browser would see it
    for _ in range(3):  # the token cannot be looked up: 503
        assert broken.get("/credits", headers={"Authorization": "Bearer mcs_x"}).status_code == 503
    flush(calls, engine)
    turned = alarms.evaluate(engine, settings)
    assert [(t.reading.name, t.reading.firing, t.notified) for t in turned] == [("api_error_rate", True, "log")]
    assert "3 of 23 API requests failed with a server error" in turned[0].reading.says
    assert "alarm api_error_rate FIRING" in caplog.text
    assert alarms.evaluate(engine, settings) == []  # still firing: told once

    sluggish = TestClient(rest.create_api(api_settings(alarm_api_slow_seconds=1e-9), engine=engine,
                                          store=LocalStore(tmp_path), calls=calls))
    for _ in range(2):  # 2 of 25 slower than the limit: 8 % > 5 %, the 95th percentile is slow
        sluggish.get("/credits")
    flush(calls, engine)
    turned = alarms.evaluate(engine, settings)
    assert [(t.reading.name, t.reading.firing) for t in turned] == [("api_latency", True)]
    scraped = metrics.scrape(engine, window_seconds=300, stall_seconds=60).decode()
    assert 'studio_service_calls{outcome="error",service="api"} 3.0' in scraped
    assert 'studio_service_calls{outcome="ok",service="api"} 22.0' in scraped
    assert "studio_api_slow_requests 2.0" in scraped

    move_window_on(engine)  # those calls are older than the window; a quiet hour of good answers
    for _ in range(20):
        healthy.get("/credits")
    flush(calls, engine)
    turned = alarms.evaluate(engine, settings)
    assert sorted((t.reading.name, t.reading.firing) for t in turned) == [("api_error_rate", False),
                                                                          ("api_latency", False)]
    dead.dispose()


def test_failed_storage_operations_fire_and_missing_objects_do_not(clean: Engine, moto_endpoint: str,  # noqa: F811
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "studio-test")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "studio-test-secret")
    engine, calls, settings = clean, ServiceCalls(), load_settings(alarm_min_calls=20)
    bucket = f"studio-{uuid.uuid4().hex[:8]}"
    boto3.client("s3", endpoint_url=moto_endpoint, region_name="us-east-1").create_bucket(Bucket=bucket)
    client = storage.s3_client(load_settings(s3_endpoint_url=moto_endpoint))
    store = CountedStore(S3Store(client, bucket=bucket), calls=calls)
    for n in range(25):
        store.put(f"characters/a/b/diffs/{n}.png", b"png")
    with pytest.raises(NotFound):
        store.get("characters/a/b/diffs/missing.png")  # an answer: not a failure
    assert store.get("characters/a/b/diffs/3.png") == b"png"
    flush(calls, engine)
    assert alarms.evaluate(engine, settings) == []
    assert readings(engine, settings)["storage_error_rate"].value == 0

    gone = CountedStore(S3Store(client, bucket=f"{bucket}-deleted"), calls=calls)
    with pytest.raises(StorageError):
        gone.put("characters/a/b/diffs/0.png", b"png")
    flush(calls, engine)
    turned = alarms.evaluate(engine, settings)
    assert [(t.reading.name, t.reading.firing) for t in turned] == [("storage_error_rate", True)]
    assert "1 of 28 storage operations failed" in turned[0].reading.says

    move_window_on(engine)
    for n in range(20):
        store.exists(f"characters/a/b/diffs/{n}.png")
    flush(calls, engine)
    assert [(t.reading.name, t.reading.firing) for t in alarms.evaluate(engine, settings)] == [
        ("storage_error_rate", False)]


def test_counts_that_cannot_be_written_are_kept_for_the_next_flush(clean: Engine) -> None:
    calls = ServiceCalls(clock=lambda: 1_800_000_000.0)
    for ok in (True, True, False):
        calls.record("storage", ok=ok, seconds=0.5)
    dead = sa.create_engine(DEAD_DATABASE)
    assert calls.flush_to(dead) == 0  # the database is away: logged, nothing lost
    dead.dispose()
    assert sum(t.calls for t in calls.pending().values()) == 3
    assert calls.flush_to(clean) == 3 and calls.pending() == {}
    with clean.connect() as conn:
        rows = conn.execute(text("SELECT outcome, calls, seconds FROM service_calls ORDER BY outcome")).all()
    assert [tuple(r) for r in rows] == [("error", 1, 0.5), ("ok", 2, 1.0)]


def test_the_configured_store_is_counted(tmp_path) -> None:
    made = storage.make_store(load_settings(studio_home=tmp_path))
    assert isinstance(made, CountedStore) and isinstance(made.inner, LocalStore)
