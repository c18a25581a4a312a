"""The REST API over real HTTP: lib/api/rest.py mounted at /api/v1 under uvicorn, driven with httpx.

Every endpoint for the owner, another user's ids (404, never 403), missing, revoked, expired and disabled
tokens (401), oversized and malformed input (413/422, nothing stored), a burst against the rate limit, the
OpenAPI document against the routes, and the README's curl examples run as written.
"""

from __future__ import annotations

import concurrent.futures
import io
import os
import re
import subprocess
import zipfile
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import NamedTuple
from uuid import UUID, uuid4

import httpx
import pytest
from PIL import Image
from sqlalchemy import Engine, text
from starlette.applications import Starlette
from starlette.routing import Mount

from devtools.generation import run_job_differences
from lib.accounts import tokens, users
from lib.api import rest
from lib.backends.offline import OfflineBackend
from lib.core.settings import Settings, load_settings
from lib.core.storage import LocalStore
from lib.design.features import Features
from lib.render.portrait import render_portrait
from tests.billing_support import serving
from tests.conftest import PASSWORD, wipe

ROOT = Path(__file__).resolve().parents[1]
ROOMY = "1000 per second"


class Api(NamedTuple):
    url: str
    store: LocalStore
    settings: Settings


class Person(NamedTuple):
    user: users.User
    token: str
    headers: dict[str, str]


@pytest.fixture
def committed(engine: Engine) -> Iterator[Engine]:
    yield engine
    wipe(engine)
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM api_tokens"))


def serve(engine: Engine, tmp_path: Path, **overrides: object):
    settings = load_settings(**{"studio_cookie_key": "k" * 40, "api_rate_limits": ROOMY, **overrides})
    store = LocalStore(tmp_path / "objects")
    app = Starlette(routes=[Mount(rest.PREFIX, app=rest.create_api(settings, engine=engine, store=store))])
    return serving(app), store, settings


@pytest.fixture
def api(committed: Engine, tmp_path: Path) -> Iterator[Api]:
    server, store, settings = serve(committed, tmp_path)
    with server as running:
        yield Api(running.url + rest.PREFIX, store, settings)


def person(engine: Engine, email: str, **token_args) -> Person:
    with engine.begin() as conn:
        user = users.create_user(conn, email=email, password=PASSWORD)
        _, secret = tokens.create_token(conn, actor=user, name="script", now=datetime.now(UTC), **token_args)
    return Person(user, secret, {"Authorization": f"Bearer {secret}"})


def portrait_png(size: tuple[int, int] = (300, 400)) -> bytes:
    buffer = io.BytesIO()
    render_portrait(Features(hair_color="#3070c0"), size=size).save(buffer, format="PNG")
    return buffer.getvalue()


def upload(api: Api, who: Person, name: str = "Aoi", **extra) -> httpx.Response:
    return httpx.post(f"{api.url}/characters", headers=who.headers, data={"name": name, **extra},
                      files={"image": ("aoi.png", portrait_png(), "image/png")}, timeout=60)


def count(engine: Engine, table: str) -> int:
    with engine.connect() as conn:
        return conn.execute(text(f"SELECT count(*) FROM {table}")).scalar_one()


def test_every_endpoint_for_the_owner_from_upload_to_export(committed, api: Api) -> None:
    aoi = person(committed, "aoi@example.com")
    created = upload(api, aoi)
    assert created.status_code == 201, created.text
    character = created.json()
    assert character["name"] == "Aoi" and character["base_source"] == "upload" and character["width"] == 300
    assert [c["id"] for c in httpx.get(f"{api.url}/characters", headers=aoi.headers).json()] == [character["id"]]
    one = httpx.get(f"{api.url}/characters/{character['id']}", headers=aoi.headers).json()
    assert one["face_box"] is not None and len(one["face_box"]) == 4
    base = httpx.get(api.url.removesuffix(rest.PREFIX) + character["base_url"], headers=aoi.headers)
    assert base.headers["content-type"] == "image/png" and Image.open(io.BytesIO(base.content)).size == (300, 400)

    submitted = httpx.post(f"{api.url}/batches", headers=aoi.headers, json={
        "character_id": character["id"], "expressions": ["joy", "sad"], "variants": ["blink"]})
    assert submitted.status_code == 201, submitted.text
    batch = submitted.json()
    assert batch["total"] == 4 and batch["open"] == 4 and batch["credits_held"] == 4
    credits = httpx.get(f"{api.url}/credits", headers=aoi.headers).json()
    assert credits["held"] == 4 and credits["plan"] == "free"
    ids = [item["id"] for item in batch["items"]]
    list(run_job_differences(committed, api.store, OfflineBackend(), difference_ids=[UUID(i) for i in ids]))
    done = httpx.get(f"{api.url}/batches/{batch['id']}", headers=aoi.headers).json()
    assert done["status"] == "done" and done["done"] == 4, done
    image = httpx.get(api.url.removesuffix(rest.PREFIX) + done["items"][0]["image_url"], headers=aoi.headers)
    assert Image.open(io.BytesIO(image.content)).size == (300, 400)

    reviewed = httpx.post(f"{api.url}/differences/{ids[0]}/review", headers=aoi.headers, json={"review": "approved"})
    assert reviewed.status_code == 200 and reviewed.json()["review"] == "approved"
    exported = httpx.get(f"{api.url}/characters/{character['id']}/export", headers=aoi.headers,
                         params={"format": "zip", "approved_only": "true"}, timeout=60)
    assert exported.status_code == 200, exported.text
    assert "attachment" in exported.headers["content-disposition"]
    with zipfile.ZipFile(io.BytesIO(exported.content)) as archive:
        assert len([n for n in archive.namelist() if n.endswith(".png") and n != "base.png"]) == 1  # approved only
    psd = httpx.get(f"{api.url}/characters/{character['id']}/export", headers=aoi.headers,
                    params={"format": "psd"}, timeout=60)
    assert psd.content[:4] == b"8BPS"
    credits = httpx.get(f"{api.url}/credits", headers=aoi.headers).json()
    assert credits["held"] == 0 and credits["used_this_period"] == 4
    assert {e["batch_id"] for e in credits["entries"] if e["kind"] == "capture"} == {batch["id"]}

    again = httpx.post(f"{api.url}/batches", headers=aoi.headers, json={
        "character_id": character["id"], "preset": "basic"}).json()
    cancelled = httpx.post(f"{api.url}/batches/{again['id']}/cancel", headers=aoi.headers).json()
    assert cancelled["status"] == "cancelled" and cancelled["open"] == 0
    assert httpx.get(f"{api.url}/credits", headers=aoi.headers).json()["held"] == 0


def test_another_user_s_ids_are_404_never_403(committed, api: Api) -> None:
    aoi, rin = person(committed, "aoi@example.com"), person(committed, "rin@example.com")
    character = upload(api, aoi).json()
    batch = httpx.post(f"{api.url}/batches", headers=aoi.headers,
                       json={"character_id": character["id"], "expressions": ["joy"]}).json()
    item = batch["items"][0]["id"]
    attempts = [
        ("GET", f"/characters/{character['id']}", None), ("GET", f"/characters/{character['id']}/base", None),
        ("GET", f"/characters/{character['id']}/export", None), ("GET", f"/batches/{batch['id']}", None),
        ("POST", f"/batches/{batch['id']}/cancel", None), ("GET", f"/differences/{item}/image", None),
        ("POST", f"/differences/{item}/review", {"review": "rejected"}),
        ("POST", "/batches", {"character_id": character["id"], "expressions": ["joy"]}),
        ("GET", "/characters/not-a-uuid", None),
    ]
    for method, path, body in attempts:
        answer = httpx.request(method, api.url + path, headers=rin.headers, json=body, timeout=30)
        assert answer.status_code == 404, (path, answer.text)
        assert answer.json()["code"] == "not_found" and answer.json()["message"], path
    assert httpx.get(f"{api.url}/characters", headers=rin.headers).json() == []
    owner_view = httpx.get(f"{api.url}/batches/{batch['id']}", headers=aoi.headers).json()
    assert owner_view["status"] == "queued" and owner_view["items"][0]["review"] == "pending"  # nothing changed


def test_missing_revoked_expired_and_disabled_tokens_are_401(committed, api: Api) -> None:
    aoi = person(committed, "aoi@example.com")
    with committed.begin() as conn:
        admin = users.create_user(conn, email="boss@example.com", password=PASSWORD, role="admin")
        soon = datetime.now(UTC) + timedelta(seconds=2)
        _, expiring = tokens.create_token(conn, actor=aoi.user, name="short", expires_at=soon,
                                          now=datetime.now(UTC))
        _, revoked = tokens.create_token(conn, actor=aoi.user, name="old", now=datetime.now(UTC))
        old = next(t for t in tokens.list_tokens(conn, actor=aoi.user) if t.name == "old")
        tokens.revoke_token(conn, actor=aoi.user, token_id=old.id)
    url = f"{api.url}/characters"
    assert httpx.get(url, headers=aoi.headers).status_code == 200
    cases = {"none": {}, "not bearer": {"Authorization": f"Basic {aoi.token}"},
             "unknown": {"Authorization": "Bearer msk_" + "x" * 43},
             "revoked": {"Authorization": f"Bearer {revoked}"}}
    for name, headers in cases.items():
        answer = httpx.get(url, headers=headers)
        assert answer.status_code == 401 and answer.json()["code"] == "not_authenticated", name
    assert httpx.get(url, headers={"Authorization": f"Bearer {expiring}"}).status_code == 200
    with committed.begin() as conn:
        conn.execute(text("UPDATE api_tokens SET expires_at = created_at + interval '1 microsecond' "
                          "WHERE name = 'short'"))
    assert httpx.get(url, headers={"Authorization": f"Bearer {expiring}"}).status_code == 401
    with committed.begin() as conn:
        users.set_active(conn, actor=admin, user_id=aoi.user.id, active=False)
    assert httpx.get(url, headers=aoi.headers).status_code == 401  # at once, not at the token's expiry
    with committed.begin() as conn:
        last_used = conn.execute(text("SELECT last_used_at FROM api_tokens WHERE name = 'script'")).scalar_one()
    assert last_used is not None


def test_oversized_and_malformed_input_is_refused_and_nothing_is_stored(committed, tmp_path: Path) -> None:
    server, _store, _settings = serve(committed, tmp_path, max_upload_bytes=200_000)
    with server as running:
        url = running.url + rest.PREFIX
        aoi = person(committed, "aoi@example.com")
        form = httpx.Request("POST", url, data={"name": "Big"}, files={"image": ("big.png", os.urandom(400_000))})
        big, content_type = form.read(), form.headers["content-type"]
        for chunked in (False, True):  # an honest Content-Length, and none at all: counted as the bytes arrive
            body = iter([big[i:i + 65536] for i in range(0, len(big), 65536)]) if chunked else big
            answer = httpx.post(f"{url}/characters", headers={**aoi.headers, "Content-Type": content_type},
                                content=body, timeout=30)
            assert answer.status_code == 413 and answer.json()["code"] == "too_large", (chunked, answer.text)
        bad = [
            {"data": {"name": "Aoi", "features": "{not json"}},
            {"data": {"name": "Aoi"}, "files": {"image": ("x.png", b"not an image", "image/png")}},
            {"data": {"name": ""}, "files": {"image": ("x.png", portrait_png(), "image/png")}},
            {"data": {"name": "Aoi"}},  # neither an image nor draw_base
        ]
        for request in bad:
            answer = httpx.post(f"{url}/characters", headers=aoi.headers, timeout=30, **request)
            assert answer.status_code == 422, answer.text
            assert answer.json()["code"] == "invalid_input" and answer.json()["message"]
        character = httpx.post(f"{url}/characters", headers=aoi.headers, data={"name": "Aoi", "draw_base": "true"},
                               timeout=30).json()
        for body in ({"character_id": character["id"], "expressions": ["joy"], "model": "gpt-image"},
                     {"character_id": character["id"], "expressions": ["no_such_expression"]},
                     {"character_id": character["id"], "expressions": ["joy"], "variants": ["wink"]},
                     {"character_id": character["id"], "expressions": ["joy"], "surprise": 1},
                     {"character_id": character["id"], "expressions": []}):
            answer = httpx.post(f"{url}/batches", headers=aoi.headers, json=body)
            assert answer.status_code == 422, (body, answer.text)
        answer = httpx.post(f"{url}/batches", headers=aoi.headers, content=b"{", timeout=30)
        assert answer.status_code == 422
    assert count(committed, "characters") == 1 and count(committed, "generation_jobs") == 0
    with committed.connect() as conn:  # the first balance read grants the month's credits; nothing was held
        assert conn.execute(text("SELECT count(*) FROM credit_transactions WHERE kind = 'hold'")).scalar_one() == 0
    assert len(list((tmp_path / "objects").rglob("*.png"))) == 1  # the drawn base only


def test_a_burst_of_30_gets_exactly_the_limit_then_429_with_retry_after(committed, tmp_path: Path) -> None:
    server, _store, _settings = serve(committed, tmp_path, api_rate_limits="10 per 5 seconds; 100 per minute")
    aoi = person(committed, "aoi@example.com")
    with (server as running, httpx.Client(base_url=running.url + rest.PREFIX, headers=aoi.headers) as client,
          concurrent.futures.ThreadPoolExecutor(8) as pool):
        answers = list(pool.map(lambda _: client.get("/credits"), range(30)))
    codes = [a.status_code for a in answers]
    assert codes.count(200) == 10 and codes.count(429) == 20, codes
    refused = next(a for a in answers if a.status_code == 429)
    assert refused.json()["code"] == "rate_limited" and 1 <= int(refused.headers["retry-after"]) <= 5


def test_the_openapi_document_lists_every_route(api: Api) -> None:
    document = httpx.get(f"{api.url}/openapi.json").json()
    app = rest.create_api(api.settings)
    routes = {(route.path, method) for route in app.routes if hasattr(route, "methods")
              for method in route.methods if route.path not in ("/openapi.json",) and method != "HEAD"}
    documented = {(path, method.upper()) for path, ops in document["paths"].items() for method in ops}
    assert routes == documented and len(documented) >= 11
    assert document["servers"] == [{"url": "/api/v1"}]
    assert "HTTPBearer" in document["components"]["securitySchemes"]


def test_readme_curl_examples_run_as_written(committed, api: Api) -> None:
    """Each ```sh block of README's API section, in order; between blocks the queued images are made here."""
    aoi = person(committed, "aoi@example.com")
    readme = (ROOT / "README.md").read_text()
    section = readme[readme.index("\n## API\n"):]
    section = section[:section.index("\n## ", 5)]
    blocks = re.findall(r"```sh\n(.*?)```", section, re.DOTALL)
    assert len(blocks) == 3 and all("curl" in b for b in blocks)
    folder = Path(api.store.root).parent
    (folder / "aoi.png").write_bytes(portrait_png())
    env = {**os.environ, "STUDIO": api.url.removesuffix(rest.PREFIX), "TOKEN": aoi.token}
    outputs = []
    for block in blocks:
        ran = subprocess.run(["bash", "-c", "set -euo pipefail\n" + block], cwd=folder, env=env,
                             capture_output=True, text=True, timeout=120)
        assert ran.returncode == 0, block + ran.stdout + ran.stderr
        outputs.append(ran.stdout)
        with committed.connect() as conn:  # a worker's part: make what is queued
            queued = list(conn.execute(text("SELECT id FROM differences WHERE status = 'queued' ORDER BY position"))
                          .scalars())
        list(run_job_differences(committed, api.store, OfflineBackend(), difference_ids=queued))
    assert '"available":30' in outputs[0]
    assert '"status":"done"' in outputs[2] and '"done":10' in outputs[2]
    with zipfile.ZipFile(folder / "aoi.zip") as archive:
        assert len([n for n in archive.namelist() if n.endswith(".png")]) == 11  # the base and 10 images


def test_with_redis_every_process_counts_against_the_same_limit() -> None:
    """Two limiters (two studio processes) on one REDIS_URL: together they pass exactly the limit."""
    from lib.api.ratelimit import ApiLimiter, RateLimited

    redis_url = os.environ.get("STUDIO_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
    first, second = (ApiLimiter(limits="4 per 10 seconds", redis_url=redis_url) for _ in range(2))
    key = f"token:{uuid4()}"
    passed = refused = 0
    for limiter in (first, second) * 4:
        try:
            limiter.hit(key)
            passed += 1
        except RateLimited as exc:
            refused += 1
            assert 1 <= exc.retry_after <= 10
    assert (passed, refused) == (4, 4)
    alone = ApiLimiter(limits="4 per 10 seconds")  # without Redis each process counts for itself
    assert all(alone.limiter.hit(alone.items[0], "studio-api", key) for _ in range(4))
