"""Describe with Gemini over the stand-in (the real google-genai SDK): structured output parsed into features,
a block or bad JSON gives a clear message and no features, and every call's cost reaches the reports."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text

from devtools.gemini_standin import StandinServer
from lib.backends.describe import GeminiDescriber
from lib.backends.gemini import GeminiConfig
from lib.catalog import describing
from lib.reports import frames, rollup

SPRITE = Path(__file__).resolve().parents[1].parent / "shared" / "real-dev" / "webgal" / "outfit1_open_eyes.png"


@pytest.fixture(scope="module")
def standin() -> Iterator[StandinServer]:
    with StandinServer(api_keys=["test-key"]) as server:
        yield server


@pytest.fixture
def describer(standin: StandinServer) -> Iterator[GeminiDescriber]:
    standin.reset()
    made = GeminiDescriber(GeminiConfig(api_key="test-key", base_url=standin.base_url, timeout_ms=20_000),
                           model="gemini-3-flash")
    yield made
    made.close()


def test_a_description_is_parsed_into_given_features(describer: GeminiDescriber) -> None:
    outcome = describing.describe_picture(describer, SPRITE.read_bytes())
    assert outcome.problem == "" and outcome.features is not None
    f = outcome.features
    assert f.hair_style == "twin_tails" and f.outfit == "school uniform" and f.accessories == ["hair ribbon"]
    r, g, b = (int(f.hair_color[i : i + 2], 16) for i in (1, 3, 5))
    assert r > g + 40 and r > b + 40  # read from her pink hair, not a default
    assert {"hair_color", "hair_style", "hair_length", "eye_color", "skin_tone", "outfit", "outfit_color",
            "accessories"} <= f.given()
    assert outcome.cost_usd > 0 and outcome.usage["prompt_token_count"] > 0


@pytest.mark.parametrize("fault,words", [("prompt_blocked", "declined to describe"),
                                         ("image_safety", "declined to describe"),
                                         ("text_only", "not a usable description"),
                                         ("corrupt", "not a usable description"),
                                         ("503", "server error")])
def test_blocks_and_bad_answers_give_a_clear_message_and_no_features(
        describer: GeminiDescriber, standin: StandinServer, fault: str, words: str) -> None:
    standin.force(fault)
    outcome = describing.describe_picture(describer, SPRITE.read_bytes())
    assert outcome.features is None and words in outcome.problem and "Nothing was changed" in outcome.problem


def test_every_describe_call_is_recorded_and_its_cost_reaches_the_reports(
        conn, make_user, describer: GeminiDescriber, standin: StandinServer) -> None:
    user = make_user(plan="basic")
    good = describing.describe_picture(describer, SPRITE.read_bytes())
    standin.force("text_only")
    bad = describing.describe_picture(describer, SPRITE.read_bytes())
    for outcome in (good, bad):
        describing.record_call(conn, actor=user, outcome=outcome)
    rows = conn.execute(text("SELECT ok, cost_usd FROM describe_calls WHERE user_id = :u ORDER BY ok"),
                        {"u": user.id}).all()
    assert [r.ok for r in rows] == [False, True] and all(r.cost_usd > 0 for r in rows)
    total = float(sum(r.cost_usd for r in rows))
    conn.execute(text("UPDATE usage_rollup_state SET watermark = NULL, refreshed_at = NULL"))
    rollup.refresh_rollup(conn)
    today = conn.execute(text("SELECT (now() AT TIME ZONE 'UTC')::date")).scalar_one()
    span = {"date_from": today - dt.timedelta(days=1), "date_to": today, "user_id": user.id}
    for raw in (False, True):
        top = frames.to_records(frames.top_users(conn, **span, raw=raw))
        assert [round(r["cost_usd"], 4) for r in top] == [round(total, 4)], raw
        months = frames.to_records(frames.cost_vs_revenue(conn, **span, raw=raw))
        assert round(sum(m["cost_usd"] for m in months), 4) == round(total, 4), raw
    spend = frames.to_records(frames.spend_by_model_size(conn, **span))
    assert [(s["model"], s["image_size"]) for s in spend] == [("gemini-3-flash", "describe")]
