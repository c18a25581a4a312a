"""The Japanese UI in Chromium: a browser that asks for Japanese (and a dark system theme) gets every step of
one full flow in Japanese — sign in, create a character, generate, review, export — and the switch at the
sidebar's foot turns it back to English for the session. Screenshots land in out/screenshots/ (3x_*)."""

from __future__ import annotations

import re
import zipfile
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.test_browser import (  # noqa: F401 (browser and studio are fixtures)
    ADMIN,
    ADMIN_PASSWORD,
    COUNT_RUNS,
    TIMEOUT_MS,
    RunningStudio,
    browser,
    remembered,
    settle,
    shot,
    studio,
)
from tests.test_browser_review import PASSWORD, cli, no_raw_values

pytestmark = [pytest.mark.browser, pytest.mark.slow]

ARTIST = "yui@studio.local"


@pytest.fixture
def japanese(browser: Browser, studio: RunningStudio) -> Page:  # noqa: F811
    context = browser.new_context(viewport={"width": 1400, "height": 2000}, base_url=studio.url,
                                  accept_downloads=True, locale="ja-JP", color_scheme="dark")
    context.set_default_timeout(TIMEOUT_MS)
    context.add_init_script(COUNT_RUNS)
    yield context.new_page()
    context.close()


def open_japanese_page(tab: Page, title: str) -> None:
    settle(tab)
    tab.get_by_role("link", name=title, exact=True).click()
    expect(tab.get_by_role("heading", name=title, exact=True)).to_be_visible()


def test_one_full_flow_in_japanese(japanese: Page, studio: RunningStudio, tmp_path: Path) -> None:  # noqa: F811
    cli(studio, "users", "add", ARTIST, "--password-stdin", stdin=PASSWORD)
    tab = japanese
    tab.goto("/")
    settle(tab, quiet_ms=600)
    expect(tab.get_by_text("雅キャラクタースタジオ")).to_be_visible()  # the browser's language, before sign-in
    tab.get_by_role("textbox", name="メールアドレス").fill(ARTIST)
    tab.get_by_role("textbox", name="パスワード").fill(PASSWORD)
    tab.get_by_role("button", name="サインイン").click()
    expect(tab.get_by_role("heading", name="キャラクター", exact=True)).to_be_visible()
    assert remembered(tab)
    settle(tab, quiet_ms=600)
    shot(tab, "30_ja_characters")

    form = tab.get_by_test_id("stForm").filter(has=tab.get_by_role("button", name="キャラクターを作成"))
    form.get_by_role("textbox", name="名前").fill("ゆい")
    form.get_by_text("下の特徴からベースを描く").check()
    form.get_by_role("button", name="キャラクターを作成").click()
    expect(tab.get_by_text("ゆい を作成しました。")).to_be_visible()

    open_japanese_page(tab, "生成")
    tab.get_by_role("button", name="5 枚を生成").click()
    expect(tab.get_by_text("5 枚を送信しました。")).to_be_visible()
    expect(tab.get_by_text("5 枚中 5 枚完成").first).to_be_visible(timeout=90_000)
    settle(tab)
    expect(tab.get_by_text("表情", exact=True).first).to_be_visible()  # the grid's header
    # words the studio builds from a batch's numbers and states are Japanese too
    picker = tab.locator('input[role="combobox"][value*="5 枚中 5 枚作成 · 5 クレジット · 完了"]')
    expect(picker).to_have_count(1)  # the batch picker
    expect(tab.get_by_text(re.compile(r"一貫性 100 · 合格")).first).to_be_visible()  # a card's score line
    expect(tab.get_by_placeholder("なし：表情のみ")).to_be_visible()  # the empty variants box
    tab.get_by_role("button", name="✓", exact=True).first.click()
    expect(tab.get_by_text("✓ 承認済み")).to_have_count(1)
    expect(tab.get_by_role("button", name=re.compile("元に戻す"))).to_be_visible()
    no_raw_values(tab)
    shot(tab, "31_ja_generate_review")

    open_japanese_page(tab, "書き出し")
    settle(tab)
    with tab.expect_download(timeout=60_000) as info:  # the first click downloads
        tab.get_by_role("button", name="zip をダウンロード", exact=True).click()
    target = tmp_path / info.value.suggested_filename
    info.value.save_as(target)
    with zipfile.ZipFile(target) as archive:
        assert "expressions/neutral.png" in archive.namelist()
    no_raw_values(tab)
    shot(tab, "32_ja_exports")

    for title in ("クレジット", "アカウント", "APIトークン", "お支払い"):
        open_japanese_page(tab, title)
        no_raw_values(tab)
    tab.get_by_text("English", exact=True).click()
    expect(tab.get_by_role("heading", name="Billing", exact=True)).to_be_visible()
    open_japanese_page(tab, "Credits")  # the choice holds for the session
    shot(tab, "33_switched_to_english")
