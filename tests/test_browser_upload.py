"""In a real browser: uploading real artwork shows the face found (or asks to confirm it), prefills the features
from the picture, and "Describe with Gemini" (the stand-in) fills them or says clearly why it could not.

Its own studio (headless Chromium, `python -m lib run`) with GEMINI_API_KEY pointing at the Gemini stand-in.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from devtools.gemini_standin import StandinServer
from tests.test_browser import (  # noqa: F401 (browser is a fixture)
    ADMIN,
    ADMIN_PASSWORD,
    RunningStudio,
    browser,
    new_browser_page,
    running_studio,
    settle,
    shot,
    sign_in_as,
)

pytestmark = [pytest.mark.browser, pytest.mark.slow]

REAL = Path(__file__).resolve().parents[1].parent / "shared" / "real-dev"


@pytest.fixture(scope="module")
def standin() -> Iterator[StandinServer]:
    with StandinServer(api_keys=["browser-key"]) as server:
        yield server


@pytest.fixture(scope="module")
def gemini_studio(standin: StandinServer) -> Iterator[RunningStudio]:
    with running_studio("upload", GEMINI_API_KEY="browser-key", GEMINI_BASE_URL=standin.base_url) as running:
        yield running


@pytest.fixture
def page(browser, gemini_studio: RunningStudio) -> Iterator[Page]:  # noqa: F811
    opened = new_browser_page(browser, gemini_studio)
    yield opened
    opened.context.close()


def upload(page: Page, path: Path) -> None:
    settle(page)
    page.locator("input[type=file]").set_input_files(path)
    expect(page.get_by_role("button", name=f"Remove {path.name}")).to_be_visible()  # long names are shortened
    settle(page)


def create(page: Page, name: str) -> None:
    settle(page, quiet_ms=300)  # the upload's run may still be drawing: a click mid-run can be lost
    form = page.get_by_test_id("stForm").filter(has=page.get_by_role("button", name="Create character"))
    form.get_by_role("textbox", name="Name").fill(name)
    form.get_by_role("button", name="Create character").click()


def test_uploads_show_the_face_prefill_features_and_describe_with_gemini(page: Page, standin: StandinServer) -> None:
    page.goto("/")
    sign_in_as(page, ADMIN, ADMIN_PASSWORD)

    upload(page, REAL / "webgal" / "outfit1_open_eyes.png")
    expect(page.get_by_text("Face found: the pink box holds the brows, eyes, mouth and chin")).to_be_visible()
    expect(page.get_by_text("read from the picture: check them")).to_be_visible()
    expect(page.get_by_role("checkbox", name="state it in prompts").first).to_be_checked()  # hair, read

    standin.force("text_only")  # prose instead of the schema's JSON
    page.get_by_role("button", name="Describe with Gemini").click()
    expect(page.get_by_text("Gemini's answer was not a usable description")).to_be_visible()
    expect(page.get_by_role("combobox", name="Hair style")).to_have_value("(not stated)")  # nothing was changed

    settle(page)
    page.get_by_role("button", name="Describe with Gemini").click()
    expect(page.get_by_role("combobox", name="Hair style")).to_have_value("twin tails")  # described: filled in
    expect(page.get_by_role("textbox", name="Outfit")).to_have_value("school uniform")
    shot(page, "11_upload_face_found_described")
    create(page, "Pink")
    expect(page.get_by_text("Created Pink. Next: open the Generate page")).to_be_visible()
    expect(page.get_by_role("heading", name="Pink")).to_be_visible()

    upload(page, REAL / "sillytavern" / "neutral.png")
    expect(page.get_by_text("No face was found")).to_be_visible()
    expect(page.get_by_text("I checked it: the box holds the brows, eyes, mouth and chin")).to_be_visible()
    shot(page, "12_upload_face_unsure")
    create(page, "Smiley")
    expect(page.get_by_text("Created Smiley. Next: confirm its face region below")).to_be_visible()
    expect(page.get_by_text("Confirm its face region (below) before the first batch.")).to_be_visible()
