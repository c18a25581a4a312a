"""Deleting a character while its batch runs: holds are released, nothing is charged for what was not made,
and no object is left under the deleted character's prefix (also when a worker finishes after the delete)."""

import datetime as dt
import threading

import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

from devtools.gemini_standin import StandinServer, default_render
from lib.accounts import users
from lib.backends.offline import OfflineBackend
from lib.catalog import characters
from lib.core import storage
from lib.core.settings import get_settings
from lib.core.storage import LocalStore
from lib.credits import ledger
from lib.design.features import Features
from lib.generation import batches, pipeline
from tests.conftest import PASSWORD
from tests.test_batches import count, gemini_env, job_request, make_character, make_member, submit, wait_for
from tests.test_credits import fake_item

KEYS = ["happy", "sad", "anger", "surprised"]


def open_tasks(engine) -> int:
    return count(engine, "SELECT count(*) FROM procrastinate_jobs WHERE status IN ('todo', 'doing')")


def test_deleting_a_character_mid_batch_releases_every_hold_and_orphans_nothing(studio) -> None:
    owner = make_member(studio.engine)  # basic: 300 credits
    character = make_character(studio, owner)
    in_model, let_go = threading.Event(), threading.Event()

    def held_at_the_model(base_png: bytes, prompt: str, width: int, height: int) -> bytes:
        in_model.set()
        let_go.wait(60)  # bounded: the test releases it right after the delete
        return default_render(base_png, prompt, width, height)

    with StandinServer(api_keys=["test-key"], render=held_at_the_model) as standin:
        studio.start_worker(**gemini_env(standin))  # one task at a time
        done = submit(studio, owner, character, job_request(KEYS, backend="gemini", model="gemini-3.1-flash-image"))
        assert done.credits_held == 8
        assert in_model.wait(60), studio.logs()
        with studio.engine.begin() as conn:  # one item is at the model, three are queued
            deleted = characters.delete_character(conn, actor=owner, character_id=character.id)
        characters.remove_objects(studio.store, deleted)
        let_go.set()  # the running item now finishes after its character is gone
        wait_for(lambda: open_tasks(studio.engine) == 0, 60, "every task to end", studio.logs)
        assert standin.stats()["generate"] == 1  # the queued items never reached the model

    with studio.engine.begin() as conn:
        b = ledger.balance(conn, user_id=owner.id)
        assert (b.available, b.held, b.used_this_period) == (300, 0, 0)
        assert ledger.ledger_sums(conn, user_id=owner.id) == (b.available, b.held)
        next_month = (b.period_start + dt.timedelta(days=32)).replace(day=1)
        assert ledger.monthly_reset(conn, user_id=owner.id, period=next_month)
        after = ledger.balance(conn, user_id=owner.id)
    assert (after.available, after.held) == (300, 0)
    assert count(studio.engine, "SELECT count(*) FROM credit_transactions WHERE kind = 'capture'") == 0
    assert studio.store.list(storage.character_prefix(user_id=owner.id, character_id=character.id)) == []
    assert count(studio.engine, "SELECT count(*) FROM procrastinate_jobs WHERE status = 'failed'") == 0


class DeletesOnFirstPut(LocalStore):
    """Our own store, with the owner deleting the character just as the worker stores its result."""

    def __init__(self, root, *, engine, owner, character_id) -> None:
        super().__init__(root)
        self.engine, self.owner, self.character_id, self.armed = engine, owner, character_id, True

    def put(self, key: str, data: bytes, *, content_type: str = "image/png") -> None:
        if self.armed and "/diffs/" in key:
            self.armed = False
            with self.engine.begin() as conn:
                deleted = characters.delete_character(conn, actor=self.owner, character_id=self.character_id)
            characters.remove_objects(self, deleted)
        super().put(key, data, content_type=content_type)


def test_a_result_stored_after_its_character_was_deleted_is_removed_and_not_charged(studio) -> None:
    owner = make_member(studio.engine)
    character = make_character(studio, owner)
    done = submit(studio, owner, character, job_request(["happy"]))
    store = DeletesOnFirstPut(studio.store.root, engine=studio.engine, owner=owner, character_id=character.id)
    status = pipeline.run_difference(studio.engine, store, OfflineBackend(), difference_id=done.difference_ids[0],
                                     threshold=70.0)
    assert status == pipeline.GONE and not store.armed
    assert store.list(storage.character_prefix(user_id=owner.id, character_id=character.id)) == []
    with studio.engine.connect() as conn:
        b = ledger.balance(conn, user_id=owner.id)
    assert (b.available, b.held, b.used_this_period) == (300, 0, 0)


def test_postgres_refuses_to_delete_work_that_still_holds_credits(conn, make_user) -> None:
    """The backstop for any other path (a raw DELETE, a future function): an open hold keeps its item."""
    owner = make_user()
    job, item = fake_item(conn, owner)
    ledger.hold_items(conn, user_id=owner.id, job_id=job, items=[(item, 3)])
    with pytest.raises(IntegrityError, match="holds credits"), conn.begin_nested():
        conn.execute(text("DELETE FROM characters WHERE user_id = :u"), {"u": owner.id})
    ledger.release(conn, difference_id=item)
    conn.execute(text("DELETE FROM characters WHERE user_id = :u"), {"u": owner.id})
    assert ledger.balance(conn, user_id=owner.id).held == 0


def test_deleting_an_account_with_open_holds_still_works(conn, make_user) -> None:
    """The account's ledger goes with it, so its holds cannot be stranded."""
    owner = make_user()
    job, item = fake_item(conn, owner)
    ledger.hold_items(conn, user_id=owner.id, job_id=job, items=[(item, 3)])
    conn.execute(text("DELETE FROM users WHERE id = :u"), {"u": owner.id})
    assert conn.execute(text("SELECT count(*) FROM differences WHERE id = :i"), {"i": item}).scalar_one() == 0


def test_the_delete_button_releases_a_queued_batch(committed_env, engine) -> None:
    from tests.test_pages import app, messages, sign_in

    with engine.begin() as conn:
        member = users.create_user(conn, email="mei@example.com", password=PASSWORD)  # free: 30 credits
        image, box = characters.generate_base(Features(), size=(160, 208))
        made = characters.create_character(conn, LocalStore(committed_env / "objects"), actor=member, name="Aoi",
                                           image=image, source="generated", face_box=box)
        batches.submit(conn, actor=member, character=made, request=job_request(["happy", "sad", "joy"]),
                       settings=get_settings())
        assert ledger.balance(conn, user_id=member.id).held == 3
    at = sign_in(app(), "mei@example.com")
    at.checkbox(key=f"sure-{made.id}").check().run()
    at.button(key=f"delete-{made.id}").click().run()
    assert not at.exception
    assert "Deleted Aoi. Its unfinished images were cancelled and 3 held credits released." in messages(at)
    with engine.connect() as conn:
        b = ledger.balance(conn, user_id=member.id)
    assert (b.available, b.held) == (30, 0)
