"""The production shape without containers: one studio process (`run --no-worker`) and three worker processes
against the CI PostgreSQL, S3 over HTTP (moto server) and Redis, Gemini played by the stand-in with a quota.

60 images from 3 users finish exactly once each (one capture each, nothing held), the Redis-shared limiter
keeps the calls per minute of all workers within the quota (the stand-in answers no 429 for it), killing one
worker mid-batch loses nothing, and the studio's `/metrics` shows it.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest
import redis
from moto.server import ThreadedMotoServer
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import text

from devtools.gemini_standin import StandinServer
from lib.core import storage
from lib.core.settings import load_settings
from lib.generation import batches
from tests.test_batches import count, job_request, make_character, make_member, submit, wait_for
from tests.test_run import free_port, wait_healthy

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[1]
REDIS_URL = os.environ.get("STUDIO_TEST_REDIS_URL", "redis://127.0.0.1:6379/14")
QUOTA = 120  # images per minute the "project" may make


@pytest.fixture
def s3_env() -> Iterator[dict[str, str]]:
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint, bucket = f"http://{host}:{port}", f"studio-{uuid.uuid4().hex[:8]}"
    env = {"S3_BUCKET": bucket, "S3_ENDPOINT_URL": endpoint, "AWS_ACCESS_KEY_ID": "studio-test",
           "AWS_SECRET_ACCESS_KEY": "studio-test-secret"}
    boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id="studio-test",
                 aws_secret_access_key="studio-test-secret").create_bucket(Bucket=bucket)
    yield env
    server.stop()


def test_one_studio_three_workers_s3_and_redis_make_60_images_exactly_once(studio, s3_env, monkeypatch) -> None:
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.setenv(name, s3_env[name])
    redis.Redis.from_url(REDIS_URL).flushdb()
    with StandinServer(api_keys=["test-key"]) as standin:
        standin.configure(latency_s=0.3, ipm_limit=QUOTA)
        shared = s3_env | {"REDIS_URL": REDIS_URL, "GEMINI_API_KEY": "test-key", "GEMINI_BASE_URL": standin.base_url,
                           "GEMINI_TIMEOUT_MS": "20000", "GEMINI_MAX_ATTEMPTS": "4",
                           "GEMINI_IMAGES_PER_MINUTE": str(QUOTA), "WORKER_CONCURRENCY": "3"}
        studio.env |= shared
        studio.store = storage.make_store(load_settings(s3_bucket=s3_env["S3_BUCKET"],  # bases go to S3 too
                                                        s3_endpoint_url=s3_env["S3_ENDPOINT_URL"]))
        port, log = free_port(), studio.home / "studio.log"
        studio.home.mkdir(parents=True, exist_ok=True)
        with log.open("w") as out:
            web = subprocess.Popen([sys.executable, "-m", "lib", "run", "--no-worker", "--port", str(port)],
                                   cwd=ROOT, env=studio.env | {"STUDIO_ADMIN_PASSWORD": "production-shape-admin"},
                                   stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
        try:
            wait_healthy(f"http://127.0.0.1:{port}/healthz", web, log, timeout=90)
            workers = [studio.start_worker() for _ in range(3)]
            owners = [make_member(studio.engine, plan="basic") for _ in range(3)]
            submitted = []  # four batches of 15 (5 expressions, each with mouth-open and blink): 60 images
            for owner in [*owners, owners[0]]:
                request = job_request(["happy", "sad", "angry", "surprised", "neutral"], ["mouth_open", "blink"],
                                      backend="gemini", model="gemini-3.1-flash-image", size="1K")
                submitted.append((owner, submit(studio, owner, make_character(studio, owner), request)))
            ids = [i for _, done in submitted for i in done.difference_ids]
            assert len(ids) == 60
            wait_for(lambda: standin.stats()["generate"] >= 8, 60, "the workers to start calling", studio.logs)
            os.kill(workers[0].pid, signal.SIGKILL)  # mid-batch: its running images must be made by the others
            workers[0].wait()
            for owner, done in submitted:
                final = batches.wait(studio.engine, actor=owner, job_id=done.job_id, settings=studio.settings,
                                     timeout=300)
                assert (final.done, final.failed, final.open) == (15, 0, 0), final
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=30) as answer:
                scraped = {s.name + str(sorted(s.labels.items())): s.value
                           for f in text_string_to_metric_families(answer.read().decode()) for s in f.samples}
        finally:
            os.killpg(web.pid, signal.SIGTERM)
            web.wait(timeout=60)
        stats = standin.stats()
    assert stats["by_outcome"].get("ipm_limit", 0) == 0, stats["by_outcome"]  # the shared limiter held the quota
    assert count(studio.engine, "SELECT count(*) FROM differences WHERE id = ANY(:ids) AND status = 'done'",
                 ids=ids) == 60
    with studio.engine.connect() as conn:
        captures = conn.execute(text("SELECT difference_id, count(*) FROM credit_transactions WHERE kind = 'capture' "
                                     "AND difference_id = ANY(:ids) GROUP BY 1"), {"ids": ids}).all()
        held = conn.execute(text("SELECT coalesce(sum(held), 0) FROM user_credits")).scalar_one()
        keys = list(conn.execute(text("SELECT image_key FROM differences WHERE id = ANY(:ids)"),
                                 {"ids": ids}).scalars())
    assert len(captures) == 60 and all(n == 1 for _, n in captures) and held == 0  # each charged exactly once
    assert all(studio.store.exists(key) for key in keys)  # every image is in S3
    assert scraped["studio_images_ended[('model', 'gemini-3.1-flash-image'), ('outcome', 'done')]"] == 60
    assert scraped["studio_credits_held[]"] == 0 and scraped["studio_queue_waiting[]"] == 0
    assert scraped["studio_workers_alive[]"] >= 2
