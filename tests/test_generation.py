"""Jobs end to end on real Postgres: offline backend, and the real Gemini SDK against the stand-in."""

import io
from collections.abc import Iterator

import numpy as np
import pytest
from PIL import Image
from sqlalchemy import text

from devtools.gemini_standin import StandinServer
from devtools.generation import generate_now
from lib.accounts import users
from lib.backends.gemini import GeminiBackend, GeminiConfig
from lib.backends.offline import OfflineBackend
from lib.catalog import characters, custom_expressions
from lib.core.errors import InvalidInput, NotFound
from lib.core.images import clean_upload
from lib.core.storage import LocalStore
from lib.design import expressions
from lib.design.features import Features
from lib.generation import jobs, pipeline
from tests.conftest import PASSWORD, wipe

SIZE = (192, 256)
FEATURES = Features(hair_color="#e8a0c0", hair_style="twin_tails", eye_color="#30a060", outfit_color="#b03040")


@pytest.fixture
def db(engine, tmp_path) -> Iterator[tuple]:
    """Committed data (generation opens its own transactions); emptied afterwards."""
    store = LocalStore(tmp_path / "objects")
    with engine.begin() as conn:
        owner = users.create_user(conn, email="mio@example.com", password=PASSWORD)
        other = users.create_user(conn, email="ren@example.com", password=PASSWORD)
    yield engine, store, owner, other
    wipe(engine)


def rendered_character(engine, store, owner, name="Momo"):
    image, box = characters.generate_base(FEATURES, size=SIZE)
    with engine.begin() as conn:
        return characters.create_character(conn, store, actor=owner, name=name, image=image, features=FEATURES,
                                           source="generated", face_box=box)


def uploaded_character(engine, store, owner):
    source = Image.new("RGBA", SIZE, (0, 0, 0, 0))
    source.paste((240, 200, 180, 255), (40, 30, 150, 140))
    out = io.BytesIO()
    source.save(out, format="PNG")
    image = clean_upload(out.getvalue(), max_bytes=10**7, max_pixels=10**7, min_side=16, max_aspect=4.0)
    with engine.begin() as conn:
        return characters.create_character(conn, store, actor=owner, name="Upload", image=image)


def request(keys, variants=(), backend="offline", model="offline"):
    return jobs.JobRequest(expressions=[expressions.get(k) for k in keys], variants=list(variants),
                                 backend=backend, model=model, image_size="1K")


def pixels(store, key) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(store.get(key))).convert("RGBA"))


def outside(array: np.ndarray, box) -> np.ndarray:
    x, y, w, h = box
    masked = array.copy()
    masked[y : y + h, x : x + w] = 0
    return masked


def test_offline_set_for_a_rendered_character(db) -> None:
    engine, store, owner, _ = db
    character = rendered_character(engine, store, owner)
    job_id, items = generate_now(engine, store, OfflineBackend(), actor=owner, character_id=character.id,
                                            request=request(["neutral", "happy", "angry"], ["mouth_open", "blink"]))
    assert [(i.expression_key, i.variant) for i in items] == [
        ("neutral", None), ("neutral", "mouth_open"), ("neutral", "blink"), ("happy", None),
        ("happy", "mouth_open"), ("happy", "blink"), ("angry", None), ("angry", "mouth_open"), ("angry", "blink")]
    assert {i.status for i in items} == {"done"}
    assert all(i.score is not None and i.score >= 85 and set(i.score_parts["parts"]) >= {"identity", "change"}
               for i in items), [i.score for i in items]
    base = pixels(store, character.base_key)
    images = {(i.expression_key, i.variant): pixels(store, i.image_key) for i in items}
    for key, image in images.items():
        assert image.shape == base.shape
        assert np.array_equal(outside(image, character.face_box), outside(base, character.face_box)), key
    assert not np.array_equal(images[("happy", None)], images[("angry", None)])
    assert not np.array_equal(images[("happy", None)], images[("happy", "mouth_open")])
    assert all(i.image_key.startswith(f"characters/{owner.id}/{character.id}/diffs/") for i in items)
    with engine.connect() as conn:
        status = conn.execute(text("SELECT status, template_version FROM generation_jobs WHERE id = :j"),
                              {"j": job_id}).one()
        prompt = conn.execute(text("SELECT prompt FROM differences WHERE job_id = :j AND expression_key = 'angry' "
                                   "AND variant IS NULL"), {"j": job_id}).scalar_one()
    assert tuple(status) == ("done", 1)
    assert "pink hair" in prompt and expressions.get("angry").prompt in prompt


def test_uploaded_base_changes_only_inside_the_default_face_region(db) -> None:
    engine, store, owner, _ = db
    character = uploaded_character(engine, store, owner)  # no face the detector knows: an unsure box
    assert character.face_unsure and character.face_source == "estimated"
    with pytest.raises(InvalidInput, match="Confirm the face region"), engine.begin() as conn:
        jobs.create_job(conn, actor=owner, character=character, request=request(["crying"]))
    with engine.begin() as conn:
        characters.set_face_box(conn, actor=owner, character_id=character.id, face_box=character.face_box)
        character = characters.get_character(conn, actor=owner, character_id=character.id)
    assert not character.face_unsure and character.face_source == "user"
    _, items = generate_now(engine, store, OfflineBackend(), actor=owner, character_id=character.id,
                                       request=request(["crying"], ["blink"]))
    base = pixels(store, character.base_key)
    box = character.face_box
    assert box is not None  # estimated when the base was uploaded
    assert [i.status for i in items] == ["done", "done"], [i.failure_reason for i in items]
    for item in items:
        image = pixels(store, item.image_key)
        assert np.array_equal(outside(image, box), outside(base, box))
        assert not np.array_equal(image, base)


def test_running_an_item_twice_stores_one_result(db) -> None:
    engine, store, owner, _ = db
    character = rendered_character(engine, store, owner)
    with engine.begin() as conn:
        _, ids = jobs.create_job(conn, actor=owner, character=character, request=request(["happy"]))
    assert pipeline.run_difference(engine, store, OfflineBackend(), difference_id=ids[0], threshold=70.0) == "done"
    assert pipeline.run_difference(engine, store, OfflineBackend(), difference_id=ids[0], threshold=70.0) == "done"
    stored = store.list(f"characters/{owner.id}/{character.id}/diffs/")
    assert sorted(k.rsplit("/", 1)[1] for k in stored) == [f"{ids[0]}-raw.png", f"{ids[0]}.png",
                                                           f"{ids[0]}.thumb.webp"]  # one result, its thumbnail


def test_variants_wait_for_their_expression_and_fail_with_it(db) -> None:
    engine, store, owner, _ = db
    character = rendered_character(engine, store, owner)
    with engine.begin() as conn:
        _, (parent, child) = jobs.create_job(conn, actor=owner, character=character,
                                                   request=request(["sad"], ["blink"]))
    with pytest.raises(pipeline.NotReady):
        pipeline.run_difference(engine, store, OfflineBackend(), difference_id=child, threshold=70.0)
    with engine.begin() as conn:
        conn.execute(text("UPDATE differences SET status = 'failed', failure_reason = 'blocked' WHERE id = :i"),
                     {"i": parent})
    assert pipeline.run_difference(engine, store, OfflineBackend(), difference_id=child, threshold=70.0) == "failed"
    with engine.connect() as conn:
        reason = conn.execute(text("SELECT failure_reason FROM differences WHERE id = :i"), {"i": child}).scalar()
    assert "expression image could not be made" in reason


def test_custom_expressions_generate_with_their_borrowed_face(db) -> None:
    engine, store, owner, other = db
    character = rendered_character(engine, store, owner)
    with engine.begin() as conn:
        custom_expressions.add(conn, actor=owner, character_id=character.id, key="pout", label_en="Pout",
                               label_ja="ふくれっ面", prompt="puffed cheeks and a pouting mouth", intensity=2,
                               face="annoyance")
        with pytest.raises(InvalidInput, match="already has"):
            custom_expressions.add(conn, actor=owner, character_id=character.id, key="pout", label_en="Pout",
                                   label_ja="ふくれっ面", prompt="again", intensity=2, face="annoyance")
        chosen = custom_expressions.resolve(conn, actor=owner, character_id=character.id, keys=["pout", "happy"])
        with pytest.raises(NotFound):
            custom_expressions.of_character(conn, actor=other, character_id=character.id)
    _, items = generate_now(engine, store, OfflineBackend(), actor=owner, character_id=character.id,
                                       request=jobs.JobRequest(expressions=chosen, variants=[],
                                                                     backend="offline", model="offline",
                                                                     image_size="1K"))
    assert [(i.expression_key, i.status) for i in items] == [("pout", "done"), ("happy", "done")]
    rendered = characters.generate_base(FEATURES, size=SIZE)  # the borrowed face drawn directly
    from lib.render.portrait import render_portrait
    expected = render_portrait(FEATURES, expression=expressions.get("annoyance"), size=SIZE)
    assert np.array_equal(pixels(store, items[0].image_key), np.asarray(expected))
    assert rendered[1] == character.face_box


def test_other_users_jobs_and_characters_are_not_found(db) -> None:
    engine, store, owner, other = db
    character = rendered_character(engine, store, owner)
    job_id, _ = generate_now(engine, store, OfflineBackend(), actor=owner, character_id=character.id,
                                        request=request(["happy"]))
    with engine.connect() as conn:
        with pytest.raises(NotFound):
            jobs.job_differences(conn, actor=other, job_id=job_id)
        with pytest.raises(NotFound):
            jobs.job_differences(conn, actor=owner, job_id="not-a-job")
        with pytest.raises(NotFound):
            jobs.character_differences(conn, actor=other, character_id=character.id)
    with pytest.raises(NotFound):
        generate_now(engine, store, OfflineBackend(), actor=other, character_id=character.id,
                                request=request(["happy"]))
    with pytest.raises(InvalidInput, match="unknown variant"):
        generate_now(engine, store, OfflineBackend(), actor=owner, character_id=character.id,
                                request=request(["happy"], ["wink"]))


@pytest.fixture
def standin() -> Iterator[StandinServer]:
    with StandinServer(api_keys=["test-key"]) as server:
        yield server


def gemini(standin: StandinServer) -> GeminiBackend:
    return GeminiBackend(GeminiConfig(api_key="test-key", base_url=standin.base_url, timeout_ms=20_000,
                                      max_attempts=3, backoff_initial_s=0, backoff_max_s=0, backoff_jitter_s=0),
                         sleep=lambda _: None)


def test_gemini_through_the_standin_stores_images_and_costs(db, standin) -> None:
    engine, store, owner, _ = db
    character = rendered_character(engine, store, owner)
    standin.force("ok", "429", "ok", "image_safety")
    _, items = generate_now(
        engine, store, gemini(standin), actor=owner, character_id=character.id,
        request=request(["happy", "sad", "angry"], backend="gemini", model="gemini-3.1-flash-image"))
    happy, sad, angry = items
    assert happy.status == "done" and happy.cost_usd > 0 and len(happy.attempts) == 1
    assert sad.status == "done" and [a["outcome"] for a in sad.attempts] == ["http_429", "ok"]
    assert angry.status == "failed" and angry.failure_kind == "safety" and "IMAGE_SAFETY" in angry.failure_reason
    assert Image.open(io.BytesIO(store.get(happy.image_key))).format == "PNG"
    assert standin.stats()["total"] == 4


def test_an_unexpected_error_fails_the_item_and_refunds_it(db) -> None:
    engine, store, owner, _ = db
    character = rendered_character(engine, store, owner)
    with engine.begin() as conn:
        from lib.core.settings import load_settings
        from lib.generation import batches

        submitted = batches.submit(conn, actor=owner, character=character, request=request(["happy"]),
                                   settings=load_settings())
        conn.execute(text("UPDATE differences SET status = 'running' WHERE id = :i"),
                     {"i": submitted.difference_ids[0]})
    with engine.begin() as conn:
        pipeline.fail_difference(conn, difference_id=submitted.difference_ids[0], kind="internal_error",
                                 reason="boom")
        pipeline.fail_difference(conn, difference_id=submitted.difference_ids[0], kind="internal_error", reason="again")
        row = conn.execute(text("SELECT status, failure_reason FROM differences WHERE id = :i"),
                           {"i": submitted.difference_ids[0]}).one()
        released = conn.execute(text("SELECT count(*) FROM credit_transactions WHERE kind = 'release'")).scalar()
    assert tuple(row) == ("failed", "boom") and released == 1
