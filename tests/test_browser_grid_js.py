"""The review grid's JavaScript (lib/web/grid.js) in Chromium, on its own: every text it is given is drawn as
text, and a click or a key comes back as one `action` event. No studio needed: the module is loaded into a
blank page and handed the same kind of description lib/web/review.py sends."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.test_browser import browser  # noqa: F401 (fixture)

pytestmark = [pytest.mark.browser]

GRID_JS = Path(__file__).resolve().parents[1] / "lib" / "web" / "grid.js"
EVIL = "<img src=http://evil.example/x.png onerror=alert(1)> [login](http://evil.example) **bold**"
TEXTS = {k: k for k in ("approved", "rejected", "approve", "reject", "again", "compare", "loop", "loop_help")}


def card(id_: str, **extra: object) -> dict:
    return {"id": id_, "status": "done", "review": None, "buttons": True, "caption": f"caption {EVIL}",
            "head": {"bold": f"Head {EVIL}", "rest": ""}, "alt": EVIL,
            "score": {"title": f"Score {EVIL}", "help": EVIL, "parts": [f"part {EVIL}"]}, **extra}


def test_the_grid_draws_hostile_text_as_text_and_sends_clicks_and_keys_as_actions(browser) -> None:  # noqa: F811
    description = {
        "texts": TEXTS, "columns": [f"Expression {EVIL}", "blink"],
        "rows": [{"label": f"Row {EVIL}", "loop": None, "strips": [],
                  "slots": [{"shown": card("a1", img="data:image/gif;base64,R0lGODlhAQABAAAAACw=")},
                            {"shown": card("b2", status="failed", buttons=True, img=None,
                                           note=f"The model refused to draw {EVIL}")}]}],
    }
    context = browser.new_context()
    fetched: list[str] = []
    context.on("request", lambda r: fetched.append(r.url) if "evil.example" in r.url else None)
    page = context.new_page()
    try:
        page.route("http://grid.test/grid.js", lambda route: route.fulfill(
            body=GRID_JS.read_text(encoding="utf-8"), content_type="text/javascript"))
        page.route("http://grid.test/", lambda route: route.fulfill(body="<div id=host></div>",
                                                                    content_type="text/html"))
        page.goto("http://grid.test/")
        page.evaluate("""async (data) => {
            const draw = (await import("http://grid.test/grid.js")).default;
            window.sent = [];
            draw({data, parentElement: document.getElementById("host"),
                  setTriggerValue: (name, value) => window.sent.push([name, value])});
        }""", description)
        assert page.locator('img[src*="evil"], a').count() == 0
        assert page.locator("strong, b", has_text="bold").count() == 0
        text = page.locator("#host").inner_text()
        assert f"The model refused to draw {EVIL}" in text and f"Row {EVIL}" in text and f"caption {EVIL}" in text
        page.locator('button[data-do="approve"][data-id="a1"]').click()
        page.locator('.mg-card[data-id="a1"]').focus()
        page.keyboard.press("x")
        page.locator('.mg-card[data-id="b2"]').focus()
        page.keyboard.press("r")
        page.keyboard.press("a")  # a failed image has no approve button: nothing is sent
        sent = page.evaluate("window.sent")
        assert [(name, value["do"], value["id"]) for name, value in sent] == [
            ("action", "approve", "a1"), ("action", "reject", "a1"), ("action", "again", "b2")], json.dumps(sent)
        assert fetched == []
    finally:
        context.close()
