"""Alarms: Gemini failures above the threshold fire within one window and resolve after; admins are told once
per transition (a real SMTP server); the Health page shows both states (AppTest)."""

from __future__ import annotations

from collections.abc import Iterator
from email import message_from_bytes, policy
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import Engine, text
from streamlit.testing.v1 import AppTest

from lib.accounts import users
from lib.core.settings import load_settings
from lib.ops import alarms
from tests.test_pages import sign_in
from tests.test_run import free_port


class Inbox:
    def __init__(self) -> None:
        self.messages: list[Any] = []

    async def handle_DATA(self, server, session, envelope) -> str:
        self.messages.append(message_from_bytes(envelope.content, policy=policy.default))
        return "250 OK"


@pytest.fixture
def smtp() -> Iterator[tuple[int, Inbox]]:
    received, port = Inbox(), free_port()
    controller = Controller(received, hostname="127.0.0.1", port=port)
    controller.start()
    yield port, received
    controller.stop()


def gemini_items(engine: Engine, owner: users.User, *, done: int, failed: int, kind: str = "server_error") -> None:
    """Images that ended just now at Gemini (what workers record), `failed` of them with `kind`."""
    with engine.begin() as conn:
        character = conn.execute(text(
            "INSERT INTO characters (user_id, name, base_key, base_width, base_height, base_source) "
            "VALUES (:u, 'Aoi', 'characters/x/base.png', 64, 64, 'upload') RETURNING id"), {"u": owner.id}).scalar()
        job = conn.execute(text(
            "INSERT INTO generation_jobs (user_id, character_id, status, backend, model, image_size) "
            "VALUES (:u, :c, 'done', 'gemini', 'gemini-3.1-flash-image', '1K') RETURNING id"),
            {"u": owner.id, "c": character}).scalar()
        for n in range(done + failed):
            ok = n < done
            conn.execute(text(
                "INSERT INTO differences (job_id, character_id, expression_key, status, image_key, failure_reason, "
                "failure_kind, started_at, finished_at, position) "
                "VALUES (:j, :c, :e, :s, :i, :r, :k, now(), now(), :n)"),
                {"j": job, "c": character, "e": f"e{n}", "s": "done" if ok else "failed",
                 "i": "x.png" if ok else None, "r": None if ok else "The service failed.",
                 "k": None if ok else kind, "n": n})


def readings(engine: Engine, settings) -> dict[str, alarms.Reading]:
    with engine.connect() as conn:
        return {r.name: r for r in alarms.read(conn, settings)}


def test_gemini_failures_fire_within_one_window_resolve_after_and_tell_admins_once(accounts, engine, smtp) -> None:
    port, received = smtp
    admin, member = accounts
    settings = load_settings(smtp_url=f"smtp://127.0.0.1:{port}", alarm_min_images=10)
    gemini_items(engine, member, done=17, failed=3, kind="safety")  # content refusals are not the service failing
    assert readings(engine, settings)["gemini_error_rate"].firing is False
    assert alarms.evaluate(engine, settings) == []  # a first reading that is ok says nothing

    gemini_items(engine, member, done=0, failed=3)  # 3 of 23 (13 %) failed for the service's reasons
    turned = alarms.evaluate(engine, settings)
    assert [(t.reading.name, t.reading.firing, t.notified) for t in turned] == [("gemini_error_rate", True, "email")]
    assert alarms.evaluate(engine, settings) == []  # still firing: no second email
    assert len(received.messages) == 1
    mail = received.messages[0]
    assert mail["To"] == admin.email and "FIRING: gemini_error_rate" in mail["Subject"]
    assert "3 of 23 Gemini images failed" in mail.get_content()

    at = sign_in(AppTest.from_file("../pages/admin_health.py", default_timeout=30).run(), admin.email)
    assert not at.exception
    assert any("gemini_error_rate** firing since" in e.value for e in at.error), [e.value for e in at.error]

    with engine.begin() as conn:  # the window moves on: those failures are older than it
        conn.execute(text("UPDATE differences SET finished_at = now() - interval '1 hour'"))
    gemini_items(engine, member, done=12, failed=0)
    turned = alarms.evaluate(engine, settings)
    assert [(t.reading.name, t.reading.firing) for t in turned] == [("gemini_error_rate", False)]
    assert len(received.messages) == 2 and "resolved: gemini_error_rate" in received.messages[1]["Subject"]

    at.run()
    assert any("gemini_error_rate** ok" in s.value for s in at.success)
    history = at.dataframe[-1].value
    assert list(history["firing"]) == [False, True] and set(history["notified"]) == {"email"}


def test_without_smtp_alarms_go_to_the_log_and_a_waiting_queue_fires(accounts, engine, caplog) -> None:
    _admin, member = accounts
    settings = load_settings(alarm_queue_wait_seconds=60)
    gemini_items(engine, member, done=1, failed=0)
    with engine.begin() as conn:
        conn.execute(text("UPDATE differences SET status = 'queued', image_key = NULL, finished_at = NULL, "
                          "created_at = now() - interval '5 minutes'"))
    turned = alarms.evaluate(engine, settings)
    assert [(t.reading.name, t.notified) for t in turned] == [("queue_waiting", "log")]
    assert "alarm queue_waiting FIRING" in caplog.text
    assert readings(engine, settings)["database_connections"].firing is False
    assert readings(engine, load_settings(alarm_db_connections=0.0001))["database_connections"].firing is True


def test_the_health_page_is_for_admins(accounts) -> None:
    _admin, member = accounts
    at = sign_in(AppTest.from_file("../pages/admin_health.py", default_timeout=30).run(), member.email)
    assert "for admins only" in " ".join(e.value for e in at.error)
    assert not at.metric
