"""Economy batches end to end: real Postgres, the real google-genai SDK against the stand-in's Batch API."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from decimal import Decimal

import pytest
from sqlalchemy import text

from devtools.gemini_standin import StandinServer
from lib.accounts import users
from lib.backends.gemini import GeminiConfig
from lib.backends.gemini_batch import GeminiBatchClient
from lib.catalog import characters
from lib.core.errors import InvalidInput
from lib.credits import ledger
from lib.design import expressions
from lib.design.features import Features
from lib.generation import batches, economy, jobs
from tests.conftest import PASSWORD

MODEL = "gemini-3.1-flash-image"
SIZE = (160, 208)
STANDARD_USD_1K = Decimal("0.0672")  # 1120 image tokens x $60 per 1M: the stand-in meters like the API


@pytest.fixture
def standin() -> Iterator[StandinServer]:
    with StandinServer(api_keys=["test-key"]) as server:
        yield server


@pytest.fixture
def client(standin: StandinServer) -> Iterator[GeminiBatchClient]:
    batch_client = GeminiBatchClient(GeminiConfig(api_key="test-key", base_url=standin.base_url, timeout_ms=20_000),
                                     price_percent=50)
    yield batch_client
    batch_client.close()


def member(studio, plan: str = "basic") -> users.User:
    with studio.engine.begin() as conn:
        return users.create_user(conn, email=f"e{uuid.uuid4().hex[:8]}@example.com", password=PASSWORD, plan=plan)


def character_of(studio, owner) -> characters.Character:
    image, box = characters.generate_base(Features(hair_color="#c04080"), size=SIZE)
    with studio.engine.begin() as conn:
        return characters.create_character(conn, studio.store, actor=owner, name="Hana", image=image,
                                           source="generated", face_box=box)


def economy_request(keys: list[str], *, variants: tuple[str, ...] = (), best_of: int = 1) -> jobs.JobRequest:
    return jobs.JobRequest(expressions=[expressions.get(k) for k in keys], variants=list(variants), backend="gemini",
                           model=MODEL, image_size="1K", tier="economy", best_of=best_of)


def submit(studio, owner, character, request) -> batches.Submitted:
    with studio.engine.begin() as conn:
        return batches.submit(conn, actor=owner, character=character, request=request, settings=studio.settings)


def rows(engine, sql: str, **params) -> list:
    with engine.connect() as conn:
        return conn.execute(text(sql), params).all()


def balance(studio, owner) -> tuple[int, int]:
    with studio.engine.connect() as conn:
        b = ledger.balance(conn, user_id=owner.id)
    return b.available, b.held


def finish_taken_over(studio, job_id) -> list[str]:
    """What the generation tasks queued by the poll do: post-process each taken-over answer."""
    queued = [r.id for r in rows(studio.engine, "SELECT id FROM differences WHERE job_id = :j AND status = 'queued' "
                                                "AND batch_answer IS NOT NULL ORDER BY position", j=job_id)]
    return [economy.finish_item(studio.engine, studio.store, difference_id=i, threshold=60.0) for i in queued]


class WorkerKilled(Exception):
    pass


def test_twenty_items_two_blocked_one_text_only_and_a_worker_killed_mid_poll(studio, standin, client) -> None:
    owner = member(studio)
    character = character_of(studio, owner)
    keys = list(expressions.LIBRARY)[:20]
    outcomes = ["ok"] * 20
    outcomes[3] = outcomes[11] = "image_safety"
    outcomes[7] = "text_only"
    standin.configure(batch_delay_s=0.5)
    standin.force(*outcomes)

    submitted = submit(studio, owner, character, economy_request(keys))
    assert submitted.credits_per_image == 1 and submitted.credits_held == 20  # standard 1K is 2 credits
    assert balance(studio, owner) == (280, 20)
    assert [r.task_name for r in rows(studio.engine, "SELECT task_name FROM procrastinate_jobs")] == [
        economy.SUBMIT_TASK]  # no per-item tasks: one Batch API job carries them

    gemini_batch_id = economy.submit_wave(studio.engine, studio.store, client, job_id=submitted.job_id,
                                          poll_seconds=60)
    assert gemini_batch_id is not None
    assert economy.poll(studio.engine, studio.store, client, gemini_batch_id=gemini_batch_id,
                        poll_seconds=60).state in ("JOB_STATE_PENDING", "JOB_STATE_RUNNING")
    [(name, submitted_at)] = rows(studio.engine, "SELECT name, submitted_at FROM gemini_batches")
    assert name.startswith("batches/") and submitted_at is not None
    standin.engine.batches[name].created -= 1  # let the batch delay pass without sleeping

    def killed_after_eight(item_id) -> None:
        taken = rows(studio.engine, "SELECT count(*) FROM differences WHERE job_id = :j AND "
                                    "(batch_answer IS NOT NULL OR status = 'failed')", j=submitted.job_id)[0][0]
        if taken >= 8:
            raise WorkerKilled

    with pytest.raises(WorkerKilled):
        economy.poll(studio.engine, studio.store, client, gemini_batch_id=gemini_batch_id, poll_seconds=60,
                     on_item=killed_after_eight)
    # Another worker picks the job up again (its row says it is not resolved) and finishes it, once.
    again = economy.poll(studio.engine, studio.store, client, gemini_batch_id=gemini_batch_id, poll_seconds=60)
    assert again.state == "JOB_STATE_SUCCEEDED" and again.taken_over == 12
    assert economy.poll(studio.engine, studio.store, client, gemini_batch_id=gemini_batch_id,
                        poll_seconds=60).state == "resolved"
    generate_tasks = rows(studio.engine, "SELECT args->>'difference_id' FROM procrastinate_jobs "
                                         "WHERE task_name = 'generation:generate_difference'")
    assert len(generate_tasks) == len({r[0] for r in generate_tasks}) == 17

    assert finish_taken_over(studio, submitted.job_id) == ["done"] * 17
    items = rows(studio.engine, "SELECT expression_key, status, failure_kind, failure_reason, cost_usd, cost_credits, "
                                "attempts FROM differences WHERE job_id = :j ORDER BY position", j=submitted.job_id)
    assert [r.status for r in items].count("done") == 17
    failed = {r.expression_key: r for r in items if r.status == "failed"}
    assert set(failed) == {keys[3], keys[11], keys[7]}
    assert failed[keys[3]].failure_kind == "safety" and "IMAGE_SAFETY" in failed[keys[3]].failure_reason
    assert failed[keys[7]].failure_kind == "text_only" and "instead of drawing" in failed[keys[7]].failure_reason
    done = [r for r in items if r.status == "done"]
    assert {r.cost_usd for r in done} == {STANDARD_USD_1K / 2}  # the batch price
    assert {r.cost_credits for r in done} == {1}
    assert all(r.attempts[0]["detail"].startswith("Batch API") for r in done)
    assert balance(studio, owner) == (283, 0)  # 300 - 17 captured; 3 released
    ledger_rows = rows(studio.engine, "SELECT kind, count(*), sum(amount) FROM credit_transactions WHERE job_id = :j "
                                      "GROUP BY kind ORDER BY kind", j=submitted.job_id)
    assert [tuple(r) for r in ledger_rows] == [("capture", 17, 17), ("hold", 20, 20), ("release", 3, 3)]
    stats = standin.stats()
    assert stats["generate"] == 0 and stats["by_outcome"]["batch_create"] == 1
    assert stats["batch_calls"] == 4  # create + 3 polls: the whole batch cost four HTTP calls
    with studio.engine.connect() as conn:
        assert conn.execute(text("SELECT status FROM generation_jobs WHERE id = :j"),
                            {"j": submitted.job_id}).scalar_one() == "done"


def test_cancel_before_the_batch_ends_releases_every_hold_and_cancels_it_at_gemini(studio, standin, client) -> None:
    owner = member(studio)
    character = character_of(studio, owner)
    standin.configure(batch_delay_s=60)
    submitted = submit(studio, owner, character, economy_request(["happy", "sad", "angry"], variants=("blink",)))
    assert submitted.credits_held == 6
    gemini_batch_id = economy.submit_wave(studio.engine, studio.store, client, job_id=submitted.job_id, poll_seconds=60)
    with studio.engine.begin() as conn:
        cancelled = batches.cancel(conn, actor=owner, job_id=submitted.job_id)
    assert (cancelled.images, cancelled.credits, cancelled.still_running) == (6, 6, 0)
    assert balance(studio, owner) == (300, 0)
    assert economy.poll(studio.engine, studio.store, client, gemini_batch_id=gemini_batch_id,
                        poll_seconds=60).state == "JOB_STATE_CANCELLED"
    [name] = [r[0] for r in rows(studio.engine, "SELECT name FROM gemini_batches WHERE resolved_at IS NOT NULL")]
    assert standin.engine.batches[name].cancelled_at is not None  # Gemini was told to stop
    assert economy.submit_wave(studio.engine, studio.store, client, job_id=submitted.job_id, poll_seconds=60) is None


@pytest.mark.parametrize(("end", "words"), [("expired", "expired"), ("failed", "failed")])
def test_an_expired_or_failed_batch_fails_every_open_item_with_a_reason(studio, standin, client, end, words) -> None:
    owner = member(studio)
    character = character_of(studio, owner)
    standin.configure(batch_delay_s=0, batch_end=end)
    submitted = submit(studio, owner, character, economy_request(["happy", "sad"], variants=("mouth_open",)))
    gemini_batch_id = economy.submit_wave(studio.engine, studio.store, client, job_id=submitted.job_id, poll_seconds=60)
    polled = economy.poll(studio.engine, studio.store, client, gemini_batch_id=gemini_batch_id, poll_seconds=60)
    assert polled.state == f"JOB_STATE_{end.upper()}" and polled.taken_over == 2
    # The next wave finds the variants orphaned: they fail too, nothing is sent again.
    assert economy.submit_wave(studio.engine, studio.store, client, job_id=submitted.job_id, poll_seconds=60) is None
    items = rows(studio.engine, "SELECT variant, status, failure_reason FROM differences WHERE job_id = :j",
                 j=submitted.job_id)
    assert {r.status for r in items} == {"failed"}
    assert all(words in r.failure_reason and "refunded" in r.failure_reason for r in items if r.variant is None)
    assert balance(studio, owner) == (300, 0)
    assert standin.stats()["by_outcome"]["batch_create"] == 1


def test_variants_go_in_a_second_batch_and_a_best_of_retry_goes_standard(studio, standin, client) -> None:
    owner = member(studio)
    character = character_of(studio, owner)
    submitted = submit(studio, owner, character, economy_request(["happy"], variants=("blink",), best_of=2))
    first = economy.submit_wave(studio.engine, studio.store, client, job_id=submitted.job_id, poll_seconds=60)
    economy.poll(studio.engine, studio.store, client, gemini_batch_id=first, poll_seconds=60)
    assert finish_taken_over(studio, submitted.job_id) == ["done"]
    second = economy.submit_wave(studio.engine, studio.store, client, job_id=submitted.job_id, poll_seconds=60)
    assert second is not None and second != first
    [blink_batch] = rows(studio.engine, "SELECT cardinality(item_ids) FROM gemini_batches WHERE id = :b", b=second)
    assert blink_batch[0] == 1
    [happy] = [r.id for r in rows(studio.engine, "SELECT id FROM differences WHERE job_id = :j AND variant IS NULL",
                                   j=submitted.job_id)]
    with studio.engine.begin() as conn:
        conn.execute(text("UPDATE differences SET score = 10, score_parts = '{\"passed\": false}' WHERE id = :i"),
                     {"i": happy})
        retry = batches.retry_if_below_threshold(conn, difference_id=happy, threshold=60.0)
    assert retry is not None
    [(tier, held)] = rows(studio.engine, "SELECT d.tier, t.amount FROM differences d JOIN credit_transactions t "
                                         "ON t.difference_id = d.id AND t.kind = 'hold' WHERE d.id = :i", i=retry)
    assert (tier, held) == ("standard", 2)  # one standard call at the standard price


def test_economy_needs_gemini() -> None:
    with pytest.raises(InvalidInput, match="Batch API"):
        jobs.JobRequest(expressions=[expressions.get("happy")], variants=[], backend="offline", model="offline",
                        image_size="1K", tier="economy")


def test_cli_generate_economy_runs_on_a_real_worker_from_submit_to_done(studio, standin, monkeypatch) -> None:
    from lib.core import settings as settings_module
    from tests.test_cli import ok_json

    owner = member(studio)
    character = character_of(studio, owner)
    standin.configure(batch_delay_s=1.0)
    env = {"GEMINI_API_KEY": "test-key", "GEMINI_BASE_URL": standin.base_url, "ECONOMY_POLL_SECONDS": "0.5"}
    for name, value in {**{k: studio.env[k] for k in ("DATABASE_URL", "STUDIO_HOME", "STUDIO_COOKIE_KEY",
                                                       "WORKER_STALL_SECONDS")}, **env}.items():
        monkeypatch.setenv(name, value)
    settings_module.get_settings.cache_clear()
    studio.start_worker(**env)
    result = ok_json("generate", str(character.id), "--as", owner.email, "--expressions", "happy,sad",
                     "--variants", "blink", "--size", "1K", "--economy", "--wait")
    assert result["tier"] == "economy" and result["credits_per_image"] == 1 and result["credits_held"] == 4
    assert [(i["expression"], i["variant"], i["status"], i["tier"], i["credits"]) for i in result["items"]] == [
        ("happy", None, "done", "economy", 1), ("happy", "blink", "done", "economy", 1),
        ("sad", None, "done", "economy", 1), ("sad", "blink", "done", "economy", 1)]
    assert {i["cost_usd"] for i in result["items"]} == {float(STANDARD_USD_1K / 2)}
    stats = standin.stats()
    assert stats["generate"] == 0 and stats["by_outcome"]["batch_create"] == 2  # expressions, then their variants
    assert balance(studio, owner) == (296, 0)


def test_api_submit_with_economy_answers_the_tier_and_the_economy_credits(studio) -> None:
    from lib.accounts import tokens
    from lib.api import rest
    from tests.test_api import serve

    owner = member(studio)
    character = character_of(studio, owner)
    with studio.engine.begin() as conn:
        _, secret = tokens.create_token(conn, actor=owner, name="script", now=__import__("datetime").datetime.now(
            __import__("datetime").UTC))
    server, _, _ = serve(studio.engine, studio.home)
    headers = {"Authorization": f"Bearer {secret}"}
    import httpx

    with server as running:
        url = running.url + rest.PREFIX
        body = {"character_id": str(character.id), "expressions": ["joy", "sad"], "model": MODEL, "image_size": "1K"}
        economy_batch = httpx.post(f"{url}/batches", headers=headers, json={**body, "economy": True}).json()
        standard_batch = httpx.post(f"{url}/batches", headers=headers, json=body).json()
        refused = httpx.post(f"{url}/batches", headers=headers, json={**body, "model": "offline", "economy": True})
    assert economy_batch["tier"] == "economy" and economy_batch["credits_held"] == 2
    assert {i["tier"] for i in economy_batch["items"]} == {"economy"}
    assert standard_batch["tier"] == "standard" and standard_batch["credits_held"] == 4
    assert refused.status_code == 422 and "Batch API" in refused.text


def test_trial_calls_and_economy_spend_reach_the_reports_and_the_cli(studio, standin, client, monkeypatch) -> None:
    import contextlib
    import datetime as dt
    import json as jsonlib

    from lib.backends.base import GenerationFailed
    from lib.backends.gemini import GeminiBackend
    from lib.core import settings as settings_module
    from lib.lab import prompt_trials
    from lib.reports import frames
    from tests.test_cli import cli

    owner = member(studio)
    with studio.engine.begin() as conn:
        admin = users.create_user(conn, email="boss@example.com", password=PASSWORD, role="admin")
    character = character_of(studio, owner)
    # Two notebook trials: one image, one safety block (its call is recorded too, at no cost).
    backend = GeminiBackend(GeminiConfig(api_key="test-key", base_url=standin.base_url, timeout_ms=20_000,
                                         max_attempts=1), sleep=lambda _: None)
    trial_ledger = prompt_trials.TrialLedger(studio.engine, actor=owner, character=character)
    base = characters.load_base(studio.store, character)
    standin.force("ok", "image_safety")
    for key in ("happy", "sad"):
        with contextlib.suppress(GenerationFailed):
            prompt_trials.run_trial(backend, character, base, label="v2-short", body="$name $keep $change",
                                    expression=expressions.get(key), model=MODEL, image_size="1K", threshold=60.0,
                                    ledger=trial_ledger)
    backend.close()
    # An economy batch of two, one approved.
    submitted = submit(studio, owner, character, economy_request(["happy", "sad"]))
    first = economy.submit_wave(studio.engine, studio.store, client, job_id=submitted.job_id, poll_seconds=60)
    economy.poll(studio.engine, studio.store, client, gemini_batch_id=first, poll_seconds=60)
    finish_taken_over(studio, submitted.job_id)
    with studio.engine.begin() as conn:
        happy = conn.execute(text("SELECT id FROM differences WHERE job_id = :j AND expression_key = 'happy'"),
                             {"j": submitted.job_id}).scalar_one()
        jobs.set_review(conn, actor=owner, difference_id=happy, review="approved")
        trial_jobs = conn.execute(text("SELECT kind, settings->>'template', user_id FROM generation_jobs "
                                       "WHERE kind = 'trial'")).all()
    assert [tuple(r) for r in trial_jobs] == [("trial", "v2-short", owner.id)]

    today = dt.datetime.now(dt.UTC).date()
    with studio.engine.connect() as conn:
        data = frames.all_reports(conn, date_from=today, date_to=today)
    spend = {r["line"]: r for r in frames.to_records(data["gemini_spend"])}
    assert spend["trial"] == {"day": today.isoformat(), "line": "trial", "images": 1, "calls": 2, "cost_usd": 0.0672}
    assert spend["economy"] == {"day": today.isoformat(), "line": "economy", "images": 2, "calls": 2,
                                "cost_usd": 0.0672}
    [per_approved] = frames.to_records(data["cost_per_approved"])
    assert per_approved == {"month": f"{today:%Y-%m}", "model": MODEL, "plan": "basic", "approved": 1,
                            "cost_usd": 0.0672, "calls": 2, "usd_per_approved": 0.0672, "calls_per_approved": 2.0}

    for name in ("DATABASE_URL", "STUDIO_HOME", "STUDIO_COOKIE_KEY"):
        monkeypatch.setenv(name, studio.env[name])
    settings_module.get_settings.cache_clear()
    printed = cli("reports", "credits", "--from", today.isoformat(), "--to", today.isoformat(), "--as", admin.email,
                  "--json")
    assert printed.returncode == 0, printed.stderr
    lines = {r["line"]: r["cost_usd"] for r in jsonlib.loads(printed.stdout)["gemini_spend"]}
    assert lines == {"economy": 0.0672, "trial": 0.0672}


def test_two_workers_queueing_the_next_wave_at_once_queue_it_once(studio) -> None:
    import threading
    import time

    owner = member(studio)
    character = character_of(studio, owner)
    submitted = submit(studio, owner, character, economy_request(["happy"]))
    with studio.engine.begin() as conn:
        conn.execute(text("DELETE FROM procrastinate_jobs"))
    errors: list[BaseException] = []

    def worker(hold_seconds: float, start_after: float) -> None:
        try:
            time.sleep(start_after)
            with studio.engine.begin() as conn:
                economy.defer_submit(conn, job_id=submitted.job_id)  # the second one waits on the first's lock
                time.sleep(hold_seconds)
                conn.execute(text("SELECT 1"))  # and its transaction is still usable afterwards
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(0.5, 0.0)), threading.Thread(target=worker, args=(0.0, 0.2))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=20)
    assert errors == []
    assert len(rows(studio.engine, "SELECT id FROM procrastinate_jobs WHERE task_name = :t",
                    t=economy.SUBMIT_TASK)) == 1


def test_the_reports_page_shows_trial_spend_as_its_own_line(studio, monkeypatch) -> None:
    import datetime as dt

    import streamlit as st

    from lib.core import settings as settings_module
    from lib.lab import prompt_trials
    from tests.test_reports_page import signed_in

    owner = member(studio)
    with studio.engine.begin() as conn:
        users.create_user(conn, email="boss@example.com", password=PASSWORD, role="admin")
    character = character_of(studio, owner)
    prompt_trials.TrialLedger(studio.engine, actor=owner, character=character).record(
        label="v3", body="$keep $change", model=MODEL, image_size="2K", expression_key="happy", outcome="ok",
        calls=1, cost_usd=0.101)
    for name in ("DATABASE_URL", "STUDIO_HOME", "STUDIO_COOKIE_KEY"):
        monkeypatch.setenv(name, studio.env[name])
    settings_module.get_settings.cache_clear()
    st.cache_resource.clear()
    st.cache_data.clear()
    at = signed_in("boss@example.com")
    assert not at.exception, at.exception
    assert "Gemini spend per day: standard, economy and notebook trials" in [s.value for s in at.subheader]
    [spend] = [d.value for d in at.dataframe if "line" in d.value.columns]
    assert spend.to_dict("records") == [{"day": dt.datetime.now(dt.UTC).date(), "line": "trial", "images": 1,
                                         "calls": 1, "cost_usd": 0.101}]


def test_a_worker_killed_while_the_batch_runs_is_replaced_and_the_job_ends_once(studio, standin) -> None:
    import os
    import signal
    import time

    owner = member(studio)
    character = character_of(studio, owner)
    standin.configure(batch_delay_s=6)
    env = {"GEMINI_API_KEY": "test-key", "GEMINI_BASE_URL": standin.base_url, "ECONOMY_POLL_SECONDS": "0.5"}
    first = studio.start_worker(**env)
    submitted = submit(studio, owner, character, economy_request(["happy", "sad", "angry"], variants=("blink",)))
    deadline = time.monotonic() + 30
    while not rows(studio.engine, "SELECT 1 FROM gemini_batches WHERE name IS NOT NULL AND polls > 0"):
        assert time.monotonic() < deadline, studio.logs()
        time.sleep(0.1)
    os.kill(first.pid, signal.SIGKILL)  # mid-wait: its poll is queued or running
    first.wait()
    studio.start_worker(**env)
    final = batches.wait(studio.engine, actor=owner, job_id=submitted.job_id, settings=studio.settings, timeout=120,
                         poll_seconds=0.2)
    assert (final.done, final.failed) == (6, 0)
    ledger_rows = rows(studio.engine, "SELECT kind, count(*), count(DISTINCT difference_id) FROM credit_transactions "
                                      "WHERE job_id = :j GROUP BY kind ORDER BY kind", j=submitted.job_id)
    assert [tuple(r) for r in ledger_rows] == [("capture", 6, 6), ("hold", 6, 6)]
    assert balance(studio, owner) == (294, 0)
    assert standin.stats()["by_outcome"]["batch_create"] == 2  # the expressions once, then their variants once
