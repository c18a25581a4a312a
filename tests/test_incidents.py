"""Error boundaries, written as the attacks that showed tracebacks: each answer is one short message.

The CLI, the pages and the API turn an unexpected error into an incident id (traceback in the log under
that id); the inputs that used to reach Postgres or the standard library unchecked are refused up front.
"""

from __future__ import annotations

import json
import re
import tempfile
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from streamlit.testing.v1 import AppTest

from lib.api import webhook as webhook_app
from lib.api.boundary import guarded
from lib.cli import characters as cli_characters
from lib.core import settings as settings_module
from lib.core.settings import load_settings
from tests.billing_support import serving
from tests.conftest import PASSWORD
from tests.test_cli import cli, fails, ok_json
from tests.test_run import free_port

INCIDENT = re.compile(r"incident ([0-9a-f]{8})")
SECRET = "SELECT password_hash FROM users -- /srv/studio/lib/secret.py"


def _one_line(result) -> str:
    lines = result.stderr.strip().splitlines()
    assert result.returncode == 1 and len(lines) == 1, result.stderr
    return lines[0]


def test_cli_unexpected_error_prints_an_incident_id_and_logs_the_traceback(committed_env, monkeypatch) -> None:
    def broken(args, settings):
        raise RuntimeError(SECRET)

    monkeypatch.setattr(cli_characters, "cmd_characters_list", broken)
    line = _one_line(cli("characters", "list", "--as", "a@example.com"))
    assert line.startswith("error: unexpected failure (incident ") and "see the log" in line
    assert "SELECT" not in line and "Traceback" not in line
    incident = INCIDENT.search(line).group(1)
    logged = (committed_env / "logs" / "cli.log").read_text()
    assert f"incident {incident}" in logged and "Traceback" in logged and SECRET in logged


def test_cli_with_the_database_down_says_so_in_one_line(monkeypatch, tmp_path: Path) -> None:
    monkeypatch.setenv("DATABASE_URL", f"postgresql://postgres@127.0.0.1:{free_port()}/studio")
    monkeypatch.setenv("STUDIO_HOME", str(tmp_path / "studio"))
    settings_module.get_settings.cache_clear()
    line = _one_line(cli("characters", "list", "--as", "a@example.com"))
    assert line.startswith("error: the database is not reachable (incident "), line
    assert "OperationalError" not in line and "127.0.0.1" not in line


@pytest.fixture
def member(committed_env) -> str:
    ok_json("users", "add", "nul@example.com", "--password-stdin", stdin=PASSWORD + "\n")
    return "nul@example.com"


def test_nul_in_a_character_name_or_feature_notes_is_refused(member: str, tmp_path: Path) -> None:
    assert "control characters (such as NUL)" in fails("characters", "add", "--as", member, "--name", "Sa\x00kura",
                                                       "--generate-base")
    features = tmp_path / "features.json"
    features.write_text(json.dumps({"notes": "calm\u0000", "accessories": ["hat"]}))
    assert "notes: Value error, must not contain a NUL character" in fails(
        "characters", "add", "--as", member, "--name", "Sakura", "--generate-base", "--features", str(features))
    assert ok_json("characters", "list", "--as", member) == []


def test_deeply_nested_features_json_is_refused(member: str, tmp_path: Path) -> None:
    features = tmp_path / "deep.json"
    features.write_text('{"notes": ' + "[" * 100_000 + "]" * 100_000 + "}")
    assert "nested more than 10 levels deep" in fails("characters", "add", "--as", member, "--name", "Deep",
                                                      "--generate-base", "--features", str(features))


def test_a_grant_beyond_the_integer_range_is_refused_with_the_numbers(committed_env, member: str) -> None:
    ok_json("users", "add", "boss@example.com", "--role", "admin", "--password-stdin", stdin=PASSWORD + "\n")
    line = fails("credits", "grant", member, "3000000000", "--reason", "typo", "--as", "boss@example.com")
    assert "3,000,000,000" in line and "1,000,000" in line


def test_reports_for_the_year_9999_are_refused(committed_env) -> None:
    ok_json("users", "add", "boss@example.com", "--role", "admin", "--password-stdin", stdin=PASSWORD + "\n")
    assert "choose dates from 1970-01-01 to 2999-12-31" in fails(
        "reports", "credits", "--from", "9999-01-01", "--to", "9999-12-31", "--as", "boss@example.com")


def test_a_variant_named_twice_is_made_once(member: str) -> None:
    made = ok_json("characters", "add", "--as", member, "--name", "Twice", "--generate-base")
    queued = ok_json("generate", made["id"], "--as", member, "--expressions", "happy", "--variants", "blink,blink",
                     "--backend", "offline")
    assert [(i["expression"], i["variant"]) for i in queued["items"]] == [("happy", None), ("happy", "blink")]
    assert queued["credits_held"] == 2


@pytest.mark.parametrize("where", ["parent-is-a-file", "proc"])
def test_export_to_a_path_that_cannot_be_written_leaves_no_file(member: str, tmp_path: Path, monkeypatch,
                                                                 where: str) -> None:
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))  # where a stray temporary export would land
    made = ok_json("characters", "add", "--as", member, "--name", "Out", "--generate-base")
    (tmp_path / "file").write_text("")
    out = tmp_path / "file" / "set.zip" if where == "parent-is-a-file" else Path("/proc/studio-set.zip")
    assert f"cannot write {out}" in fails("export", made["id"], "--as", member, "--format", "zip", "--out", str(out))
    assert list(scratch.iterdir()) == [] and not out.exists()


# The pages ------------------------------------------------------------------------------------------------


# A page script run by AppTest (tests drive the web side as pages; they never import lib.web themselves).
PAGE_THAT_RAISES = f"""
from lib.web.boundary import boundary

with boundary():
    raise RuntimeError({SECRET!r})
"""


def test_a_page_that_raises_shows_an_incident_id_and_no_traceback(caplog) -> None:
    at = AppTest.from_string(PAGE_THAT_RAISES, default_timeout=30).run()
    assert not at.exception
    [error] = at.error
    assert error.value.startswith("Something went wrong (incident ") and "SELECT" not in error.value
    incident = INCIDENT.search(error.value).group(1)
    assert any(f"incident {incident}" in r.getMessage() and r.exc_info for r in caplog.records)


def test_the_studio_with_the_database_down_shows_a_short_message(monkeypatch, tmp_path: Path) -> None:
    monkeypatch.setenv("DATABASE_URL", f"postgresql://postgres@127.0.0.1:{free_port()}/studio")
    monkeypatch.setenv("STUDIO_HOME", str(tmp_path / "studio"))
    monkeypatch.setenv("STUDIO_COOKIE_KEY", "k" * 64)
    settings_module.get_settings.cache_clear()
    import streamlit as st

    st.cache_resource.clear()
    at = AppTest.from_file("../app.py", default_timeout=30).run()
    assert not at.exception
    assert [e.value[:46] for e in at.error] == ["The database is not reachable right now; try a"]
    assert "OperationalError" not in str(at) and "127.0.0.1" not in at.error[0].value


def test_streamlit_never_sends_tracebacks_to_the_browser() -> None:
    config = (Path(__file__).resolve().parent.parent / ".streamlit" / "config.toml").read_text()
    assert re.search(r'^showErrorDetails = "none"', config, re.M)


# The API --------------------------------------------------------------------------------------------------


@pytest.fixture
def serve() -> Iterator:
    """Start ASGI apps under uvicorn in threads for one test; each call answers its base URL."""
    with ExitStack() as stack:
        yield lambda app: stack.enter_context(serving(app)).url


def _post(url: str, body: bytes = b"{}") -> tuple[int, dict]:
    request = urllib.request.Request(url, data=body, method="POST", headers={"Stripe-Signature": "t=1,v1=00"})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def test_an_api_route_that_raises_answers_500_json_with_an_incident_id(serve) -> None:
    async def broken(request: Request) -> Response:
        raise RuntimeError(SECRET)

    url = serve(Starlette(routes=[Route("/boom", guarded(broken), methods=["POST"])]))
    status, body = _post(url + "/boom")
    assert status == 500 and body["error"] == "internal error" and re.fullmatch(r"[0-9a-f]{8}", body["incident"])
    assert SECRET not in json.dumps(body)


def test_the_webhook_with_the_database_down_answers_503_with_an_incident_id(serve) -> None:
    import sqlalchemy as sa

    down = sa.create_engine(f"postgresql+psycopg://postgres@127.0.0.1:{free_port()}/studio")
    settings = load_settings(stripe_secret_key="sk_test_x", stripe_webhook_secret="whsec_x",
                             stripe_price_basic="price_b", stripe_price_pro="price_p")
    url = serve(webhook_app.create_app(settings, engine=down))
    status, body = _post(url + webhook_app.WEBHOOK_PATH)
    assert status == 503 and body["error"] == "the database is not reachable", body
    assert re.fullmatch(r"[0-9a-f]{8}", body["incident"])
