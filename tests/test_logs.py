"""Logs: LOG_FORMAT=json gives one JSON object per line with batch, item and user ids on every line of a
generation, and no secret of the settings reaches any log line, whoever logged it."""

from __future__ import annotations

import io
import json
import logging

import pytest

from lib.core import logs
from lib.core.settings import load_settings
from lib.generation import batches
from tests.test_batches import job_request, make_character, make_member, submit

SECRETS = {"GEMINI_API_KEY": "AIzaSy-secret-gemini-key-0123456789", "METRICS_TOKEN": "metrics-secret-token-123",
           "SMTP_URL": "smtp://apikey:smtp-secret-password-42@127.0.0.1:2525"}


def captured(settings, emit) -> list[str]:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logs.formatter(settings))
    handler.addFilter(logs.ids_filter())
    logger = logging.getLogger("lib.test_logs")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        emit(logger)
    finally:
        logger.removeHandler(handler)
    return stream.getvalue().splitlines()


def test_json_lines_carry_the_bound_ids_and_secrets_are_scrubbed(monkeypatch) -> None:
    for name, value in SECRETS.items():
        monkeypatch.setenv(name, value)
    settings = load_settings(log_format="json")

    def emit(logger: logging.Logger) -> None:
        logger.info("outside any batch")
        with logs.bound(batch_id="b-1", item_id="i-1"):
            logs.bind(user_id="u-1")
            logger.warning("calling with key %s", SECRETS["GEMINI_API_KEY"])
            try:
                raise RuntimeError(f"connect to {SECRETS['SMTP_URL']} failed")
            except RuntimeError:
                logger.exception("mail failed")
        logger.info("after the batch")

    lines = [json.loads(line) for line in captured(settings, emit) if line.startswith("{")]
    assert [line["message"] for line in lines] == ["outside any batch", "calling with key [redacted]",
                                                   "mail failed", "after the batch"]
    assert {k: lines[1][k] for k in ("batch_id", "item_id", "user_id")} == {"batch_id": "b-1", "item_id": "i-1",
                                                                           "user_id": "u-1"}
    assert "batch_id" not in lines[0] and "batch_id" not in lines[3]
    assert "RuntimeError" in lines[2]["traceback"] and "smtp-secret-password-42" not in lines[2]["traceback"]
    text = "\n".join(json.dumps(line) for line in lines)
    assert not any(secret in text for secret in [*SECRETS.values(), "smtp-secret-password-42"])


@pytest.mark.slow
def test_a_worker_logs_a_batch_as_json_with_its_ids_and_no_secret(studio) -> None:
    owner = make_member(studio.engine)
    character = make_character(studio, owner)
    studio.start_worker(LOG_FORMAT="json", **SECRETS)
    done = submit(studio, owner, character, job_request(["happy", "sad"]))
    final = batches.wait(studio.engine, actor=owner, job_id=done.job_id, settings=studio.settings, timeout=60)
    assert final.status == "done"
    studio.stop_workers()
    text = studio.logs()
    lines = [line for line in text.splitlines() if line.strip()]
    parsed = [json.loads(line) for line in lines]  # every line is one JSON object
    made = [line for line in parsed if line["message"].startswith("difference ")]
    assert len(made) == 2, text
    for line in made:
        assert line["batch_id"] == str(done.job_id) and line["user_id"] == str(owner.id)
        assert line["item_id"] in {str(i) for i in done.difference_ids}
    cookie_key = studio.env["STUDIO_COOKIE_KEY"]
    assert not any(secret in text for secret in [*SECRETS.values(), "smtp-secret-password-42", cookie_key])
