"""Personal access tokens: the library, `python -m lib tokens …` and the API tokens page."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import text
from streamlit.testing.v1 import AppTest

from lib.accounts import tokens, users
from lib.core.errors import InvalidInput, NotAuthenticated, NotFound
from tests.conftest import PASSWORD
from tests.test_cli import cli
from tests.test_pages import messages, sign_in


def test_a_token_is_stored_hashed_and_works_until_revoked(conn, make_user) -> None:
    aoi, rin = make_user(), make_user()
    now = datetime.now(UTC)
    token, secret = tokens.create_token(conn, actor=aoi, name="  nightly   export ", now=now)
    assert token.name == "nightly export" and secret.startswith("msk_") and len(secret) == 47
    assert token.prefix == secret[:10]
    stored = conn.execute(text("SELECT token_hash FROM api_tokens WHERE id = :id"), {"id": token.id}).scalar_one()
    assert secret.encode() not in bytes(stored) and len(stored) == 32
    assert tokens.authenticate(conn, secret=secret)[0].id == aoi.id
    with pytest.raises(NotFound):
        tokens.revoke_token(conn, actor=rin, token_id=token.id)  # another user's token: as if it did not exist
    assert tokens.authenticate(conn, secret=secret)[0].id == aoi.id
    tokens.revoke_token(conn, actor=aoi, token_id=token.id)
    with pytest.raises(NotAuthenticated):
        tokens.authenticate(conn, secret=secret)
    assert tokens.list_tokens(conn, actor=aoi)[0].status(datetime.now(UTC)) == "revoked"
    for name, expires in (("", None), ("x" * 101, None), ("past", now - timedelta(days=1))):
        with pytest.raises(InvalidInput):
            tokens.create_token(conn, actor=aoi, name=name, expires_at=expires, now=now)


def test_tokens_from_the_cli(committed_env) -> None:
    added = cli("users", "add", "aoi@example.com", "--password-stdin", stdin=PASSWORD)
    assert added.returncode == 0, added.stderr
    created = cli("tokens", "create", "--as", "aoi@example.com", "--name", "bot", "--expires-days", "30", "--json")
    assert created.returncode == 0, created.stderr
    made = json.loads(created.stdout)
    assert made["token"].startswith("msk_") and made["status"] == "active" and made["expires_at"]
    listed = json.loads(cli("tokens", "list", "--as", "aoi@example.com", "--json").stdout)
    assert [t["id"] for t in listed] == [made["id"]] and "token" not in listed[0]  # the secret never again
    assert cli("tokens", "revoke", made["id"], "--as", "aoi@example.com").returncode == 0
    listed = json.loads(cli("tokens", "list", "--as", "aoi@example.com", "--json").stdout)
    assert listed[0]["status"] == "revoked"
    unknown = cli("tokens", "revoke", "00000000-0000-0000-0000-000000000000", "--as", "aoi@example.com")
    assert unknown.returncode != 0 and "no such token" in unknown.stderr and "Traceback" not in unknown.stderr


def test_the_api_tokens_page_shows_a_new_token_once_and_revokes(accounts, engine) -> None:
    _admin, member = accounts
    at = sign_in(AppTest.from_file("../pages/api_tokens.py", default_timeout=30).run(), member.email)
    assert not at.exception
    assert "No tokens yet" in messages(at)
    at.text_input[0].input("ci export")
    at.button[0].click().run()
    shown = [c.value for c in at.code]
    assert len(shown) == 1 and shown[0].startswith("msk_")
    with engine.begin() as conn:
        assert tokens.authenticate(conn, secret=shown[0])[0].id == member.id
    at.run()
    assert not at.code  # shown once
    assert "ci export" in at.dataframe[0].value.to_string()
    revoke = next(b for b in at.button if b.label == "Revoke")
    revoke.click().run()
    assert "Revoked ci export" in messages(at)
    with engine.begin() as conn, pytest.raises(NotAuthenticated):
        tokens.authenticate(conn, secret=shown[0])
    with engine.begin() as conn:
        assert users.get_user(conn, email=member.email).is_active
