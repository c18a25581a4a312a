"""Batches on real workers: one-transaction submits, overspend-proof holds, kills and faults."""

import os
import signal
import threading
import time
import uuid

import pytest
from pydantic import SecretStr
from sqlalchemy import text

from devtools.gemini_standin import StandinServer
from lib.accounts import users
from lib.backends.offline import OfflineBackend
from lib.catalog import characters
from lib.core import migrations
from lib.core.errors import InvalidInput, NotFound
from lib.credits import ledger
from lib.design import expressions
from lib.design.features import Features
from lib.generation import batches, jobs, pipeline
from lib.generation.enqueue import GENERATE_TASK
from lib.generation.runtime import Runtime
from lib.worker.app import app as worker_app
from lib.worker.process import one_thread_per_call
from tests.conftest import PASSWORD

SIZE = (160, 208)


def make_member(engine, plan="basic", email=None):
    with engine.begin() as conn:
        return users.create_user(conn, email=email or f"m{uuid.uuid4().hex[:8]}@example.com", password=PASSWORD,
                                 plan=plan)


def make_character(studio, owner):
    image, box = characters.generate_base(Features(hair_color="#4060c0"), size=SIZE)
    with studio.engine.begin() as conn:
        return characters.create_character(conn, studio.store, actor=owner, name="Aoi", image=image,
                                           source="generated", face_box=box)


def job_request(keys, variants=(), backend="offline", model="offline", size="1K"):
    return jobs.JobRequest(expressions=[expressions.get(k) for k in keys], variants=list(variants),
                                 backend=backend, model=model, image_size=size)


def submit(studio, owner, character, request):
    with studio.engine.begin() as conn:
        return batches.submit(conn, actor=owner, character=character, request=request, settings=studio.settings)


def count(engine, sql, **params) -> int:
    with engine.connect() as conn:
        return conn.execute(text(sql), params).scalar_one()


def test_a_submit_creates_job_items_holds_and_tasks_together(studio) -> None:
    owner = make_member(studio.engine)
    character = make_character(studio, owner)
    done = submit(studio, owner, character, job_request(["happy", "sad"], ["blink"]))
    assert done.credits_held == 4 and len(done.difference_ids) == 4
    assert count(studio.engine, "SELECT count(*) FROM differences WHERE job_id = :j AND status = 'queued'",
                 j=done.job_id) == 4
    assert count(studio.engine, "SELECT count(*) FROM credit_transactions WHERE job_id = :j AND kind = 'hold'",
                 j=done.job_id) == 4
    with studio.engine.connect() as conn:
        locks = conn.execute(text("SELECT args->>'difference_id', lock FROM procrastinate_jobs ORDER BY id")).all()
    parents = {str(i): str(i) for i in done.difference_ids[::2]}
    ids = done.difference_ids
    assert [lock for _, lock in locks] == [parents[str(ids[0])]] * 2 + [parents[str(ids[2])]] * 2
    with studio.engine.connect() as conn:
        b = ledger.balance(conn, user_id=owner.id)
    assert (b.available, b.held) == (296, 4)


def test_a_failed_submit_leaves_nothing_behind(studio, monkeypatch) -> None:
    owner = make_member(studio.engine, plan="free")
    character = make_character(studio, owner)
    with studio.engine.begin() as conn:
        ledger.adjust(conn, user_id=owner.id, amount=-25, reason="leave 5", key="leave-5", actor_id=None)
    with pytest.raises(ledger.InsufficientCredits, match="needs 12, 5 available"):
        submit(studio, owner, character, job_request(list(expressions.PRESETS["sillytavern"])[:6], ["blink"]))

    def broken(*args, **kwargs):
        raise RuntimeError("the queue is down")

    monkeypatch.setattr(batches, "enqueue_differences", broken)
    with pytest.raises(RuntimeError):
        submit(studio, owner, character, job_request(["happy"]))
    for table in ("generation_jobs", "differences", "procrastinate_jobs"):
        assert count(studio.engine, f"SELECT count(*) FROM {table}") == 0
    assert count(studio.engine, "SELECT count(*) FROM credit_transactions WHERE kind = 'hold'") == 0
    with studio.engine.connect() as conn:
        assert ledger.balance(conn, user_id=owner.id).available == 5


def test_plans_limit_models_sizes_and_batch_size(studio) -> None:
    owner = make_member(studio.engine, plan="free")
    character = make_character(studio, owner)
    with pytest.raises(InvalidInput, match="does not include gemini-3-pro-image"):
        submit(studio, owner, character, job_request(["happy"], backend="gemini", model="gemini-3-pro-image"))
    with pytest.raises(InvalidInput, match="does not include 2K"):
        submit(studio, owner, character, job_request(["happy"], backend="gemini",
                                                     model="gemini-3.1-flash-lite-image", size="2K"))
    with pytest.raises(InvalidInput, match="allows 12 per batch"):
        submit(studio, owner, character, job_request(list(expressions.PRESETS["visual_novel"]), ["blink"]))


def test_cancel_releases_the_holds_of_items_not_yet_generated(studio) -> None:
    owner = make_member(studio.engine)
    character = make_character(studio, owner)
    done = submit(studio, owner, character, job_request(["happy", "sad", "angry"]))
    pipeline.run_difference(studio.engine, studio.store, OfflineBackend(),
        difference_id=done.difference_ids[0], threshold=70.0)
    with studio.engine.begin() as conn:
        assert batches.cancel(conn, actor=owner, job_id=done.job_id) == batches.Cancelled(
            images=2, credits=2, still_running=0)
    with studio.engine.begin() as conn, pytest.raises(InvalidInput, match="already ended"):
        batches.cancel(conn, actor=owner, job_id=done.job_id)
    with studio.engine.connect() as conn:
        b = ledger.balance(conn, user_id=owner.id)
        assert (b.available, b.held, b.used_this_period) == (299, 0, 1)
        progress = batches.progress(conn, actor=owner, job_id=done.job_id)
        assert (progress.status, progress.done, progress.cancelled) == ("cancelled", 1, 2)
    # a task delivered after the cancel leaves the item alone
    assert pipeline.run_difference(studio.engine, studio.store, OfflineBackend(),
        difference_id=done.difference_ids[1], threshold=70.0) == "cancelled"


def test_cancel_at_nothing_finished_refunds_every_credit_even_of_items_a_worker_claimed(studio) -> None:
    """A worker claims several offline items at once; none has cost anything, so cancel stops them all."""
    owner = make_member(studio.engine)
    character = make_character(studio, owner)
    offline = submit(studio, owner, character, job_request(["happy", "sad", "angry", "surprised", "neutral"]))
    gemini = submit(studio, owner, character, job_request(["happy", "sad"], backend="gemini",
                                                          model="gemini-3.1-flash-image", size="2K"))
    with studio.engine.begin() as conn:
        conn.execute(text("UPDATE differences SET status = 'running', started_at = now() WHERE id = ANY(:ids)"),
                     {"ids": [*offline.difference_ids[:3], gemini.difference_ids[0]]})
        assert batches.cancel(conn, actor=owner, job_id=offline.job_id) == batches.Cancelled(
            images=5, credits=5, still_running=0)
        # a Gemini call in flight is already paid for: it finishes and is charged; the queued one is refunded
        assert batches.cancel(conn, actor=owner, job_id=gemini.job_id) == batches.Cancelled(
            images=1, credits=3, still_running=1)
    with studio.engine.connect() as conn:
        b = ledger.balance(conn, user_id=owner.id)
    assert (b.available, b.held) == (300 - 3, 3)
    # the worker that claimed an offline item finds it cancelled after drawing: nothing stored, nothing charged
    assert pipeline.run_difference(studio.engine, studio.store, OfflineBackend(),
        difference_id=offline.difference_ids[0], threshold=70.0) == "cancelled"
    assert not studio.store.list(f"characters/{owner.id}/{character.id}/diffs/")


def test_regenerate_adds_a_paid_attempt_to_the_same_slot_of_the_batch(studio) -> None:
    owner = make_member(studio.engine)
    character = make_character(studio, owner)
    first = submit(studio, owner, character, job_request(["happy", "sad"], ["blink"], backend="gemini",
                                                         model="gemini-3.1-flash-image", size="2K"))
    with studio.engine.begin() as conn:
        conn.execute(text("UPDATE differences SET status = 'done', image_key = 'k.png' WHERE job_id = :j"),
                     {"j": first.job_id})
        made = {(d.expression_key, d.variant): d for d in jobs.job_differences(conn, actor=owner, job_id=first.job_id)}
        sad_again = batches.regenerate(conn, actor=owner, difference_id=made[("sad", None)].id,
                                       settings=studio.settings)
        jobs.set_review(conn, actor=owner, difference_id=made[("sad", None)].id, review="approved")
        blink_again = batches.regenerate(conn, actor=owner, difference_id=made[("sad", "blink")].id,
                                         settings=studio.settings)
    assert sad_again.job_id == blink_again.job_id == first.job_id
    assert (sad_again.credits_held, sad_again.credits_per_image) == (3, 3)  # 2K flash: 3 each
    with studio.engine.connect() as conn:
        items = jobs.job_differences(conn, actor=owner, job_id=first.job_id)
        b = ledger.balance(conn, user_id=owner.id)
        parent = conn.execute(text("SELECT parent_id FROM differences WHERE id = :d"),
                              {"d": blink_again.difference_ids[0]}).scalar_one()
        status = batches.progress(conn, actor=owner, job_id=first.job_id).status
    assert [(d.expression_key, d.variant, d.attempt, d.status) for d in items] == [
        ("happy", None, 1, "done"), ("happy", "blink", 1, "done"), ("sad", None, 1, "done"),
        ("sad", None, 2, "queued"), ("sad", "blink", 1, "done"), ("sad", "blink", 2, "queued")]
    assert parent == made[("sad", None)].id  # the variant is made from the approved expression attempt
    assert (b.available, b.held, status) == (300 - 12 - 6, 18, "running")
    assert count(studio.engine, "SELECT count(*) FROM procrastinate_jobs") == 4 + 2
    stranger = make_member(studio.engine)
    with studio.engine.begin() as conn, pytest.raises(NotFound):  # someone else's image
        batches.regenerate(conn, actor=stranger, difference_id=made[("happy", None)].id, settings=studio.settings)


def test_picking_an_attempt_unapproves_the_others_and_undo_puts_them_back(studio) -> None:
    owner = make_member(studio.engine)
    character = make_character(studio, owner)
    first = submit(studio, owner, character, job_request(["happy"]))
    with studio.engine.begin() as conn:
        conn.execute(text("UPDATE differences SET status = 'done', image_key = 'k.png' WHERE job_id = :j"),
                     {"j": first.job_id})
        one = first.difference_ids[0]
        two = batches.regenerate(conn, actor=owner, difference_id=one, settings=studio.settings).difference_ids[0]
        conn.execute(text("UPDATE differences SET status = 'done', image_key = 'k2.png' WHERE id = :d"), {"d": two})
        jobs.set_review(conn, actor=owner, difference_id=one, review="approved")
        changes = jobs.set_review(conn, actor=owner, difference_id=two, review="approved")
        reviews = dict(conn.execute(text("SELECT id, review FROM differences WHERE job_id = :j"),
                                    {"j": first.job_id}).all())
        assert (reviews[one], reviews[two]) == ("pending", "approved")
        assert changes == [(two, "pending"), (one, "approved")]
        jobs.undo_review(conn, actor=owner, changes=changes)
        reviews = dict(conn.execute(text("SELECT id, review FROM differences WHERE job_id = :j"),
                                    {"j": first.job_id}).all())
        assert (reviews[one], reviews[two]) == ("approved", "pending")


def test_an_offline_rerun_varies_and_an_identical_one_is_not_charged(studio) -> None:
    owner = make_member(studio.engine)
    character = make_character(studio, owner)
    first = submit(studio, owner, character, job_request(["happy"]))
    run = lambda d: pipeline.run_difference(studio.engine, studio.store, OfflineBackend(),  # noqa: E731
                                            difference_id=d, threshold=70.0)
    assert run(first.difference_ids[0]) == "done"
    with studio.engine.begin() as conn:  # "make it again": another take, a different image, charged
        again = batches.regenerate(conn, actor=owner, difference_id=first.difference_ids[0], settings=studio.settings)
    assert run(again.difference_ids[0]) == "done"
    same = submit(studio, owner, character, job_request(["happy"]))  # a new batch draws take 1 again: identical
    assert same.credits_held == 1  # held like any image, until the image shows it is the same
    assert run(same.difference_ids[0]) == "done"
    with studio.engine.connect() as conn:
        b = ledger.balance(conn, user_id=owner.id)
        attempts = jobs.job_differences(conn, actor=owner, job_id=first.job_id)
        repeat = jobs.job_differences(conn, actor=owner, job_id=same.job_id)
    images = [studio.store.get(d.image_key) for d in (*attempts, *repeat)]
    assert images[0] != images[1] and images[0] == images[2]
    assert [d.cost_credits for d in (*attempts, *repeat)] == [1, 1, 0]
    assert (b.available, b.held, b.used_this_period) == (298, 0, 2)
    thumbs = [k for k in studio.store.list(f"characters/{owner.id}/{character.id}/diffs/") if k.endswith(".thumb.webp")]
    assert len(thumbs) == 3  # a thumbnail beside each stored image


def test_32_concurrent_submissions_never_overspend(studio) -> None:
    owner = make_member(studio.engine, plan="free")
    character = make_character(studio, owner)
    with studio.engine.begin() as conn:
        ledger.adjust(conn, user_id=owner.id, amount=-20, reason="leave 10", key="leave-10", actor_id=None)
    start, results = threading.Barrier(32), []

    def one() -> None:
        start.wait()
        try:
            results.append(submit(studio, owner, character, job_request(["happy"])))
        except ledger.InsufficientCredits:
            results.append(None)

    threads = [threading.Thread(target=one) for _ in range(32)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    accepted = [r for r in results if r is not None]
    assert len(results) == 32 and len(accepted) == 10
    with studio.engine.connect() as conn:
        b = ledger.balance(conn, user_id=owner.id)
        assert (b.available, b.held) == (0, 10)
    for submitted in accepted:
        pipeline.run_difference(studio.engine, studio.store, OfflineBackend(),
            difference_id=submitted.difference_ids[0], threshold=70.0)
    with studio.engine.connect() as conn:
        b = ledger.balance(conn, user_id=owner.id)
        # the offline renderer drew the same image ten times: only the first is charged, the rest are refunded
        assert (b.available, b.held, b.used_this_period) == (9, 0, 1)
        assert ledger.ledger_sums(conn, user_id=owner.id) == (b.available, b.held)


def wait_for(predicate, timeout: float, what: str, logs=lambda: "") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}\n{logs()}")


def test_a_worker_process_generates_a_batch(studio) -> None:
    owner = make_member(studio.engine)
    character = make_character(studio, owner)
    studio.start_worker()
    done = submit(studio, owner, character, job_request(["happy", "sad", "surprised"], ["mouth_open"]))
    final = batches.wait(studio.engine, actor=owner, job_id=done.job_id, settings=studio.settings, timeout=60)
    assert (final.done, final.failed, final.status) == (6, 0, "done")
    with studio.engine.connect() as conn:
        b = ledger.balance(conn, user_id=owner.id)
    assert (b.held, b.used_this_period) == (0, 6)


def test_two_items_ending_at_once_end_their_job(studio) -> None:
    """The last two items of a job, each ending in its own transaction while the other is uncommitted: the
    job must end. Each refresh had counted the other item as still open, and the job stayed 'running'."""
    owner = make_member(studio.engine)
    character = make_character(studio, owner)
    submitted = submit(studio, owner, character, job_request(["happy", "sad"]))
    ended = "UPDATE differences SET status = 'done', image_key = 'k', finished_at = now() WHERE id = :id"
    with studio.engine.connect() as conn:
        first, second = conn.execute(text("SELECT id FROM differences WHERE job_id = :job ORDER BY position"),
                                     {"job": submitted.job_id}).scalars().all()

    def end_second() -> None:
        with studio.engine.begin() as conn:
            conn.execute(text(ended), {"id": second})
            pipeline.refresh_job_status(conn, job_id=submitted.job_id)

    with studio.engine.begin() as conn:
        conn.execute(text(ended), {"id": first})
        pipeline.refresh_job_status(conn, job_id=submitted.job_id)
        other = threading.Thread(target=end_second)
        other.start()
        for _ in range(200):  # until the other transaction waits on this one's lock of the job
            if count(studio.engine, "SELECT count(*) FROM pg_locks WHERE NOT granted") and other.is_alive():
                break
            time.sleep(0.05)
        else:
            raise AssertionError("the second item's transaction never waited for the first")
    other.join(timeout=30)
    assert not other.is_alive()
    with studio.engine.connect() as conn:
        status = conn.execute(text("SELECT status FROM generation_jobs WHERE id = :job"),
                              {"job": submitted.job_id}).scalar_one()
    assert status == "done"


def test_the_migration_ends_jobs_left_running_with_every_item_ended(studio) -> None:
    owner = make_member(studio.engine)
    character = make_character(studio, owner)
    stuck = submit(studio, owner, character, job_request(["happy", "sad"]))
    open_job = submit(studio, owner, character, job_request(["angry"]))
    repair = (migrations.MIGRATIONS_DIR / "0019_end_jobs_left_running.sql").read_text()
    with studio.engine.begin() as conn:
        conn.execute(text("UPDATE differences SET status = 'done', image_key = 'k', finished_at = now() "
                          "WHERE job_id = :job"), {"job": stuck.job_id})
        conn.execute(text("UPDATE generation_jobs SET status = 'running' WHERE id = :job"), {"job": stuck.job_id})
        migrations.run_script(conn, repair)
        ended = dict(conn.execute(text("SELECT id, status FROM generation_jobs WHERE id IN (:a, :b)"),
                                  {"a": stuck.job_id, "b": open_job.job_id}).all())
        told = conn.execute(text("SELECT outcome, done FROM notifications WHERE job_id = :job"),
                            {"job": stuck.job_id}).all()
    assert ended == {stuck.job_id: "done", open_job.job_id: "queued"}  # a job with an item still open stays
    assert [tuple(t) for t in told] == [("done", 2)]


def test_jobs_queued_under_the_old_task_names_still_run(studio) -> None:
    """Jobs an older studio queued as `generate_item(item_id=…)` are run by today's worker and charged once."""
    owner = make_member(studio.engine)
    character = make_character(studio, owner)
    done = submit(studio, owner, character, job_request(["happy", "sad"]))
    with studio.engine.begin() as conn:
        renamed = conn.execute(text(
            "UPDATE procrastinate_jobs SET task_name = 'generate_item', "
            "args = jsonb_build_object('item_id', args->'difference_id', 'job_id', args->'job_id') "
            "WHERE task_name = :name RETURNING id"), {"name": GENERATE_TASK}).all()
    assert len(renamed) == 2
    assert {"generate_item", "monthly_resets", "refresh_rollup", "billing_reconcile", "retry_stalled_jobs"} <= set(
        worker_app.tasks)
    studio.start_worker()
    final = batches.wait(studio.engine, actor=owner, job_id=done.job_id, settings=studio.settings, timeout=60)
    assert (final.done, final.failed) == (2, 0)
    with studio.engine.connect() as conn:
        assert ledger.balance(conn, user_id=owner.id).used_this_period == 2
        names = conn.execute(text("SELECT DISTINCT task_name FROM procrastinate_jobs WHERE status = 'succeeded' "
                                  "AND task_name LIKE '%item%'")).scalars().all()
    assert names == ["generate_item"]


def test_waiting_without_a_worker_says_so(studio) -> None:
    owner = make_member(studio.engine)
    character = make_character(studio, owner)
    done = submit(studio, owner, character, job_request(["happy"]))
    with pytest.raises(batches.NoWorker, match="No worker is running"):
        batches.wait(studio.engine, actor=owner, job_id=done.job_id, settings=studio.settings, timeout=5)


def gemini_env(standin: StandinServer) -> dict[str, str]:
    return {"GEMINI_API_KEY": "test-key", "GEMINI_BASE_URL": standin.base_url, "GEMINI_TIMEOUT_MS": "20000",
            "GEMINI_MAX_ATTEMPTS": "3", "WORKER_CONCURRENCY": "1", "GEMINI_IMAGES_PER_MINUTE": "600"}


def test_a_worker_killed_mid_task_loses_nothing_and_charges_once(studio) -> None:
    owner = make_member(studio.engine)
    character = make_character(studio, owner)
    with StandinServer(api_keys=["test-key"]) as standin:
        standin.configure(latency_s=4.0)
        first = studio.start_worker(**gemini_env(standin))
        done = submit(studio, owner, character, job_request(["happy"], backend="gemini",
                                                            model="gemini-3.1-flash-image", size="1K"))
        item = done.difference_ids[0]
        wait_for(lambda: standin.stats()["total"] >= 1, 30, "the first worker to call the model", studio.logs)
        os.kill(first.pid, signal.SIGKILL)
        first.wait()
        standin.configure(latency_s=0.0)
        studio.start_worker(**gemini_env(standin))
        wait_for(lambda: count(studio.engine, "SELECT count(*) FROM differences WHERE id = :i AND status = 'done'",
                               i=item) == 1, 60, "the item to complete on another worker", studio.logs)
        assert standin.stats()["total"] >= 2
    assert count(studio.engine, "SELECT count(*) FROM credit_transactions WHERE difference_id = :i "
                 "AND kind = 'capture'", i=item) == 1
    with studio.engine.connect() as conn:
        b = ledger.balance(conn, user_id=owner.id)
    assert (b.held, b.used_this_period) == (0, 2)


def test_thirty_percent_faults_every_item_ends_and_failures_are_refunded(studio) -> None:
    owner = make_member(studio.engine, plan="basic")
    character = make_character(studio, owner)
    keys = list(expressions.PRESETS["sillytavern"])[:20]
    with StandinServer(api_keys=["test-key"]) as standin:
        standin.configure(fault_429=0.1, fault_503=0.1, fault_image_safety=0.05, fault_text_only=0.05, seed=3)
        studio.start_worker(**gemini_env(standin) | {"WORKER_CONCURRENCY": "4"})
        done = submit(studio, owner, character, job_request(keys, ["blink"], backend="gemini",
                                                            model="gemini-3.1-flash-image", size="1K"))
        final = batches.wait(studio.engine, actor=owner, job_id=done.job_id, settings=studio.settings, timeout=120)
    assert final.total == 40 and final.open == 0 and final.done + final.failed == 40
    assert final.failed > 0 and final.done > 0
    refunded = count(studio.engine, "SELECT count(*) FROM credit_transactions WHERE job_id = :j AND kind = 'release'",
                     j=done.job_id)
    captured = count(studio.engine, "SELECT count(*) FROM credit_transactions WHERE job_id = :j AND kind = 'capture'",
                     j=done.job_id)
    assert (refunded, captured) == (final.failed, final.done)
    with studio.engine.connect() as conn:
        b = ledger.balance(conn, user_id=owner.id)
        assert b.held == 0 and b.used_this_period == 2 * final.done
        assert ledger.ledger_sums(conn, user_id=owner.id) == (b.available, b.held)


def test_best_of_n_retries_low_scores_and_charges_every_attempt(studio) -> None:
    owner = make_member(studio.engine)
    character = make_character(studio, owner)

    def unchanged(base_png: bytes, prompt: str, width: int, height: int) -> bytes:
        return base_png  # a model that hands the base back: the face did not change

    with StandinServer(api_keys=["test-key"], render=unchanged) as standin:
        studio.start_worker(**gemini_env(standin))
        request = job_request(["happy"], backend="gemini", model="gemini-3.1-flash-image", size="1K")
        done = submit(studio, owner, character, jobs.JobRequest(**{**request.__dict__, "best_of": 3}))
        wait_for(lambda: count(studio.engine, "SELECT count(*) FROM differences WHERE job_id = :j AND status = 'done'",
                               j=done.job_id) == 3, 60, "three attempts", studio.logs)
        final = batches.wait(studio.engine, actor=owner, job_id=done.job_id, settings=studio.settings, timeout=60)
        assert standin.stats()["generate"] == 3
    assert (final.total, final.done, final.status) == (3, 3, "done")
    with studio.engine.connect() as conn:
        rows = conn.execute(text("SELECT attempt, score, score_parts->'flags' FROM differences "
                                 "WHERE job_id = :j ORDER BY attempt"), {"j": done.job_id}).all()
        b = ledger.balance(conn, user_id=owner.id)
    assert [r.attempt for r in rows] == [1, 2, 3]
    assert all(r.score < 70 and "unchanged_face" in r[2] for r in rows)
    assert (b.held, b.used_this_period) == (0, 3 * 2)  # every attempt charged (2 credits at 1K)


def test_an_item_that_cannot_run_is_failed_and_refunded_not_stuck(studio) -> None:
    owner = make_member(studio.engine)
    character = make_character(studio, owner)
    done = submit(studio, owner, character, job_request(["happy"]))
    studio.store.delete_prefix(f"characters/{owner.id}/{character.id}/base/")  # the base vanished from storage
    studio.start_worker()
    final = batches.wait(studio.engine, actor=owner, job_id=done.job_id, settings=studio.settings, timeout=60)
    assert (final.failed, final.open) == (1, 0)
    with studio.engine.connect() as conn:
        reason = conn.execute(text("SELECT failure_reason FROM differences WHERE job_id = :j"),
                              {"j": done.job_id}).scalar()
        b = ledger.balance(conn, user_id=owner.id)
    assert "could not finish this image (NotFound)" in reason
    assert (b.held, b.used_this_period) == (0, 0)


def test_a_worker_builds_its_backends_before_taking_tasks(studio) -> None:
    """The Gemini SDK import takes seconds; a worker pays it at start, not inside the first batch's tasks."""
    with StandinServer(api_keys=["key"]) as standin:
        configured = Runtime(studio.settings.model_copy(update={"gemini_api_key": SecretStr("key"),
                                                                     "gemini_base_url": standin.base_url}))
        assert configured.warm() == ["offline", "gemini"]
        assert configured.backend("gemini") is configured.backend("gemini")  # built once, reused by every task
    assert Runtime(studio.settings.model_copy(update={"gemini_api_key": None})).warm() == ["offline"]


def test_a_worker_keeps_blas_and_opencv_to_one_thread_per_call() -> None:
    import cv2
    import threadpoolctl

    before = cv2.getNumThreads()
    limits = one_thread_per_call()
    try:
        assert cv2.getNumThreads() == 1
        assert {pool["num_threads"] for pool in threadpoolctl.threadpool_info() if pool["user_api"] == "blas"} == {1}
    finally:
        limits.restore_original_limits()
        cv2.setNumThreads(before)


def test_a_worker_without_gemini_configured_does_not_import_its_sdk(studio) -> None:
    """The zero-configuration studio starts its worker beside the web app: no seconds spent on an unused SDK."""
    import subprocess
    import sys

    code = ("import sys\nfrom lib.core import settings\nfrom lib.generation.runtime import Runtime\n"
            "assert Runtime(settings.get_settings()).warm() == ['offline']\n"
            "print('google.genai' in sys.modules)")
    env = {k: v for k, v in studio.env.items() if not k.startswith("GEMINI_")}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120,
                         cwd=os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "False"
