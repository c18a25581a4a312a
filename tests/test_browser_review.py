"""The review workspace in a real browser: limits before the click, cancel, batches as history, attempts,
picking, compare view, undo. Runs against the studio of tests/test_browser.py (headless Chromium,
`python -m lib run` with its own worker). The ZIP is read through the CLI: the Exports page's downloads
have their own test.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import subprocess
import sys
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.test_browser import (  # noqa: F401 (browser, page and studio are fixtures)
    ADMIN,
    ADMIN_PASSWORD,
    ROOT,
    RunningStudio,
    browser,
    open_page,
    page,
    remembered,
    settle,
    shot,
    sign_in,
    sign_in_as,
    sign_out,
    studio,
)

pytestmark = [pytest.mark.browser, pytest.mark.slow]

REVIEWER, PASSWORD = "rin@studio.local", "browser-reviewer-password"
UUID_TEXT = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def cli(running: RunningStudio, *args: str, stdin: str | None = None) -> str:
    done = subprocess.run([sys.executable, "-m", "lib", *args], input=stdin, cwd=ROOT, env=running.env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return done.stdout


def worker_pids(running: RunningStudio) -> list[int]:
    """The worker processes `lib run` started for this studio (found by their command line and STUDIO_HOME)."""
    found = []
    for proc in Path("/proc").iterdir():
        try:
            args = (proc / "cmdline").read_bytes().split(b"\0")
            env = (proc / "environ").read_bytes().split(b"\0")
        except (OSError, ValueError):
            continue
        if args[1:4] == [b"-m", b"lib", b"worker"] and f"STUDIO_HOME={running.env['STUDIO_HOME']}".encode() in env:
            found.append(int(proc.name))
    return found


@contextmanager
def workers_paused(running: RunningStudio) -> Iterator[None]:
    """Hold this studio's worker still (SIGSTOP), so a batch stays queued as on a busy day; resume it after."""
    pids = worker_pids(running)
    assert pids, "the studio's worker was not found"
    for pid in pids:
        os.kill(pid, signal.SIGSTOP)
    try:
        yield
    finally:
        for pid in pids:
            os.kill(pid, signal.SIGCONT)


def choose(tab: Page, widget: str, *options: str) -> None:
    box = tab.get_by_test_id("stMultiSelect").filter(has_text=widget)
    for option in options:
        settle(tab)
        box.first.click()
        tab.get_by_role("option", name=option, exact=True).click()
        settle(tab)
    tab.keyboard.press("Escape")
    settle(tab)


def no_raw_values(tab: Page) -> None:
    text = tab.locator('[data-testid="stMain"]').inner_text()
    assert not UUID_TEXT.search(text), text
    assert not re.search(r"\bNone\b", text), text
    assert "Traceback" not in text
    assert tab.get_by_test_id("stException").count() == 0


def zip_member(running: RunningStudio, character_id: str, name: str, folder: Path) -> bytes:
    out = folder / "set.zip"
    cli(running, "export", character_id, "--as", REVIEWER, "--format", "zip", "--out", str(out))
    with zipfile.ZipFile(out) as archive:
        return archive.read(name)


def test_review_workspace_from_limits_to_the_picked_attempt(page: Page, studio: RunningStudio,  # noqa: F811
                                                             tmp_path: Path) -> None:
    cli(studio, "users", "add", REVIEWER, "--plan", "free", "--password-stdin", stdin=PASSWORD)
    features = tmp_path / "features.json"
    features.write_text(json.dumps({"hair_color": "#e8a0c0", "hair_style": "twin_tails", "eye_color": "#30a060"}))
    made = json.loads(cli(studio, "characters", "add", "--as", REVIEWER, "--name", "Hana", "--features",
                          str(features), "--generate-base", "--json"))
    character_id = made["id"]
    page.goto("/")
    sign_in_as(page, REVIEWER, PASSWORD)
    open_page(page, "Generate")

    # Cancel at 0 started refunds every credit, and says how many.
    with workers_paused(studio):
        page.get_by_role("button", name="Generate 5 images").click()
        expect(page.get_by_text("Submitted 5 images; 5 credits held")).to_be_visible()
        expect(page.get_by_text("you have 25 available, 5 held by running batches")).to_be_visible()
        page.get_by_role("button", name="Cancel the rest").click()
        expect(page.get_by_text("Cancelled 5 images that had not been made; 5 credits refunded.")).to_be_visible()
        expect(page.get_by_text("you have 30 available")).to_be_visible()
        expect(page.get_by_text("0 of 5 made · 5 cancelled (refunded)")).to_be_visible()
    shot(page, "20_cancelled_batch")

    # Over the plan's batch size: the button is disabled with the reason beside it, and a split is offered.
    choose(page, "Variants of each expression", "Mouth open 口開け", "Blink 目閉じ")
    expect(page.get_by_role("button", name="Generate 15 images")).to_be_disabled()
    expect(page.get_by_text("at most 12 images per batch and this is 15")).to_be_visible()
    shot(page, "21_over_batch_limit")
    page.get_by_role("button", name="Generate as 2 batches (12 + 3)").click()
    expect(page.get_by_text("Submitted 15 images as 2 batches")).to_be_visible()
    expect(page.get_by_text("12 of 12 made").first).to_be_visible(timeout=90_000)

    # The grid: one row per expression, the variants beside it.
    for heading in ("Expression", "Mouth open 口開け", "Blink 目閉じ"):
        expect(page.get_by_text(heading, exact=True).first).to_be_visible()
    expect(page.get_by_text("Neutral 通常", exact=True)).to_have_count(2)  # its tag above, its row in the grid
    no_raw_values(page)
    shot(page, "22_review_grid")

    # Make one again: the same batch, both attempts side by side; picking one decides the ZIP.
    page.get_by_role("button", name="↻").first.click()
    expect(page.get_by_text("Attempt 2", exact=True)).to_be_visible(timeout=60_000)
    expect(page.get_by_text("13 of 13 made").first).to_be_visible(timeout=60_000)
    settle(page)
    expect(page.get_by_text("Attempt 1", exact=True).first).to_be_visible()
    first_pick = zip_member(studio, character_id, "expressions/neutral.png", tmp_path)
    settle(page)
    strip = page.get_by_role("group", name="Neutral 通常: 2 attempts")  # the attempts under the grid's row
    strip.get_by_role("button", name="✓", exact=True).first.click()  # attempt 1
    expect(page.get_by_text("✓ approved")).to_have_count(2)  # in its strip, and shown in the grid's cell
    picked_one = zip_member(studio, character_id, "expressions/neutral.png", tmp_path)
    settle(page)
    strip.get_by_role("button", name="✓", exact=True).nth(1).click()  # attempt 2 beside it
    expect(strip.get_by_text("Attempt 2 ★ used")).to_be_visible()
    expect(page.get_by_text("★ used")).to_have_count(1)
    picked_two = zip_member(studio, character_id, "expressions/neutral.png", tmp_path)
    assert picked_one != picked_two and first_pick in (picked_one, picked_two)
    expect(page.get_by_text("✓ approved")).to_have_count(2)  # picking one attempt un-approves the other
    shot(page, "23_attempts_side_by_side")
    page.get_by_role("button", name="↶ Undo: Approved Neutral 通常").click()
    expect(strip.get_by_text("Attempt 1 ★ used")).to_be_visible()
    assert zip_member(studio, character_id, "expressions/neutral.png", tmp_path) == picked_one

    # Compare view: base and result full size, keyboard to move on and close.
    page.get_by_role("button", name="⇆").first.click()
    expect(page.get_by_text("Compare: Neutral 通常")).to_be_visible()
    compare = page.locator(".st-key-compare-view")
    expect(compare.get_by_role("img")).to_have_count(2)
    shot(page, "24_compare")
    where = compare.get_by_text(re.compile(r"Compare: .* · \d+ of 13")).inner_text()
    at = int(re.search(r"(\d+) of 13", where).group(1))
    page.keyboard.press("ArrowRight")
    expect(compare.get_by_text(f"· {at + 1} of 13")).to_be_visible()
    page.keyboard.press("Escape")
    expect(page.get_by_text("Compare:")).to_have_count(0)

    # At 0 credits the button is disabled with the reason beside it.
    left = json.loads(cli(studio, "credits", REVIEWER, "--json"))["available"]
    cli(studio, "credits", "grant", REVIEWER, str(-left), "--reason", "spend it all", "--as", ADMIN)
    page.reload()
    settle(page, quiet_ms=600)
    expect(page.get_by_role("heading", name="Generate")).to_be_visible()
    expect(page.get_by_role("button", name="Generate 5 images")).to_be_disabled()
    expect(page.get_by_text("Not enough credits: this needs 5 and you have 0.")).to_be_visible()
    no_raw_values(page)
    shot(page, "25_no_credits")


def test_switching_user_in_the_same_tab_stays_signed_in_after_a_reload(page: Page, studio: RunningStudio) -> None:  # noqa: F811
    email = "sora@studio.local"
    cli(studio, "users", "add", email, "--password-stdin", stdin=PASSWORD)
    page.goto("/")
    sign_in_as(page, ADMIN, ADMIN_PASSWORD)
    sign_out(page)
    for _ in range(50):  # the sign-out deletes the cookie from a component, a moment after its run
        if not any(c["name"] == "miyabi_studio_auth" for c in page.context.cookies()):
            break
        page.wait_for_timeout(100)
    else:
        raise AssertionError("signing out must delete the sign-in cookie")
    sign_in(page, email, PASSWORD)  # the same tab, as the README's walkthrough does
    expect(page.get_by_role("heading", name="Characters")).to_be_visible()
    assert remembered(page)
    settle(page, quiet_ms=600)
    page.reload()
    settle(page, quiet_ms=600)
    expect(page.get_by_role("heading", name="Characters")).to_be_visible()
    expect(page.get_by_text(f"Signed in as {email}")).to_be_visible()
    expect(page.get_by_role("button", name="Sign in")).to_have_count(0)


MEMBER_PAGES = ("Characters", "Generate", "Exports", "Credits", "Billing", "Account", "API tokens")
ADMIN_PAGES = ("Users", "Reports", "Health")


def test_no_page_shows_a_raw_id_none_or_a_traceback(browser, studio: RunningStudio) -> None:  # noqa: F811
    """Every page a member and an admin can open, after the workspace test above left batches, reviews,
    cancellations and ledger rows behind (and again with the admin's every-user view)."""
    from tests.test_browser import new_browser_page

    with contextlib.suppress(AssertionError):  # run alone, the member the workspace test makes is missing
        cli(studio, "users", "add", REVIEWER, "--plan", "free", "--password-stdin", stdin=PASSWORD)
    for email, password, titles in ((REVIEWER, PASSWORD, MEMBER_PAGES), (ADMIN, ADMIN_PASSWORD,
                                                                       MEMBER_PAGES + ADMIN_PAGES)):
        tab = new_browser_page(browser, studio)
        try:
            tab.goto("/")
            sign_in_as(tab, email, password)
            for title in titles:
                open_page(tab, title)
                settle(tab, quiet_ms=300)
                no_raw_values(tab)
                if title == "Characters" and email == ADMIN:
                    tab.get_by_text("Show every user's characters").click()
                    settle(tab, quiet_ms=300)
                    no_raw_values(tab)
            shot(tab, f"26_every_page_{email.split('@')[0]}")
        finally:
            tab.context.close()
