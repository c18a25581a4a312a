"""Batch-end notifications: one per batch, shown in the app, emailed through a real SMTP server (aiosmtpd)
and posted, signed, to a real local HTTP receiver — with outages that delay and never lose or fail anything.
"""

from __future__ import annotations

import concurrent.futures
import hashlib
import hmac
import http.server
import json
import threading
from collections.abc import Iterator
from email import message_from_bytes, policy
from pathlib import Path
from typing import Any, ClassVar

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import Engine, text
from streamlit.testing.v1 import AppTest

from devtools.generation import run_job_differences
from lib.accounts import users
from lib.backends.offline import OfflineBackend
from lib.catalog import characters
from lib.core.settings import Settings, load_settings
from lib.core.storage import LocalStore
from lib.design import expressions
from lib.design.features import Features
from lib.generation import batches, jobs
from lib.generation.pipeline import run_difference
from lib.notifications import delivery, inbox
from tests.conftest import PASSWORD, wipe
from tests.test_pages import messages, sign_in
from tests.test_run import free_port


class Inbox:
    """What an SMTP server received."""

    def __init__(self) -> None:
        self.messages: list[Any] = []

    async def handle_DATA(self, server, session, envelope) -> str:
        self.messages.append(message_from_bytes(envelope.content, policy=policy.default))
        return "250 OK"


@pytest.fixture
def committed(engine: Engine) -> Iterator[Engine]:
    yield engine
    wipe(engine)


@pytest.fixture
def smtp() -> Iterator[tuple[int, Inbox]]:
    received = Inbox()
    port = free_port()
    controller = Controller(received, hostname="127.0.0.1", port=port)
    controller.start()
    yield port, received
    controller.stop()


def settings_for(smtp_port: int | None, **extra: object) -> Settings:
    url = f"smtp://127.0.0.1:{smtp_port}" if smtp_port else None
    return load_settings(**{"smtp_url": url, "studio_public_url": "https://studio.example", **extra})


def ended_batch(engine: Engine, store: LocalStore, email: str, *, keys=("joy", "sad"), **user_args) -> tuple:
    """A user whose batch of `keys` has run to its end through the real pipeline."""
    with engine.begin() as conn:
        user = users.create_user(conn, email=email, password=PASSWORD, **user_args)
        image, box = characters.generate_base(Features(), size=(96, 128))
        character = characters.create_character(conn, store, actor=user, name="蒼 Aoi", image=image,
                                                source="generated", face_box=box)
        request = jobs.JobRequest(expressions=[expressions.get(k) for k in keys], variants=[], backend="offline",
                                  model="offline", image_size="1K")
        submitted = batches.submit(conn, actor=user, character=character, request=request,
                                   settings=load_settings())
    list(run_job_differences(engine, store, OfflineBackend(), difference_ids=submitted.difference_ids))
    return user, submitted.job_id


def notices(engine: Engine) -> list[Any]:
    with engine.connect() as conn:
        return list(conn.execute(text("SELECT * FROM notifications ORDER BY id")))


def test_items_finishing_at_once_on_several_workers_make_one_notice(committed, tmp_path: Path) -> None:
    store = LocalStore(tmp_path / "objects")
    with committed.begin() as conn:
        user = users.create_user(conn, email="aoi@example.com", password=PASSWORD, plan="pro")
        image, box = characters.generate_base(Features(), size=(96, 128))
        character = characters.create_character(conn, store, actor=user, name="Aoi", image=image,
                                                source="generated", face_box=box)
        request = jobs.JobRequest(expressions=[expressions.get(k) for k in ("joy", "sad", "angry", "surprised")],
                                  variants=[], backend="offline", model="offline", image_size="1K")
        submitted = batches.submit(conn, actor=user, character=character, request=request, settings=load_settings())
    with concurrent.futures.ThreadPoolExecutor(4) as pool:
        statuses = list(pool.map(lambda i: run_difference(committed, store, OfflineBackend(), difference_id=i,
                                                          threshold=0), submitted.difference_ids))
    assert statuses == ["done"] * 4
    rows = notices(committed)
    assert len(rows) == 1 and rows[0].job_id == submitted.job_id
    assert (rows[0].outcome, rows[0].done, rows[0].failed, rows[0].cancelled) == ("done", 4, 0, 0)


def test_one_email_per_batch_with_character_counts_and_link(committed, tmp_path: Path, smtp) -> None:
    port, received = smtp
    store = LocalStore(tmp_path / "objects")
    ended_batch(committed, store, "aoi@example.com")
    ended_batch(committed, store, "quiet@example.com")
    with committed.begin() as conn:
        quiet = users.get_user(conn, email="quiet@example.com")
        inbox.set_preferences(conn, actor=quiet, email=False, webhook_url=None)
    settings = settings_for(port)
    assert delivery.deliver_emails(committed, settings) == 1
    assert delivery.deliver_emails(committed, settings) == 0  # nothing is sent twice
    assert len(received.messages) == 1
    mail = received.messages[0]
    assert mail["To"] == "aoi@example.com" and "蒼 Aoi: batch done — 2 made" in mail["Subject"]
    assert "https://studio.example/generate" in mail.get_content()
    states = {r.user_id: (r.email_state, r.email_error) for r in notices(committed)}
    assert states[quiet.id] == ("skipped", "emails turned off")


def test_an_smtp_outage_delays_the_mail_loses_nothing_and_never_fails_the_batch(committed, tmp_path: Path) -> None:
    store = LocalStore(tmp_path / "objects")
    _user, job_id = ended_batch(committed, store, "aoi@example.com")
    port = free_port()  # nothing listens here yet
    settings = settings_for(port, notify_retry_seconds=60)
    for _ in range(2):
        assert delivery.deliver_emails(committed, settings) == 0
    (row,) = notices(committed)
    assert row.email_state == "pending" and row.email_attempts == 1 and "ConnectionRefused" in row.email_error
    assert row.email_next_at > row.created_at  # waits for its retry time; the second pass did not try again
    with committed.connect() as conn:
        assert conn.execute(text("SELECT status FROM generation_jobs WHERE id = :j"), {"j": job_id}).scalar() == "done"
    received = Inbox()
    controller = Controller(received, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        with committed.begin() as conn:
            conn.execute(text("UPDATE notifications SET email_next_at = now()"))  # its retry time has come
        assert delivery.deliver_emails(committed, settings) == 1
    finally:
        controller.stop()
    assert len(received.messages) == 1
    (row,) = notices(committed)
    assert (row.email_state, row.email_attempts) == ("sent", 2)


class Receiver(http.server.BaseHTTPRequestHandler):
    answers: ClassVar[list[int]] = []
    seen: ClassVar[list[tuple[dict[str, str], bytes]]] = []

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        Receiver.seen.append((dict(self.headers), body))
        self.send_response(Receiver.answers.pop(0) if Receiver.answers else 200)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


def test_webhook_events_are_signed_and_retried_until_accepted(committed, tmp_path: Path) -> None:
    store = LocalStore(tmp_path / "objects")
    user, job_id = ended_batch(committed, store, "aoi@example.com")
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    Receiver.answers, Receiver.seen = [500, 503], []
    try:
        with committed.begin() as conn:
            prefs = inbox.set_preferences(conn, actor=user, email=True,
                                          webhook_url=f"http://127.0.0.1:{server.server_port}/hook")
        settings = settings_for(None, notify_retry_seconds=0.001)
        for _ in range(3):
            delivery.deliver_webhooks(committed, settings)
            with committed.begin() as conn:
                conn.execute(text("UPDATE notifications SET webhook_next_at = now()"))
    finally:
        server.shutdown()
        server.server_close()
    assert len(Receiver.seen) == 3  # 500, 503, then accepted; nothing after that
    headers, body = Receiver.seen[-1]
    timestamp, signature = (part.split("=", 1)[1] for part in headers["X-Studio-Signature"].split(","))
    expected = hmac.new(prefs.webhook_secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    assert hmac.compare_digest(signature, expected)
    event = json.loads(body)
    assert event["type"] == "batch.ended" and event["batch_id"] == str(job_id) and event["done"] == 2
    (row,) = notices(committed)
    assert (row.webhook_state, row.webhook_attempts) == ("sent", 3)


def test_a_receiver_that_never_accepts_is_given_up_on(committed, tmp_path: Path) -> None:
    store = LocalStore(tmp_path / "objects")
    user, _ = ended_batch(committed, store, "aoi@example.com")
    with committed.begin() as conn:
        inbox.set_preferences(conn, actor=user, email=True, webhook_url=f"http://127.0.0.1:{free_port()}/gone")
    settings = settings_for(None, notify_retry_seconds=0.001, notify_webhook_max_attempts=2)
    for _ in range(3):
        delivery.deliver_webhooks(committed, settings)
        with committed.begin() as conn:
            conn.execute(text("UPDATE notifications SET webhook_next_at = now()"))
    (row,) = notices(committed)
    assert (row.webhook_state, row.webhook_attempts) == ("gave_up", 2) and "Connection" in row.webhook_error


def test_the_next_page_shows_the_notice_once_and_the_account_page_lists_it(accounts, engine, tmp_path) -> None:
    _admin, member = accounts
    store = LocalStore(tmp_path / "objects")
    with engine.begin() as conn:
        image, box = characters.generate_base(Features(), size=(96, 128))
        character = characters.create_character(conn, store, actor=member, name="**Aoi**", image=image,
                                                source="generated", face_box=box)
        request = jobs.JobRequest(expressions=[expressions.get("joy")], variants=[], backend="offline",
                                  model="offline", image_size="1K")
        submitted = batches.submit(conn, actor=member, character=character, request=request, settings=load_settings())
        batches.cancel(conn, actor=member, job_id=submitted.job_id)
    at = sign_in(AppTest.from_file("../pages/account.py", default_timeout=30).run(), member.email)
    assert not at.exception
    toasts = [t.value for t in at.toast]
    assert len(toasts) == 1 and toasts[0].startswith(r"\*\*Aoi\*\*"), toasts  # the name stays text, not bold
    assert toasts[0].endswith("batch cancelled — 0 made, 1 cancelled"), toasts
    assert "batch cancelled" in at.dataframe[0].value.to_string()
    at.run()
    assert not at.toast  # shown once
    at.text_input[0].input("ftp://example.com/hook")
    at.button[0].click().run()
    assert "The webhook must be an http" in messages(at)
    at.text_input[0].input("https://example.com/hook")
    at.button[0].click().run()
    assert at.code[0].value.startswith("whsec_")
    with engine.connect() as conn:
        assert inbox.preferences(conn, actor=member).webhook_url == "https://example.com/hook"
