"""The main flows in a real browser: headless Chromium (Debian's) driven by Playwright against `python -m lib run`.

AppTest proves each page script; this proves the product: the sign-in cookie, uploads, the polling batch view,
deferred downloads and the admin rollup as a person meets them. Screenshots of every main page land in
`out/screenshots/` (gitignored). Locally the tests skip without /usr/bin/chromium; in CI they fail instead.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import urllib.error
import urllib.request
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import NamedTuple

import pytest
from PIL import Image

from lib.design.features import Features
from lib.render.portrait import render_portrait
from tests.test_run import free_port, wait_healthy

pytestmark = [pytest.mark.browser, pytest.mark.slow]

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = Path(os.environ.get("STUDIO_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = ["--no-sandbox", "--headless", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
SHOTS = ROOT / "out" / "screenshots"
ADMIN, ADMIN_PASSWORD = "admin@studio.local", "browser-admin-password"
MEMBER, MEMBER_PASSWORD = "mei@studio.local", "browser-member-password"
UPLOAD_SIZE = (600, 800)
TIMEOUT_MS = 20_000


def _unavailable(reason: str) -> None:
    """CI must never skip the browser tests silently; a laptop without Chromium may."""
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"{reason} (CI runs `make test`, whose system-deps target installs it)", pytrace=False)
    pytest.skip(reason, allow_module_level=True)


if not CHROMIUM.exists():
    _unavailable(f"{CHROMIUM} is missing: `apt-get install chromium fonts-noto-cjk` (never `playwright install`)")
try:
    from playwright.sync_api import Browser, Page, expect, sync_playwright
    from playwright.sync_api import TimeoutError as PlaywrightTimeoutError
except ImportError:  # pragma: no cover - requirements-dev.txt pins it
    _unavailable("the playwright package is missing: install requirements-dev.txt")
expect.set_options(timeout=TIMEOUT_MS)  # the first run of each page imports and connects: seconds, not ms


class RunningStudio(NamedTuple):
    url: str
    env: dict[str, str]  # the environment the CLI needs to reach the same studio


@pytest.fixture(scope="module")
def studio() -> Iterator[RunningStudio]:
    """The whole studio (embedded Postgres, first admin, one worker, web app) on a free port, once per module."""
    with running_studio("browser") as running:
        yield running


@contextmanager
def running_studio(name: str, **extra: str) -> Iterator[RunningStudio]:
    """A fresh whole studio with its own home; `extra` settings on top (e.g. GEMINI_BASE_URL of a stand-in)."""
    top = Path(tempfile.mkdtemp(prefix=f"studio-{name}-"))  # outside pytest's 0700 tree: Postgres runs as another user
    runtime = top / "xdg"
    runtime.mkdir(mode=0o700)
    dropped = ("DATABASE_URL", "TEST_DATABASE_URL", "STUDIO_COOKIE_KEY", "S3_BUCKET", "S3_ENDPOINT_URL",
               "GEMINI_API_KEY", "STRIPE_SECRET_KEY", "STRIPE_WEBHOOK_SECRET", "IMAGE_BACKEND")
    env = {k: v for k, v in os.environ.items() if k not in dropped}
    env |= {"STUDIO_HOME": str(top / "studio"), "STUDIO_ADMIN_PASSWORD": ADMIN_PASSWORD, "PYTHONUNBUFFERED": "1",
            "XDG_RUNTIME_DIR": str(runtime), **extra}
    try:
        with serving(env, top) as running:
            yield running
    finally:
        shutil.rmtree(top, ignore_errors=True)


@contextmanager
def serving(env: dict[str, str], top: Path) -> Iterator[RunningStudio]:
    """`python -m lib run` with `env` on a free port until the block ends; its log may hold no traceback."""
    port = free_port()
    log_path = top / "run.log"
    with log_path.open("w") as log:
        process = subprocess.Popen([sys.executable, "-m", "lib", "run", "--port", str(port)], cwd=ROOT, env=env,
                                   stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        wait_healthy(f"http://127.0.0.1:{port}/_stcore/health", process, log_path)
        yield RunningStudio(f"http://127.0.0.1:{port}", env)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=30)
        log_text = log_path.read_text()
    assert "Traceback" not in log_text, log_text


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    SHOTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        launched = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield launched
        launched.close()


@pytest.fixture
def page(browser: Browser, studio: RunningStudio, request: pytest.FixtureRequest) -> Iterator[Page]:
    """A fresh browser profile (no cookies) with a viewport tall enough for whole-page screenshots."""
    opened = new_browser_page(browser, studio)
    yield opened
    report = getattr(request.node, "rep_call", None)
    if report is not None and report.failed:  # every open tab of every profile: the failing step may be in any
        for n, tab in enumerate(t for context in browser.contexts for t in context.pages):
            try:
                state = tab.locator('[data-testid="stApp"]').get_attribute("data-test-connection-state", timeout=2000)
                print(f"FAILED tab {n}: {tab.url} connection {state}")
                tab.screenshot(path=SHOTS / f"FAILED_{request.node.name}_{n}.png", full_page=True)
            except PlaywrightTimeoutError:
                print(f"FAILED tab {n}: {tab.url} has no studio page")
    opened.context.close()


def new_browser_page(browser: Browser, studio: RunningStudio) -> Page:
    """A page in its own browser profile (cookies), as another person at another desk would have."""
    context = browser.new_context(viewport={"width": 1400, "height": 2000}, base_url=studio.url,
                                  accept_downloads=True, locale="en-US")
    context.set_default_timeout(TIMEOUT_MS)
    context.add_init_script(COUNT_RUNS)
    return context.new_page()


# ------------------------------------------------------------------ steps


# Counts script runs as the browser sees them (the app root's data-test-script-state turning "running").
COUNT_RUNS = """
window.__studioRuns = 0;
new MutationObserver((changes) => {
  for (const c of changes) if (c.target.getAttribute("data-test-script-state") === "running") window.__studioRuns++;
}).observe(document, {attributes: true, subtree: true, attributeFilter: ["data-test-script-state"]});
"""
IDLE = '[data-testid="stApp"][data-test-script-state="notRunning"]'


def settle(page: Page, *, quiet_ms: int = 0) -> None:
    """Wait until no script run is in flight (stale and new elements coexist during a rerun).

    With `quiet_ms`, also wait until no run started for that long: a component (the sign-in cookie
    reader and writer) reports its first value a moment after it mounts, and that starts one more run.
    """
    expect(page.locator(IDLE)).to_be_attached()
    for _ in range(20):
        runs = page.evaluate("window.__studioRuns")
        page.wait_for_timeout(quiet_ms)  # a short poll: did another run start meanwhile?
        if not quiet_ms or (page.evaluate("window.__studioRuns") == runs and page.locator(IDLE).count()):
            return
        expect(page.locator(IDLE)).to_be_attached()


def shot(page: Page, name: str) -> None:
    settle(page)
    page.screenshot(path=SHOTS / f"{name}.png", full_page=True)


def sign_in(page: Page, email: str, password: str) -> None:
    settle(page, quiet_ms=600)  # the cookie component's first value reruns the script: typing can be lost
    page.get_by_role("textbox", name="Email").fill(email)
    page.get_by_role("textbox", name="Password").fill(password)
    page.get_by_role("button", name="Sign in").click()


def sign_in_as(page: Page, email: str, password: str) -> None:
    """Sign in and wait until the browser holds the cookie: writing it reruns the page, which would undo a click."""
    sign_in(page, email, password)
    expect(page.get_by_role("heading", name="Characters")).to_be_visible()
    assert remembered(page), "signing in must leave the re-authentication cookie (a reload keeps you signed in)"
    settle(page, quiet_ms=600)


def remembered(page: Page) -> bool:
    """Whether this browser holds the sign-in cookie, polling briefly: a component writes it after the run."""
    for _ in range(100):
        if any(c["name"] == "miyabi_studio_auth" for c in page.context.cookies()):
            return True
        page.wait_for_timeout(100)
    return False


def open_page(page: Page, title: str) -> None:
    """Follow the sidebar link and wait for the page's own title."""
    settle(page)  # a rerun in flight could land after the click and bring back the page it started on
    page.get_by_role("link", name=title, exact=True).click()
    expect(page.get_by_role("heading", name=title, exact=True)).to_be_visible()


def sign_out(page: Page) -> None:
    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_text("You have signed out.")).to_be_visible()
    expect(page.get_by_role("button", name="Sign in")).to_be_visible()


def portrait_png(path: Path) -> Path:
    """A character the offline renderer draws, flattened onto an opaque backdrop as a scan or export would be."""
    figure = render_portrait(Features(hair_color="#e8a0c0", hair_style="twin_tails"), size=UPLOAD_SIZE)
    backdrop = Image.new("RGBA", UPLOAD_SIZE, (236, 240, 248, 255))
    backdrop.alpha_composite(figure)
    backdrop.convert("RGB").save(path, format="PNG")
    return path


def create_character(page: Page, name: str, *, upload: Path | None = None, draw: bool = False) -> None:
    settle(page)  # after a success the form is replaced by a fresh one: type into that one
    if upload is not None:  # above the form: the studio finds the face and reads the colours first
        alerts = page.get_by_role("alert").count()
        page.locator("input[type=file]").set_input_files(upload)
        expect(page.get_by_text(upload.name)).to_be_visible()
        # The file name shows before the upload's run starts: wait for what that run draws (the picture read,
        # or one more alert saying why it was refused), else the Create click can land mid-run and be lost.
        page.wait_for_function("n => document.querySelectorAll('[role=alert]').length > n"
                               " || document.body.innerText.includes('read from the picture')", arg=alerts)
        settle(page, quiet_ms=300)
    form = page.get_by_test_id("stForm").filter(has=page.get_by_role("button", name="Create character"))
    form.get_by_role("textbox", name="Name").fill(name)
    if draw:
        form.get_by_text("draw the base from the features").check()
    form.get_by_role("button", name="Create character").click()


# ------------------------------------------------------------------ tests


def test_wrong_password_is_refused_with_a_clear_message(page: Page) -> None:
    page.goto("/")
    expect(page.get_by_role("button", name="Sign in")).to_be_visible()
    shot(page, "01_login")
    sign_in(page, ADMIN, "not-the-password")
    expect(page.get_by_text("Wrong email or password.")).to_be_visible()
    expect(page.get_by_role("heading", name="Characters")).to_have_count(0)
    shot(page, "01_login_wrong_password")


def test_main_flow_from_new_member_to_admin_report(page: Page, browser: Browser, studio: RunningStudio,
                                                    tmp_path: Path) -> None:
    page.goto("/")
    sign_in_as(page, ADMIN, ADMIN_PASSWORD)
    open_page(page, "Users")
    add = page.get_by_test_id("stForm").filter(has=page.get_by_role("button", name="Add user"))
    add.get_by_role("textbox", name="Email").fill(MEMBER)
    add.get_by_role("textbox", name="Initial password").fill(MEMBER_PASSWORD)
    add.get_by_role("button", name="Add user").click()
    expect(page.get_by_text(f"Added {MEMBER}")).to_be_visible()
    shot(page, "07_users")
    sign_out(page)

    sign_in_as(page, MEMBER, MEMBER_PASSWORD)  # the same tab, as the README's walkthrough does
    expect(page.get_by_text("No characters yet")).to_be_visible()
    shot(page, "02_characters_empty")

    not_an_image = tmp_path / "not-an-image.png"
    not_an_image.write_text("this is a text file with a .png name\n")
    create_character(page, "Broken", upload=not_an_image)
    expect(page.get_by_text("This file is not a PNG, JPEG or WebP image")).to_be_visible()
    expect(page.get_by_text("No characters yet")).to_be_visible()  # nothing was created

    create_character(page, "Sakura", upload=portrait_png(tmp_path / "sakura.png"))
    expect(page.get_by_role("heading", name="Sakura")).to_be_visible()
    create_character(page, "Hana", draw=True)
    expect(page.get_by_role("heading", name="Hana")).to_be_visible()
    expect(page.get_by_role("heading", name="Sakura")).to_be_visible()
    expect(page.get_by_role("heading", name="Broken")).to_have_count(0)
    shot(page, "03_characters_filled")

    open_page(page, "Generate")
    page.get_by_test_id("stSelectbox").filter(has_text="Character").click()
    page.get_by_role("option", name="Sakura").click()
    generate = page.get_by_role("button", name="Generate 5 images")
    expect(generate).to_be_enabled()
    generate.click()
    expect(page.get_by_role("heading", name="Batches")).to_be_visible()
    shot(page, "04_generate_in_progress")
    expect(page.get_by_text("5 of 5 made").first).to_be_visible(timeout=60_000)
    settle(page)
    loaded = "images => images.map(i => [i.src.slice(0, 40), i.complete && i.naturalWidth > 0])"
    shown = page.locator('[data-testid="stImage"] img').evaluate_all(loaded)
    assert shown and all("/files/" in src and ok for src, ok in shown), shown  # signed links, never /media
    pictures = page.locator("img.mg-pic")  # the review grid's own element, drawn by its script after the run
    expect(pictures).to_have_count(5)
    page.wait_for_function("[...document.querySelectorAll('img.mg-pic')].every(i => i.complete)")  # loaded or broken
    thumbnails = pictures.evaluate_all(loaded)
    assert len(thumbnails) == 5, thumbnails
    assert all(src.startswith("data:image/webp;base64,") and ok for src, ok in thumbnails), thumbnails
    page.get_by_role("button", name="✓", exact=True).first.click()
    expect(page.get_by_text("✓ approved")).to_have_count(1)
    expect(page.get_by_role("button", name="✓", exact=True).first).to_have_class("mg-on")
    shot(page, "05_generate_done")

    open_page(page, "Exports")
    page.get_by_test_id("stSelectbox").filter(has_text="Character").click()
    page.get_by_role("option", name="Sakura").click()
    expect(page.get_by_text("5 images: 5 expressions")).to_be_visible()
    shot(page, "06_exports")
    files = {fmt: download(page, fmt, tmp_path) for fmt in ("zip", "psd", "renpy", "pngtuber", "sillytavern")}
    check_psd(files["psd"])
    check_zip(files["zip"])
    assert all(zipfile.is_zipfile(files[fmt]) for fmt in ("renpy", "pngtuber", "sillytavern"))

    open_page(page, "Credits")
    expect(metric(page, "Available")).to_have_text("25")
    expect(metric(page, "Used since")).to_have_text("5")
    expect(page.get_by_test_id("stPlotlyChart")).to_be_visible()
    expect(page.get_by_test_id("stDataFrame")).to_be_visible()
    shot(page, "08_credits")
    open_page(page, "Billing")
    expect(page.get_by_text("Billing is not configured")).to_be_visible()
    shot(page, "10_billing")
    sign_out(page)
    sign_in_as(page, ADMIN, ADMIN_PASSWORD)
    page.reload()  # signed in again in the same tab: the cookie keeps the admin signed in
    settle(page, quiet_ms=600)
    expect(page.get_by_role("heading", name="Characters")).to_be_visible()
    open_page(page, "Reports")
    page.get_by_role("button", name="Refresh now").click()
    # The rollup refresh runs inside that click's script run: on a loaded machine it can take tens of seconds.
    expect(metric(page, "Credits used")).to_have_text("5", timeout=90_000)
    expect(metric(page, "Images made")).to_have_text("5")
    settle(page)  # the rerun after "Refresh now" shifts the charts: stale and new ones coexist until it ends
    expect(page.get_by_test_id("stPlotlyChart").filter(has_text=MEMBER).first).to_be_visible()  # top users
    shot(page, "09_reports")


def test_member_opening_an_admin_url_gets_no_admin_content(page: Page, studio: RunningStudio) -> None:
    email = "kai@studio.local"
    added = subprocess.run([sys.executable, "-m", "lib", "users", "add", email, "--role", "member",
                            "--password-stdin"], input=MEMBER_PASSWORD, cwd=ROOT, env=studio.env,
                           capture_output=True, text=True, timeout=60)
    assert added.returncode == 0, added.stderr
    page.goto("/")
    sign_in_as(page, email, MEMBER_PASSWORD)
    expect(page.get_by_role("link", name="Users")).to_have_count(0)
    for path, admin_text in (("/admin_users", "Add a user"), ("/admin_reports", "Refresh now")):
        page.goto(path)  # a fresh session: the sign-in cookie brings the member back
        expect(page.get_by_text("Page not found")).to_be_visible()  # admin pages do not exist for members
        expect(page.get_by_role("heading", name="Characters")).to_be_visible()
        expect(page.get_by_text(admin_text)).to_have_count(0)
        expect(page.get_by_text(email).first).to_be_visible()
    shot(page, "11_member_opens_admin_url")


def test_an_image_link_answers_without_cookies_only_until_its_user_signs_out(page: Page, tmp_path: Path) -> None:
    page.goto("/")
    sign_in_as(page, ADMIN, ADMIN_PASSWORD)
    create_character(page, "Linked", upload=portrait_png(tmp_path / "linked.png"))
    expect(page.get_by_role("heading", name="Linked")).to_be_visible()
    image = page.locator('[data-testid="stImage"] img').first
    expect(image).to_be_visible()
    link = image.get_attribute("src")
    assert link is not None and "/files/" in link, link
    with urllib.request.urlopen(link, timeout=30) as answer:  # no cookies: the signed link alone
        assert answer.headers["Content-Type"] == "image/png"
        assert Image.open(io.BytesIO(answer.read())).size == UPLOAD_SIZE
    sign_out(page)
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(link, timeout=30)
    assert refused.value.code == 403
    assert b"Reload the page" in refused.value.read()


# ------------------------------------------------------------------ checks


def metric(page: Page, label: str):
    return page.get_by_test_id("stMetric").filter(has_text=label).get_by_test_id("stMetricValue")


def download(page: Page, fmt: str, folder: Path) -> Path:
    """Click "Download <fmt>" once and save the file: the link's route builds it, so the first click downloads."""
    settle(page)
    with page.expect_download(timeout=60_000) as info:
        page.get_by_role("button", name=f"Download {fmt}", exact=True).click()
    target = folder / info.value.suggested_filename
    info.value.save_as(target)
    return target


def check_psd(path: Path) -> None:
    from psd_tools import PSDImage

    assert path.suffix == ".psd"
    psd = PSDImage.open(path)
    assert psd.size == UPLOAD_SIZE
    assert len(list(psd.descendants())) >= 6  # the base and five expressions


def check_zip(path: Path) -> None:
    with zipfile.ZipFile(path) as archive:
        manifest = json.loads(archive.read("manifest.json"))
        files = manifest["files"]
        assert {f["path"] for f in files} | {"manifest.json"} == set(archive.namelist())
        for entry in files:
            assert hashlib.sha256(archive.read(entry["path"])).hexdigest() == entry["sha256"], entry["path"]
        with Image.open(io.BytesIO(archive.read("base.png"))) as base:
            assert base.size == UPLOAD_SIZE
    assert len(files) == 6
