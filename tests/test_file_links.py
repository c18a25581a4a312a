"""Signed file links (lib/accounts/links.py) and `GET /files/{token}` (lib/api/files.py) over real HTTP.

Written as the attacks they stop: a link kept after its user signed out, reset the password or was disabled;
a forged, expired or re-audienced token; a sign-in cookie offered as a link and a link offered as a cookie.
The Exports page's links are fetched exactly as a browser would, and each format arrives whole.
"""

from __future__ import annotations

import io
import os
import re
import urllib.error
import urllib.request
import zipfile
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

import jwt
import pytest
from PIL import Image
from sqlalchemy import Engine
from starlette.applications import Starlette
from streamlit.testing.v1 import AppTest

from lib.accounts import links, users
from lib.api import files
from lib.catalog import characters
from lib.core.errors import PermissionDenied
from lib.core.settings import load_settings
from lib.core.storage import LocalStore
from lib.design.features import Features
from tests.billing_support import WebhookServer, serving
from tests.conftest import PASSWORD, wipe
from tests.test_export_sets import generated  # noqa: F401 - a finished set of the offline backend

WINDOW = 900
COOKIE_KEY = "a-file-link-test-key-" * 3  # what the studio signs cookies and links with


@pytest.fixture
def committed(engine: Engine) -> Iterator[Engine]:
    yield engine
    wipe(engine)


@pytest.fixture
def owned(committed: Engine, tmp_path) -> tuple[users.User, str, LocalStore]:
    """A member with one uploaded-style character; the base's storage key."""
    store = LocalStore(tmp_path / "objects")
    with committed.begin() as conn:
        owner = users.create_user(conn, email="sora@example.com", password=PASSWORD)
        image, box = characters.generate_base(Features(hair_color="#3050a0"), size=(96, 128))
        character = characters.create_character(conn, store, actor=owner, name="Sora", image=image,
                                                source="generated", face_box=box)
    return owner, character.base_key, store


def route(engine: Engine, store: LocalStore, *, key: str = COOKIE_KEY) -> Iterator[WebhookServer]:
    settings = load_settings(studio_cookie_key=key, file_link_seconds=WINDOW)
    return serving(Starlette(routes=files.routes(settings, engine=engine, store=store)))


def signed(user: users.User, what: dict, *, now: datetime | None = None, authenticated_at: datetime | None = None,
           key: str = COOKIE_KEY) -> str:
    now = now or datetime.now(UTC)
    return links.sign(key, user_id=user.id, authenticated_at=authenticated_at or now, what=what, now=now,
                      window_seconds=WINDOW)


def fetch(url: str) -> tuple[int, dict[str, str], bytes]:
    try:
        with urllib.request.urlopen(url, timeout=30) as answer:
            return answer.status, {k.lower(): v for k, v in answer.headers.items()}, answer.read()
    except urllib.error.HTTPError as refused:
        return refused.code, {k.lower(): v for k, v in refused.headers.items()}, refused.read()


def test_an_image_link_works_without_cookies_until_its_user_signs_out(committed, owned) -> None:
    owner, key, store = owned
    with route(committed, store) as server:
        url = server.url + links.PATH.format(token=signed(owner, {"key": key}))
        status, headers, body = fetch(url)
        assert status == 200, body
        assert headers["content-type"] == "image/png" and headers["x-content-type-options"] == "nosniff"
        assert headers["cache-control"] == f"private, max-age={WINDOW}"
        assert body == store.get(key) and Image.open(io.BytesIO(body)).size == (96, 128)

        with committed.begin() as conn:  # "Sign out" ends every session of the user, in any browser
            users.end_sessions(conn, user_id=owner.id)
        status, _, body = fetch(url)
        assert status == 403 and b"Reload the page" in body

        fresh = signed(owner, {"key": key}, authenticated_at=datetime.now(UTC) + timedelta(seconds=1))
        assert fetch(server.url + links.PATH.format(token=fresh))[0] == 200  # signing in again gives new links


def test_a_disabled_or_deleted_user_s_links_stop_at_once(committed, owned) -> None:
    owner, key, store = owned
    with committed.begin() as conn:
        admin = users.create_user(conn, email="boss@example.com", password=PASSWORD, role="admin")
    with route(committed, store) as server:
        url = server.url + links.PATH.format(token=signed(owner, {"key": key}))
        assert fetch(url)[0] == 200
        with committed.begin() as conn:
            users.set_active(conn, actor=admin, user_id=owner.id, active=False)
        assert fetch(url)[0] == 403
        with committed.begin() as conn:
            conn.exec_driver_sql("DELETE FROM characters")
            conn.exec_driver_sql("DELETE FROM users WHERE email = 'sora@example.com'")
        assert fetch(url)[0] == 403


def test_forged_expired_and_foreign_tokens_are_refused(committed, owned) -> None:
    owner, key, store = owned
    past = datetime.now(UTC) - timedelta(seconds=2 * WINDOW + 1)
    cookie = jwt.encode({"username": owner.email, "exp_date": 9e9}, COOKIE_KEY, algorithm="HS256")
    unsigned = jwt.encode({"aud": links.AUDIENCE, "sub": str(owner.id), "auth": datetime.now(UTC).isoformat(),
                           "iat": 0, "exp": 9e9, "what": {"key": key}}, None, algorithm="none")
    tokens = {
        "another key": signed(owner, {"key": key}, key="k" * 64),
        "expired": signed(owner, {"key": key}, now=past, authenticated_at=past),
        "sign-in cookie": cookie,
        "alg none": unsigned,
        "garbage": "not-a-token",
    }
    with route(committed, store) as server:
        for name, token in tokens.items():
            status, _, body = fetch(server.url + links.PATH.format(token=token))
            assert status == 403, (name, body)
    # and a link is never a sign-in cookie: the sign-in library's decode (no audience) refuses it
    with pytest.raises(jwt.InvalidAudienceError):
        jwt.decode(signed(owner, {"key": key}), COOKIE_KEY, algorithms=["HS256"])


def test_a_link_to_a_deleted_object_is_404(committed, owned) -> None:
    owner, key, store = owned
    store.delete(key)
    with route(committed, store) as server:
        status, _, body = fetch(server.url + links.PATH.format(token=signed(owner, {"key": key})))
    assert status == 404, body


def test_links_are_stable_within_a_window_so_browsers_cache_them(make_user) -> None:
    user = make_user()
    start = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
    first = signed(user, {"key": "a"}, now=start, authenticated_at=start)
    assert signed(user, {"key": "a"}, now=start + timedelta(seconds=WINDOW - 1), authenticated_at=start) == first
    assert signed(user, {"key": "a"}, now=start + timedelta(seconds=WINDOW), authenticated_at=start) != first
    assert signed(user, {"key": "b"}, now=start, authenticated_at=start) != first


def test_verify_checks_time_against_now(conn, make_user) -> None:
    user = make_user()
    now = datetime.now(UTC)
    token = signed(user, {"key": "a"}, now=now, authenticated_at=now)
    assert links.verify(conn, COOKIE_KEY, token=token, now=now).what == {"key": "a"}
    with pytest.raises(PermissionDenied):
        links.verify(conn, COOKIE_KEY, token=token, now=now + timedelta(seconds=2 * WINDOW))


def test_exports_page_links_download_every_format_on_the_first_request(generated, committed) -> None:  # noqa: F811
    owner, _other, _character, _items, store = generated
    at = AppTest.from_file("../pages/exports.py", default_timeout=30).run()
    at.text_input[0].input(owner.email)
    at.text_input[1].input(PASSWORD)
    at.button[0].click().run()
    assert not at.exception
    anchors = [html.proto.body for html in at.get("html")]
    found = dict(re.findall(r'href="([^"]+)"[^>]*>Download (\w+)</a>', "".join(anchors)))
    assert sorted(found.values()) == ["pngtuber", "psd", "renpy", "sillytavern", "zip"], anchors
    with route(committed, store, key=os.environ["STUDIO_COOKIE_KEY"]) as server:  # the page's settings
        for url, fmt in found.items():
            status, headers, body = fetch(server.url + urlsplit(url).path)
            assert status == 200, (fmt, body[:200])
            assert "attachment" in headers["content-disposition"] and int(headers["content-length"]) == len(body)
            if fmt == "psd":
                assert body[:4] == b"8BPS"
            else:
                assert zipfile.ZipFile(io.BytesIO(body)).testzip() is None
        with committed.begin() as conn:  # the set is the owner's: after their sign-out the links are dead
            users.end_sessions(conn, user_id=owner.id)
        assert fetch(server.url + urlsplit(next(iter(found))).path)[0] == 403
