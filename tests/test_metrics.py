"""`GET /metrics` over real HTTP: what a batch, a refusal, a queue and a worker look like to Prometheus, and who
may scrape."""

from __future__ import annotations

import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import Engine, text
from starlette.applications import Starlette
from starlette.requests import Request

from devtools.generation import generate_now, run_job_differences
from lib.accounts import users
from lib.api import metrics as metrics_route
from lib.backends.base import GenerationFailed, ImageRequest, ImageResult
from lib.backends.offline import OfflineBackend
from lib.catalog import characters
from lib.core.settings import load_settings
from lib.core.storage import LocalStore
from lib.design import expressions
from lib.design.features import Features
from lib.generation import batches, jobs
from tests.billing_support import serving
from tests.conftest import PASSWORD, wipe


class RefusingBackend:
    name = "offline"
    model = "offline"

    def generate(self, request: ImageRequest) -> ImageResult:
        raise GenerationFailed("safety", "The model refused this image (safety).", permanent=True)


@pytest.fixture
def committed(engine: Engine) -> Iterator[Engine]:
    yield engine
    wipe(engine)


def scrape(url: str, headers: dict[str, str] | None = None) -> tuple[int, dict]:
    try:
        with urllib.request.urlopen(urllib.request.Request(url, headers=headers or {}), timeout=30) as answer:
            families = text_string_to_metric_families(answer.read().decode())
            return answer.status, {s.name + repr(sorted(s.labels.items())): s.value
                                   for f in families for s in f.samples}
    except urllib.error.HTTPError as refused:
        return refused.code, {}


def sample(found: dict, name: str, **labels: str) -> float:
    return found[name + repr(sorted(labels.items()))]


def test_metrics_show_work_queue_workers_and_credits(committed, tmp_path: Path) -> None:
    store = LocalStore(tmp_path / "objects")
    with committed.begin() as conn:
        user = users.create_user(conn, email="aoi@example.com", password=PASSWORD)
        image, box = characters.generate_base(Features(), size=(96, 128))
        character = characters.create_character(conn, store, actor=user, name="Aoi", image=image,
                                                source="generated", face_box=box)
    request = jobs.JobRequest(expressions=[expressions.get(k) for k in ("joy", "sad")], variants=[],
                              backend="offline", model="offline", image_size="1K")
    with committed.begin() as conn:  # submitted as the pages do (credits held), then made by the pipeline
        paid = batches.submit(conn, actor=user, character=character, request=request, settings=load_settings())
    list(run_job_differences(committed, store, OfflineBackend(), difference_ids=paid.difference_ids))
    generate_now(committed, store, RefusingBackend(), actor=user, character_id=character.id,
                 request=jobs.JobRequest(expressions=[expressions.get("angry")], variants=[], backend="offline",
                                         model="offline", image_size="1K"))
    with committed.begin() as conn:
        queued = jobs.JobRequest(expressions=[expressions.get(k) for k in ("joy", "sad", "surprised")],
                                 variants=[], backend="offline", model="offline", image_size="1K")
        batches.submit(conn, actor=user, character=character, request=queued, settings=load_settings())
        conn.execute(text("INSERT INTO procrastinate_workers (last_heartbeat) VALUES (now()), "
                          "(now() - interval '1 hour')"))
    settings = load_settings()
    with serving(Starlette(routes=metrics_route.routes(settings, engine=committed))) as server:
        status, found = scrape(server.url + "/metrics")
    assert status == 200
    assert sample(found, "studio_images_ended", model="offline", outcome="done") == 2
    assert sample(found, "studio_images_ended", model="offline", outcome="safety") == 1
    assert sample(found, "studio_generation_seconds_gcount", model="offline") == 2
    assert sample(found, "studio_generation_seconds_bucket", model="offline", le="+Inf") == 2
    assert sample(found, "studio_queue_waiting") == 3 and sample(found, "studio_queue_running") == 0
    assert sample(found, "studio_queue_oldest_waiting_seconds") >= 0
    assert sample(found, "studio_workers_alive") == 1
    assert sample(found, "studio_credits_held") == 3 and sample(found, "studio_credits_captured") == 2


def test_only_this_machine_or_a_scraper_with_the_token_may_scrape(committed) -> None:
    with serving(Starlette(routes=metrics_route.routes(load_settings(metrics_token="scrape-me"),
                                                       engine=committed))) as server:
        assert scrape(server.url + "/metrics")[0] == 403  # this machine, but a token is configured
        assert scrape(server.url + "/metrics", {"Authorization": "Bearer wrong"})[0] == 403
        assert scrape(server.url + "/metrics", {"Authorization": "Bearer scrape-me"})[0] == 200
    open_settings = load_settings()
    for peer, expected in (("127.0.0.1", True), ("::1", True), ("10.0.0.5", False), ("", False)):
        scope = {"type": "http", "method": "GET", "path": "/metrics", "headers": [],
                 "client": (peer, 4000) if peer else None}
        assert metrics_route.allowed(Request(scope), open_settings) is expected, peer
