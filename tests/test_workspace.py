"""The generate workspace on real Postgres: context, choices, quotes and the batch to watch."""

import uuid

import pytest
from pydantic import SecretStr
from sqlalchemy import text

from lib.catalog import characters, custom_expressions
from lib.core.errors import NotFound
from lib.core.settings import load_settings
from lib.design import expressions
from lib.design.features import Features
from lib.generation import batches, jobs, workspace


@pytest.fixture
def settings(tmp_path):
    return load_settings(studio_home=tmp_path / "studio", worker_stall_seconds=30.0)


@pytest.fixture
def aoi(conn, store, make_user):
    """A free-plan member and their character."""
    owner = make_user(plan="free")
    image, box = characters.generate_base(Features(hair_color="#4060c0"), size=(96, 128))
    return owner, characters.create_character(conn, store, actor=owner, name="Aoi", image=image,
                                              source="generated", face_box=box)


def quote(conn, owner, character, settings, keys, variants=(), model="offline", size="1K", best_of=1):
    return workspace.quote(conn, actor=owner, character_id=character.id, keys=list(keys), variants=list(variants),
                           model=model, size=size, paste_back=False, best_of=best_of, settings=settings)


def test_context_lists_own_characters_usable_models_and_running_workers(conn, aoi, make_user, settings) -> None:
    owner, character = aoi
    context = workspace.generate_context(conn, actor=owner, settings=settings)
    assert [c.id for c in context.characters] == [character.id]
    assert (context.balance.available, context.balance.plan) == (30, "free")
    assert context.models == ["offline"]  # no Gemini without an API key
    assert context.workers_alive is False
    conn.execute(text("INSERT INTO procrastinate_workers DEFAULT VALUES"))  # a worker's first heartbeat
    keyed = settings.model_copy(update={"gemini_api_key": SecretStr("key")})
    context = workspace.generate_context(conn, actor=owner, settings=keyed)
    assert context.models == ["offline", "gemini-3.1-flash-lite-image"]  # what the free plan includes
    assert context.workers_alive is True
    assert workspace.generate_context(conn, actor=make_user(), settings=settings).characters == []


def test_expression_choices_are_the_library_then_the_characters_own(conn, aoi, make_user) -> None:
    owner, character = aoi
    custom_expressions.add(conn, actor=owner, character_id=character.id, key="victory_pose", label_en="Victory pose",
                           label_ja="勝利のポーズ", prompt="a proud victory grin", intensity=2, face="happy")
    choices = workspace.expression_choices(conn, actor=owner, character_id=character.id)
    assert choices == [*expressions.LIBRARY, "victory_pose"]
    with pytest.raises(NotFound):
        workspace.expression_choices(conn, actor=make_user(), character_id=character.id)


def test_a_quote_counts_images_and_credits_or_says_why_not(conn, aoi, settings) -> None:
    owner, character = aoi
    offline = quote(conn, owner, character, settings, ["happy", "sad"], ["blink"], best_of=3)
    assert (offline.images, offline.credits, offline.error) == (4, 4, None)
    assert offline.request is not None
    assert [e.key for e in offline.request.expressions] == ["happy", "sad"]
    assert (offline.request.backend, offline.request.variants, offline.request.paste_back,
            offline.request.best_of) == ("offline", ["blink"], False, 3)
    nothing = quote(conn, owner, character, settings, [])
    assert (nothing.images, nothing.credits, nothing.error) == (0, 0, None)
    gemini = quote(conn, owner, character, settings, ["happy"], ["mouth_open"], model="gemini-3.1-flash-image",
                   size="2K")
    assert (gemini.request.backend, gemini.images, gemini.credits) == ("gemini", 2, 6)  # priced, not yet plan-checked
    unknown = quote(conn, owner, character, settings, ["happy", "no_such_face"])
    assert (unknown.request, unknown.images, unknown.credits) == (None, 0, 0)
    assert "unknown expression 'no_such_face'" in str(unknown.error)
    unpriced = quote(conn, owner, character, settings, ["happy"], model="gemini-3.1-flash-image", size="8K")
    assert unpriced.request is None and "not offered" in str(unpriced.error)


def test_the_batch_shown_is_the_one_just_submitted_else_the_newest(conn, aoi, make_user, settings) -> None:
    owner, character = aoi
    assert workspace.latest_job(conn, actor=owner, character_id=character.id) is None
    requested = quote(conn, owner, character, settings, ["happy"], ["blink"]).request
    first = batches.submit(conn, actor=owner, character=character, request=requested, settings=settings)
    conn.execute(text("UPDATE generation_jobs SET created_at = created_at - interval '1 minute' WHERE id = :j"),
                 {"j": first.job_id})  # both were made in this one transaction: make the first one older
    second = batches.submit(conn, actor=owner, character=character, request=requested, settings=settings)
    assert workspace.latest_job(conn, actor=owner, character_id=character.id) == workspace.ShownBatch(
        job_id=second.job_id, open=True)
    batches.cancel(conn, actor=owner, job_id=first.job_id)
    assert workspace.latest_job(conn, actor=owner, character_id=character.id, submitted=first.job_id) == (
        workspace.ShownBatch(job_id=first.job_id, open=False))

    view = workspace.batch_view(conn, actor=owner, job_id=second.job_id)
    assert (view.progress.total, view.progress.open, view.finished, view.progress.status) == (2, 2, 0, "queued")
    assert [(d.expression_key, d.variant) for d in view.differences] == [("happy", None), ("happy", "blink")]
    stranger = make_user()
    with pytest.raises(NotFound):
        workspace.batch_view(conn, actor=stranger, job_id=second.job_id)
    with pytest.raises(NotFound):
        workspace.latest_job(conn, actor=stranger, character_id=character.id, submitted=second.job_id)


def test_limits_show_before_the_click_what_plan_and_balance_allow(conn, aoi, settings) -> None:
    owner, character = aoi
    fits = quote(conn, owner, character, settings, ["happy", "sad"])
    assert (fits.blocked, fits.parts, fits.button_label) == (None, [], "Generate 2 images")
    over = quote(conn, owner, character, settings, list(expressions.PRESETS["visual_novel"]), ["blink"])
    assert over.images > 12 and over.request is not None
    assert "at most 12 images per batch" in over.blocked and "split it into" in over.blocked
    assert sum(over.parts) == over.images and max(over.parts) <= 12
    assert over.split_label.startswith(f"Generate as {len(over.parts)} batches (12 + ")
    plan = quote(conn, owner, character, settings, ["happy"], model="gemini-3.1-flash-image", size="1K")
    assert "does not include gemini-3.1-flash-image" in plan.blocked and plan.parts == []
    assert quote(conn, owner, character, settings, []).blocked == "Choose at least one expression."
    conn.execute(text("UPDATE user_credits SET available = 0 WHERE user_id = :u"), {"u": owner.id})
    broke = quote(conn, owner, character, settings, ["happy"])
    assert broke.blocked.startswith("Not enough credits: this needs 1 and you have 0.")


def test_a_batch_over_the_plans_limit_splits_into_batches_all_submitted_together(conn, aoi, settings) -> None:
    owner, character = aoi
    request = quote(conn, owner, character, settings, list(expressions.PRESETS["visual_novel"]), ["blink"]).request
    parts = batches.split(request, max_images=12)
    assert [len(p.expressions) * 2 for p in parts] == [12] * (len(request.expressions) // 6) + (
        [len(request.expressions) % 6 * 2] if len(request.expressions) % 6 else [])
    assert [e.key for p in parts for e in p.expressions] == [e.key for e in request.expressions]
    submitted = batches.submit_split(conn, actor=owner, character=character, request=request, settings=settings)
    history = workspace.batch_history(conn, actor=owner, character_id=character.id)
    assert {h.job_id for h in history} == {s.job_id for s in submitted}
    lines = {(h.items, h.status, h.made_by, tuple(h.variants)) for h in history}
    assert (12, "queued", owner.email, ("blink",)) in lines


def test_history_lines_and_review_rows_group_variants_by_expression(conn, aoi, settings) -> None:
    owner, character = aoi
    request = quote(conn, owner, character, settings, list(expressions.PRESETS["basic"]), ["mouth_open"]).request
    batches.submit(conn, actor=owner, character=character, request=request, settings=settings)
    (line,) = workspace.batch_history(conn, actor=owner, character_id=character.id)
    picked = (line.preset, line.variants, line.model, line.done, line.items, line.credits, line.status)
    assert picked == ("basic", ["mouth_open"], "offline", 0, 10, 0, "queued")  # what the picker's line says
    view = workspace.batch_view(conn, actor=owner, job_id=line.job_id)
    columns, rows = workspace.review_rows(view.differences)
    assert columns == [None, "mouth_open"]
    assert [r.expression_key for r in rows] == list(expressions.PRESETS["basic"])
    assert all([s.variant for s in r.slots] == [None, "mouth_open"] for r in rows)
    assert all(s.chosen is None for r in rows for s in r.slots)  # nothing made yet


def test_the_attempt_in_use_is_the_approved_one_else_the_best_scoring_never_a_rejected_one() -> None:
    def attempt(n: int, score: float, review: str = "pending", status: str = "done") -> jobs.Difference:
        return jobs.Difference(id=uuid.uuid4(), expression_key="happy", variant=None, status=status, review=review,
                               image_key="k.png", failure_reason=None, failure_kind=None, cost_usd=0.0,
                               cost_credits=1, attempts=[], score=score, score_parts=None, backend="offline",
                               model="offline", image_size="1K", attempt=n)

    one, two, three = attempt(1, 80), attempt(2, 90), attempt(3, 90)
    assert workspace.Slot(variant=None, attempts=[one, two, three]).chosen is three  # the newer of equals
    picked = attempt(1, 10, review="approved")
    assert workspace.Slot(variant=None, attempts=[picked, two]).chosen is picked
    refused = attempt(2, 99, review="rejected")
    assert workspace.Slot(variant=None, attempts=[one, refused, attempt(3, 0, status="failed")]).chosen is one
