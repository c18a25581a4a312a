"""Template trials: the prompts a batch would send, finished and scored as the pipeline does, nothing written."""

from __future__ import annotations

import io

import pytest
from PIL import Image
from sqlalchemy import text

from devtools.gemini_standin import StandinServer
from lib.backends.gemini import DEFAULT_PRICES, GeminiBackend, GeminiConfig
from lib.backends.offline import OfflineBackend
from lib.catalog import characters, prompts
from lib.core.errors import InvalidInput
from lib.core.settings import load_settings
from lib.design import expressions
from lib.design.features import Features
from lib.lab import prompt_trials

SIZE = (192, 256)
FEATURES = Features(hair_color="#e8a0c0", hair_style="twin_tails", eye_color="#30a060", outfit="sailor uniform",
                    accessories=["hair_ribbon"], notes="a mole under the left eye")
SHORT = "Keep $keep. Now: $change."


@pytest.fixture
def character(conn, make_user, store) -> characters.Character:
    image, box = characters.generate_base(FEATURES, size=SIZE)
    return characters.create_character(conn, store, actor=make_user(), name="Momo", image=image, features=FEATURES,
                                       source="generated", face_box=box)


def test_offline_trials_score_every_template_and_expression_and_write_nothing(conn, store, character) -> None:
    templates = {"active": prompts.active_template(conn).body, "short": SHORT}
    chosen = [expressions.get("happy"), expressions.get("sad")]
    trials = prompt_trials.compare_templates(store, OfflineBackend(), character, templates=templates,
                                             expressions=chosen, model="offline", image_size="1K",
                                             threshold=70.0)
    assert [(t.template, t.expression) for t in trials] == [
        ("active", "happy"), ("active", "sad"), ("short", "happy"), ("short", "sad")]
    assert trials[0].prompt == prompts.build_prompt(templates["active"], character_name="Momo",
                                                    features=character.features, expression=chosen[0])
    assert trials[0].png == trials[2].png  # the offline renderer ignores the prompt
    assert all(t.score.passed and t.cost_usd == 0 for t in trials)
    frame = prompt_trials.trials_frame(trials, character)
    by_template = frame.groupby("template")["prompt_chars"].mean()
    assert by_template["active"] > by_template["short"]
    assert "notes" in frame["restates"].iloc[0] and "name" not in frame["restates"].iloc[2]
    assert conn.execute(text("SELECT count(*) FROM generation_jobs")).scalar_one() == 0


def test_restated_names_what_the_prompt_keeps(character) -> None:
    prompt = "Momo with pink hair, green eyes, twin tails, fair skin, the sailor uniform and a hair ribbon."
    assert prompt_trials.restated(prompt, character) == [
        "name", "hair", "hair style", "eyes", "skin", "outfit", "accessories"]


def test_gemini_trial_goes_through_the_real_sdk_and_reports_its_cost(conn, store, character) -> None:
    with StandinServer(api_keys=["test-key"]) as server:
        backend = GeminiBackend(GeminiConfig(api_key="test-key", base_url=server.base_url, timeout_ms=20_000,
                                             max_attempts=2, backoff_initial_s=0, backoff_max_s=0,
                                             backoff_jitter_s=0), sleep=lambda _: None)
        base = characters.load_base(store, character)
        trial = prompt_trials.run_trial(backend, character, base, label="short", body=SHORT,
                                        expression=expressions.get("angry"), model="gemini-3.1-flash-image",
                                        image_size="1K", threshold=70.0)
    assert trial.cost_usd > 0 and set(trial.score.parts) == {"identity", "change", "seam", "placement"}
    assert Image.open(io.BytesIO(trial.png)).size == SIZE


def test_cost_estimate_uses_the_price_table_and_overrides() -> None:
    settings = load_settings(gemini_prices={"gemini-3-pro-image:1K": 0.5})
    assert prompt_trials.estimate_cost_usd(settings, model="gemini-3.1-flash-image", image_size="2K", images=6) == (
        pytest.approx(6 * DEFAULT_PRICES[("gemini-3.1-flash-image", "2K")]))
    assert prompt_trials.estimate_cost_usd(settings, model="gemini-3-pro-image", image_size="1K", images=2) == 1.0
    with pytest.raises(InvalidInput, match="no price"):
        prompt_trials.estimate_cost_usd(settings, model="gemini-3-pro-image", image_size="512", images=1)


def test_contact_sheet_lays_out_labelled_thumbnails(store, character) -> None:
    base = characters.load_base(store, character)
    sheet = prompt_trials.contact_sheet([(f"n{i}", base) for i in range(7)], thumb=100, columns=3)
    assert sheet.size == (3 * 108, 3 * (100 + 24))
    with pytest.raises(InvalidInput):
        prompt_trials.contact_sheet([])
