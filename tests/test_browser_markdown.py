"""In a real browser, a character named in Markdown shows its name as typed: no live link, no remote image.

Runs against the same studio as tests/test_browser.py (headless Chromium, `python -m lib run`).
"""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from lib.core.markdown import WORD_JOINER
from tests.test_browser import (  # noqa: F401 (browser, page and studio are fixtures)
    ADMIN,
    ADMIN_PASSWORD,
    browser,
    create_character,
    open_page,
    page,
    settle,
    sign_in_as,
    studio,
)

pytestmark = [pytest.mark.browser, pytest.mark.slow]

EVIL = "[sign in here](http://evil.example/login) ![x](http://evil.example/x.png) **bold** :red[x] $x$"
EVIL_OUTFIT = "<img src=http://evil.example/o.png> [login](www.evil.example) ~~gone~~"


def shown(text: str) -> str:
    """The text as the page holds it: the same letters, with the invisible joiner that stops GFM autolinks."""
    return re.sub(r"(https?(?=:)|www(?=\.))", rf"\1{WORD_JOINER}", text, flags=re.IGNORECASE)


def assert_nothing_planted(page: Page, fetched: list[str]) -> None:  # noqa: F811
    settle(page)
    assert page.locator('a[href*="evil.example"]').count() == 0
    assert page.locator('img[src*="evil.example"]').count() == 0
    assert page.locator(".katex, del, s").count() == 0  # no LaTeX, no strikethrough from user text
    assert page.locator("strong", has_text="bold").count() == 0
    assert fetched == [], fetched


def test_a_markdown_name_is_shown_as_typed_on_every_page(page: Page) -> None:  # noqa: F811
    fetched: list[str] = []
    page.on("request", lambda request: fetched.append(request.url) if "evil.example" in request.url else None)
    page.goto("/")
    sign_in_as(page, ADMIN, ADMIN_PASSWORD)
    settle(page)
    form = page.get_by_test_id("stForm").filter(has=page.get_by_role("button", name="Create character"))
    form.get_by_role("textbox", name="Outfit").fill(EVIL_OUTFIT)
    create_character(page, EVIL, draw=True)
    expect(page.get_by_text(shown(f"Created {EVIL}."))).to_be_visible()
    expect(page.get_by_text(shown(f"outfit: {EVIL_OUTFIT}"))).to_be_visible()
    expect(page.get_by_role("heading", name=shown(EVIL)).first).to_be_visible()  # the literal name, no backslashes
    assert_nothing_planted(page, fetched)

    page.get_by_text("Show every user's characters").click()
    expect(page.get_by_text(f"owner {ADMIN}")).to_be_visible()
    expect(page.get_by_role("heading", name=shown(EVIL)).first).to_be_visible()
    assert_nothing_planted(page, fetched)

    for title in ("Generate", "Exports"):
        open_page(page, title)
        expect(page.get_by_role("combobox", name="Character")).to_have_value(EVIL)  # choices are plain text
        assert_nothing_planted(page, fetched)
