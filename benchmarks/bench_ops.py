"""Operations at size: backup and restore of 1,000 characters / 20,000 images, and the `/metrics` scrape.

Run from the repository root: `python -m benchmarks.bench_ops [--characters 1000] [--per-character 20]`.
Uses throwaway databases on the server of TEST_DATABASE_URL or DATABASE_URL, else an embedded one. The
images finished over the last 30 days, as in a studio's history; objects are small stand-ins (a few hundred
bytes each: the figures are about row and object counts, not image bytes).
Prints the backup and restore times and sizes, and the p50/p95 of `/metrics` (goal: p95 <= 100 ms) over HTTP.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
import urllib.request
import uuid
from pathlib import Path

import sqlalchemy as sa
from starlette.applications import Starlette

from benchmarks.bench_reports import load_average, p95, server_url
from lib.api import metrics as metrics_route
from lib.core import db, migrations
from lib.core.settings import load_settings
from lib.core.storage import LocalStore
from lib.ops import backup
from tests.billing_support import serving
from tests.conftest import create_database, drop_database

SEED = """
INSERT INTO users (email, display_name, password_hash)
SELECT 'bench' || u || '@example.com', 'bench' || u, '$2b$04$' || repeat('x', 53) FROM generate_series(1, 10) u;
INSERT INTO characters (user_id, name, base_key, base_width, base_height, base_source, face_box)
SELECT u.id, 'character ' || c, 'characters/' || u.id || '/c' || c || '/base/base.png', 512, 512, 'generated',
       '{128,96,256,256}'
FROM generate_series(1, :characters) c JOIN (SELECT id, row_number() OVER () AS n FROM users) u ON u.n = 1 + c % 10;
INSERT INTO generation_jobs (user_id, character_id, status, backend, model, image_size, finished_at)
SELECT user_id, id, 'done', 'offline', 'offline', '1K', now() FROM characters;
INSERT INTO differences (job_id, character_id, expression_key, status, image_key, started_at, finished_at, position)
SELECT j.id, j.character_id, 'expression_' || e, 'done',
       'characters/' || j.user_id || '/' || j.character_id || '/diffs/' || e || '.png',
       t - interval '3 seconds', t, e
FROM generation_jobs j, generate_series(1, :per_character) e,
     LATERAL (SELECT now() - make_interval(secs => abs(hashtext(j.id::text || e)) % (30 * 86400))) AS w(t);
"""


def seed(engine: sa.Engine, store: LocalStore, *, characters: int, per_character: int) -> int:
    with engine.begin() as conn:
        for statement in SEED.strip().split(";\n"):
            if statement.strip():
                conn.execute(sa.text(statement), {"characters": characters, "per_character": per_character})
        keys = [*conn.execute(sa.text("SELECT base_key FROM characters")).scalars(),
                *conn.execute(sa.text("SELECT image_key FROM differences")).scalars()]
    for n, key in enumerate(keys):
        store.put(key, b"\x89PNG stand-in " + str(n).encode() * 20)
    return len(keys)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--characters", type=int, default=1000)
    parser.add_argument("--per-character", type=int, default=20)
    parser.add_argument("--scrapes", type=int, default=50)
    args = parser.parse_args()
    server = server_url()
    names = [f"bench_ops_{uuid.uuid4().hex[:8]}" for _ in range(2)]
    urls = [create_database(server, name) for name in names]
    work = Path(tempfile.mkdtemp(prefix="bench-ops-"))
    try:
        source, target = (sa.create_engine(db.sqlalchemy_url(url)) for url in urls)
        migrations.upgrade(source)
        store = LocalStore(work / "source")
        started = time.perf_counter()
        count = seed(source, store, characters=args.characters, per_character=args.per_character)
        print(f"seeded {args.characters} characters, {count} objects in {time.perf_counter() - started:.1f} s "
              f"({load_average()})")

        started = time.perf_counter()
        summary = backup.backup(source, store, out=work / "backup")
        took = time.perf_counter() - started
        size = sum(p.stat().st_size for p in (work / "backup").rglob("*") if p.is_file())
        print(f"backup: {took:.1f} s, {summary.objects} objects, database {summary.database_bytes / 1e6:.1f} MB, "
              f"directory {size / 1e6:.1f} MB ({load_average()})")
        started = time.perf_counter()
        backup.restore(target, LocalStore(work / "target"), source=work / "backup")
        print(f"restore: {time.perf_counter() - started:.1f} s ({load_average()})")

        settings = load_settings()
        with serving(Starlette(routes=metrics_route.routes(settings, engine=source))) as running:
            times = []
            for _ in range(args.scrapes + 3):
                t = time.perf_counter()
                with urllib.request.urlopen(running.url + "/metrics", timeout=30) as answer:
                    answer.read()
                times.append((time.perf_counter() - t) * 1000)
            times = times[3:]
        verdict = "ok" if p95(times) <= 100 else "MISSED"
        print(f"/metrics over {count} images: p50 {statistics.median(times):.1f} ms, p95 {p95(times):.1f} ms "
              f"(goal p95 <= 100 ms) {verdict} ({load_average()})")
        source.dispose()
        target.dispose()
    finally:
        for name in names:
            drop_database(server, name)


if __name__ == "__main__":
    main()
