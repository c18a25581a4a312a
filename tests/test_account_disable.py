"""Disabling an account stops its work: queued differences are cancelled and refunded, the one already at the
model may finish, and no best-of attempt is queued for it afterwards."""

import threading
import uuid

from sqlalchemy import text

from devtools.gemini_standin import StandinServer
from lib.accounts import users
from lib.backends.offline import OfflineBackend
from lib.credits import ledger
from lib.generation import access, jobs, pipeline
from tests.conftest import PASSWORD
from tests.test_batches import count, gemini_env, job_request, make_character, make_member, submit, wait_for

KEYS = ["happy", "sad", "anger", "surprised", "joy"]


def make_admin(engine):
    with engine.begin() as conn:
        return users.create_user(conn, email=f"a{uuid.uuid4().hex[:8]}@example.com", password=PASSWORD, role="admin")


def open_tasks(engine) -> int:
    return count(engine, "SELECT count(*) FROM procrastinate_jobs WHERE status IN ('todo', 'doing')")


def test_disabling_mid_batch_cancels_queued_best_of_work_and_charges_only_what_ran(studio) -> None:
    admin, owner = make_admin(studio.engine), make_member(studio.engine)  # basic: 300 credits
    character = make_character(studio, owner)
    in_model, let_go = threading.Event(), threading.Event()

    def unchanged_after_a_wait(base_png: bytes, prompt: str, width: int, height: int) -> bytes:
        in_model.set()
        let_go.wait(60)  # bounded: released right after the disable
        return base_png  # the face did not change: a low score, so best-of would try again

    with StandinServer(api_keys=["test-key"], render=unchanged_after_a_wait) as standin:
        studio.start_worker(**gemini_env(standin))  # one task at a time
        request = job_request(KEYS, backend="gemini", model="gemini-3.1-flash-image")
        done = submit(studio, owner, character, jobs.JobRequest(**{**request.__dict__, "best_of": 5}))
        assert in_model.wait(60), studio.logs()
        with studio.engine.begin() as conn:
            cancelled = access.set_user_active(conn, actor=admin, user_id=owner.id, active=False)
        assert cancelled == len(KEYS) - 1  # every queued expression; the one at the model runs on
        let_go.set()
        wait_for(lambda: open_tasks(studio.engine) == 0, 60, "every task to end", studio.logs)
        assert standin.stats()["generate"] == 1  # nothing reached the model after the disable

    assert count(studio.engine, "SELECT count(*) FROM differences WHERE job_id = :j AND status = 'done'",
                 j=done.job_id) == 1
    assert count(studio.engine, "SELECT count(*) FROM differences WHERE job_id = :j", j=done.job_id) == len(KEYS)
    assert count(studio.engine, "SELECT count(*) FROM differences WHERE status IN ('queued', 'running')") == 0
    with studio.engine.connect() as conn:
        b = ledger.balance(conn, user_id=owner.id)
        assert (b.available, b.held, b.used_this_period) == (298, 0, 2)  # one image at 2 credits
        assert ledger.ledger_sums(conn, user_id=owner.id) == (b.available, b.held)


def test_a_worker_never_starts_queued_work_of_a_disabled_account(studio) -> None:
    """Even when the account was disabled some other way, the pipeline cancels and refunds instead of running."""
    admin, owner = make_admin(studio.engine), make_member(studio.engine)
    character = make_character(studio, owner)
    done = submit(studio, owner, character, job_request(["happy"]))
    with studio.engine.begin() as conn:
        users.set_active(conn, actor=admin, user_id=owner.id, active=False)
    status = pipeline.run_difference(studio.engine, studio.store, OfflineBackend(),
                                     difference_id=done.difference_ids[0], threshold=70.0)
    assert status == "cancelled"
    with studio.engine.connect() as conn:
        b = ledger.balance(conn, user_id=owner.id)
        kinds = conn.execute(text("SELECT kind FROM credit_transactions WHERE job_id = :j ORDER BY id"),
                             {"j": done.job_id}).scalars().all()
    assert (b.held, b.used_this_period) == (0, 0) and kinds == ["hold", "release"]
    assert studio.store.list(f"characters/{owner.id}/{character.id}/diffs/") == []


def test_enabling_again_cancels_nothing(studio) -> None:
    admin, owner = make_admin(studio.engine), make_member(studio.engine)
    with studio.engine.begin() as conn:
        assert access.set_user_active(conn, actor=admin, user_id=owner.id, active=False) == 0
        assert access.set_user_active(conn, actor=admin, user_id=owner.id, active=True) == 0
        assert users.get_user_by_id(conn, user_id=owner.id).is_active
