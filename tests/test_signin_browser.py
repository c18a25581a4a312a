"""Sign-in attacks against `python -m lib run` in headless Chromium: forged client addresses, disabled accounts.

The studio runs on the test database, so each test reads what the sign-in gate recorded.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, text

from lib.accounts import users
from tests.conftest import COOKIE_KEY, wipe
from tests.test_browser import (  # noqa: F401  (browser is a fixture)
    ADMIN,
    ADMIN_PASSWORD,
    TIMEOUT_MS,
    RunningStudio,
    browser,
    expect,
    serving,
    settle,
    sign_in,
    sign_in_as,
)

pytestmark = [pytest.mark.browser, pytest.mark.slow]

ROOT = Path(__file__).resolve().parent.parent
REFUSED = re.compile("Wrong email or password|Too many failed sign-ins")


@pytest.fixture(scope="module")
def served(engine: Engine, database_url: str) -> Iterator[RunningStudio]:
    """The whole studio on the test database and a free port (no trusted proxies: the default)."""
    top = Path(tempfile.mkdtemp(prefix="studio-signin-"))
    env = {k: v for k, v in os.environ.items() if k not in ("TEST_DATABASE_URL", "TRUSTED_PROXIES")}
    env |= {"DATABASE_URL": database_url, "STUDIO_HOME": str(top / "studio"), "STUDIO_COOKIE_KEY": COOKIE_KEY,
            "STUDIO_ADMIN_EMAIL": ADMIN, "STUDIO_ADMIN_PASSWORD": ADMIN_PASSWORD, "PYTHONUNBUFFERED": "1"}
    try:
        with serving(env, top) as running:
            yield running
    finally:
        shutil.rmtree(top, ignore_errors=True)
        wipe(engine)


def open_page(browser, served: RunningStudio, *, forwarded_for: str | None = None):  # noqa: F811
    headers = {"X-Forwarded-For": forwarded_for} if forwarded_for else {}
    context = browser.new_context(base_url=served.url, extra_http_headers=headers, locale="en-US")
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()
    page.goto("/")
    expect(page.get_by_role("button", name="Sign in")).to_be_visible()
    return page


@pytest.fixture
def clean_throttle(engine: Engine) -> Iterator[None]:
    yield
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM login_failures"))


def test_rotating_x_forwarded_for_buys_no_extra_guesses(browser, served, engine, clean_throttle) -> None:  # noqa: F811
    forged = [f"203.0.113.{i}" for i in range(6)]
    for address in forged:
        page = open_page(browser, served, forwarded_for=address)
        sign_in(page, ADMIN, "not-the-password")
        expect(page.get_by_text(REFUSED)).to_be_visible()
        page.context.close()
    page = open_page(browser, served, forwarded_for="198.51.100.7")
    sign_in(page, ADMIN, ADMIN_PASSWORD)  # the right password, from yet another forged address
    expect(page.get_by_text("Too many failed sign-ins")).to_be_visible()
    expect(page.get_by_role("heading", name="Characters")).to_have_count(0)
    page.context.close()
    with engine.connect() as conn:
        sources = set(conn.execute(text("SELECT source FROM login_failures")).scalars())
    assert sources and not sources & {*forged, "198.51.100.7"}  # the header of an untrusted peer is ignored


def test_a_disabled_accounts_browser_is_told_so_and_gets_the_form(browser, served, engine) -> None:  # noqa: F811
    with engine.begin() as conn:
        member = users.create_user(conn, email="kaede@example.com", password="kaede-password-1")
    page = open_page(browser, served)
    sign_in_as(page, member.email, "kaede-password-1")
    with engine.begin() as conn:
        admin = users.get_user(conn, email=ADMIN)
        users.set_active(conn, actor=admin, user_id=member.id, active=False)
    page.reload()  # the re-authentication cookie is still in this browser
    settle(page)
    expect(page.get_by_text("This account is disabled")).to_be_visible()
    expect(page.get_by_role("button", name="Sign in")).to_be_visible()
    expect(page.get_by_text("Too many failed sign-ins")).to_have_count(0)
    page.context.close()
