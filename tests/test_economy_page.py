"""The Generate page with an economy batch (AppTest): the choice, its credits, the waiting line, then the images."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import text

from devtools.gemini_standin import StandinServer
from lib.backends.gemini import GeminiConfig
from lib.backends.gemini_batch import GeminiBatchClient
from lib.catalog import characters
from lib.core import settings as settings_module
from lib.core.storage import LocalStore
from lib.design.features import Features
from lib.generation import economy
from tests.test_pages import app, grid_cards, messages, sign_in


def test_an_economy_batch_waits_for_gemini_then_fills_in(accounts, committed_env, engine, monkeypatch) -> None:
    _, mei = accounts
    monkeypatch.setenv("GEMINI_API_KEY", "test-key")
    settings_module.get_settings.cache_clear()
    store = LocalStore(committed_env / "objects")
    with engine.begin() as conn:
        conn.execute(text("UPDATE users SET plan = 'basic' WHERE id = :u"), {"u": mei.id})
        conn.execute(text("UPDATE user_credits SET available = 300 WHERE user_id = :u"), {"u": mei.id})
        image, box = characters.generate_base(Features(hair_color="#50a0e0"), size=(160, 208))
        characters.create_character(conn, store, actor=mei, name="Sora", image=image, source="generated",
                                    face_box=box)
    at = sign_in(app(), "mei@example.com")
    at.switch_page("pages/generate.py").run()
    assert not at.exception, at.exception
    model = next(s for s in at.selectbox if s.label == "Model")
    model.select("gemini-3.1-flash-image").run()
    next(s for s in at.selectbox if s.label == "Size").select("1K").run()
    at.multiselect[0].set_value(["happy", "sad"]).run()
    tier = at.radio(key="tier")
    assert tier.options == ["Standard", "Economy (−50 %, ready within 24 h)"]
    assert "**2** images · **4** credits" in " ".join(c.value for c in at.caption)
    tier.set_value("economy").run()
    assert "**2** images · **2** credits" in " ".join(c.value for c in at.caption)  # half, shown before submit
    next(b for b in at.button if b.label.startswith("Generate")).click().run()
    assert not at.exception, at.exception
    assert "Submitted 2 images; 2 credits held" in messages(at)
    with engine.connect() as conn:
        job_id = conn.execute(text("SELECT id FROM generation_jobs WHERE tier = 'economy'")).scalar_one()

    with StandinServer(api_keys=["test-key"]) as standin:
        standin.configure(batch_delay_s=30)
        client = GeminiBatchClient(GeminiConfig(api_key="test-key", base_url=standin.base_url), price_percent=50)
        gemini_batch_id = economy.submit_wave(engine, store, client, job_id=job_id, poll_seconds=60)
        at.run()
        waiting = " ".join(c.value for c in at.caption)
        with engine.connect() as conn:
            submitted = conn.execute(text("SELECT submitted_at FROM gemini_batches")).scalar_one()
        assert f"waiting for Gemini's batch (submitted {submitted:%H:%M}) · 2 images · pending" in waiting
        standin.engine.batches[next(iter(standin.engine.batches))].created -= 31
        economy.poll(engine, store, client, gemini_batch_id=gemini_batch_id, poll_seconds=60)
        client.close()
    for item in economy_items(engine, job_id):
        assert economy.finish_item(engine, store, difference_id=item, threshold=60.0) == "done"
    at.run()
    assert not at.exception
    assert "waiting for Gemini" not in " ".join(c.value for c in at.caption)
    assert len(at.image) == 1  # the base; the review grid draws the two results
    assert len([c for c in grid_cards(at) if c.get("img")]) == 2
    assert dt.datetime.now(dt.UTC) - submitted < dt.timedelta(minutes=5)


def economy_items(engine, job_id) -> list:
    with engine.connect() as conn:
        return list(conn.execute(text("SELECT id FROM differences WHERE job_id = :j AND batch_answer IS NOT NULL"),
                                 {"j": job_id}).scalars())
