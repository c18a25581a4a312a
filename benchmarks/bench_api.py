"""The REST API reading a big batch: `GET /api/v1/batches/{id}` of a 117-image batch (39 expressions, each
with mouth-open and blink), over real HTTP against uvicorn in this process.

Run from the repository root: `python -m benchmarks.bench_api [--requests 300] [--seconds 5]`. Uses a
throwaway database on the server of TEST_DATABASE_URL or DATABASE_URL, else an embedded one. Prints the
p50/p95 of sequential reads (goal: p95 <= 50 ms) and the reads per second one process sustains with 8
clients at once, with the load average (other processes skew both).
"""

from __future__ import annotations

import argparse
import concurrent.futures
import statistics
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

import httpx
import sqlalchemy as sa
from starlette.applications import Starlette
from starlette.routing import Mount

from benchmarks.bench_reports import load_average, p95, server_url
from lib.accounts import tokens, users
from lib.api import rest
from lib.catalog import characters
from lib.core import db, migrations
from lib.core.settings import load_settings
from lib.core.storage import LocalStore
from lib.design import expressions
from lib.design.features import Features
from lib.generation import jobs
from tests.billing_support import serving
from tests.conftest import create_database, drop_database


def seed(engine: sa.Engine, store: LocalStore) -> tuple[str, str]:
    """A pro user with a token and one character whose batch has 117 queued images; (token, batch id)."""
    with engine.begin() as conn:
        user = users.create_user(conn, email="bench-api@example.com", password="correct-horse-battery", plan="pro")
        _, secret = tokens.create_token(conn, actor=user, name="bench", now=datetime.now(UTC))
        image, box = characters.generate_base(Features(), size=(192, 256))
        character = characters.create_character(conn, store, actor=user, name="Bench", image=image,
                                                source="generated", face_box=box)
        chosen = list(expressions.LIBRARY.values())[:39]
        request = jobs.JobRequest(expressions=chosen, variants=["mouth_open", "blink"], backend="offline",
                                  model="offline", image_size="1K")
        job_id, ids = jobs.create_job(conn, actor=user, character=character, request=request)
    assert len(ids) == 117, len(ids)
    return secret, str(job_id)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--seconds", type=float, default=5.0)
    args = parser.parse_args()
    server = server_url()
    name = f"bench_api_{uuid.uuid4().hex[:8]}"
    url = create_database(server, name)
    try:
        engine = sa.create_engine(db.sqlalchemy_url(url), pool_size=10)
        migrations.upgrade(engine)
        store = LocalStore(Path(tempfile.mkdtemp(prefix="bench-api-objects-")))
        secret, batch_id = seed(engine, store)
        settings = load_settings(studio_cookie_key="b" * 40, api_rate_limits="100000 per second")
        app = Starlette(routes=[Mount(rest.PREFIX, app=rest.create_api(settings, engine=engine, store=store))])
        with serving(app) as running, httpx.Client(base_url=running.url + rest.PREFIX,
                                                   headers={"Authorization": f"Bearer {secret}"}) as client:
            path = f"/batches/{batch_id}"
            for _ in range(10):
                assert len(client.get(path).json()["items"]) == 117  # warm-up
            times = []
            for _ in range(args.requests):
                started = time.perf_counter()
                client.get(path).raise_for_status()
                times.append((time.perf_counter() - started) * 1000)
            verdict = "ok" if p95(times) <= 50 else "MISSED"
            print(f"GET {rest.PREFIX}/batches/ID (117 items), {args.requests} sequential reads ({load_average()}):\n"
                  f"  p50 {statistics.median(times):.1f} ms, p95 {p95(times):.1f} ms (goal p95 <= 50 ms) {verdict}")

            deadline = time.monotonic() + args.seconds

            def reader() -> int:
                done = 0
                while time.monotonic() < deadline:
                    client.get(path).raise_for_status()
                    done += 1
                return done

            started = time.monotonic()
            with concurrent.futures.ThreadPoolExecutor(8) as pool:
                total = sum(pool.map(lambda _: reader(), range(8)))
            elapsed = time.monotonic() - started
            print(f"  sustained with 8 clients: {total / elapsed:.0f} reads/s over {elapsed:.1f} s ({load_average()})")
        engine.dispose()
    finally:
        drop_database(server, name)


if __name__ == "__main__":
    main()
