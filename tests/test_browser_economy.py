"""An economy batch in a real browser: Generate → Economy → waiting for Gemini's batch → the images (stand-in)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from devtools.gemini_standin import StandinServer
from tests.test_browser import (  # noqa: F401  (fixtures)
    ADMIN,
    ADMIN_PASSWORD,
    RunningStudio,
    browser,
    create_character,
    open_page,
    page,
    running_studio,
    settle,
    shot,
    sign_in_as,
)

pytestmark = [pytest.mark.browser, pytest.mark.slow]

try:
    from playwright.sync_api import Page, expect
except ImportError:  # pragma: no cover - test_browser skips or fails the module first
    pytest.skip("playwright is missing", allow_module_level=True)


@pytest.fixture(scope="module")
def standin() -> Iterator[StandinServer]:
    with StandinServer(api_keys=["browser-key"]) as server:
        server.configure(batch_delay_s=8)
        yield server


@pytest.fixture(scope="module")
def studio(standin: StandinServer) -> Iterator[RunningStudio]:
    """The whole studio with Gemini pointed at the stand-in and a fast economy poll."""
    with running_studio("economy", GEMINI_API_KEY="browser-key", GEMINI_BASE_URL=standin.base_url,
                        ECONOMY_POLL_SECONDS="1") as running:
        yield running


def test_an_economy_batch_from_submit_to_done(page: Page, standin: StandinServer) -> None:  # noqa: F811
    page.goto("/")
    sign_in_as(page, ADMIN, ADMIN_PASSWORD)
    create_character(page, "Yuki", draw=True)
    expect(page.get_by_role("heading", name="Yuki")).to_be_visible()
    open_page(page, "Generate")
    page.get_by_test_id("stSelectbox").filter(has_text="Model").click()
    page.get_by_role("option", name="gemini-3.1-flash-image", exact=True).click()
    size = page.get_by_test_id("stSelectbox").filter(has_text="Size")
    expect(size.locator("input")).to_be_enabled()  # offline has one size: the box opens once the rerun lands
    settle(page)
    size.click()
    page.get_by_role("option", name="1K", exact=True).click()
    settle(page)
    caption = page.get_by_text("you have 1500 available").first
    expect(caption).to_contain_text("5 images · 10 credits")  # standard: 2 credits an image
    page.get_by_test_id("stRadio").get_by_text("Economy (−50 %, ready within 24 h)").click()
    settle(page)
    expect(caption).to_contain_text("5 images · 5 credits")  # economy: half, shown before submit
    shot(page, "economy_01_choice")
    page.get_by_role("button", name="Generate 5 images").click()
    expect(page.get_by_text("waiting for Gemini's batch (submitted").first).to_be_visible(timeout=30_000)
    shot(page, "economy_02_waiting")
    expect(page.get_by_text("5 of 5 made").first).to_be_visible(timeout=90_000)
    expect(page.get_by_text("waiting for Gemini's batch")).to_have_count(0)
    shot(page, "economy_03_done")
    stats = standin.stats()
    assert stats["generate"] == 0 and stats["by_outcome"]["batch_create"] == 1
    open_page(page, "Reports")
    for title in ("Gemini spend per day: standard, economy and notebook trials",
                  "Cost and Gemini calls per approved image, by model and plan"):
        expect(page.get_by_role("heading", name=title)).to_be_visible()
    expect(page.locator(".js-plotly-plot .main-svg").last).to_be_visible()  # the charts drew, not their frames
    shot(page, "economy_04_reports")
