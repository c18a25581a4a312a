"""The sign-in gate (lib/web/auth.py) in runs a page cannot produce: a run cut short by a rerun.

AppTest cannot interrupt a run the way a browser's rerun request does, so these tests stand in for the cut
by replacing one step of the gate for one run; everything else is the real gate on the test database.
"""

import json
from typing import Any

import jwt
from streamlit.testing.v1 import AppTest

from lib.web import auth
from lib.web.resources import settings
from tests.test_pages import sign_in


def _cookie_writes(at: AppTest) -> list[dict[str, Any]]:
    """The arguments of the cookie-writing components this run drew (the sign-in cookie, lib/web/auth.py)."""
    drawn = [json.loads(e.proto.json_args) for e in at.sidebar.children.values()
             if type(e).__name__ == "UnknownElement" and getattr(e.proto, "json_args", "")]
    return [a for a in drawn if a.get("method") == "set"]


def _gate_alone() -> None:
    """The entrypoint's sign-in gate without the pages (AppTest reruns a page alone once it navigated)."""
    import streamlit as st

    from lib.web import auth

    user = auth.sign_in_gate()
    st.title(user.email)


def test_the_sign_in_cookie_is_written_even_when_the_signing_in_run_is_cut_short(accounts, monkeypatch) -> None:
    """A rerun can end the run that signed in before it reaches the cookie write (a cookie reader reporting
    after a sign-out in the same tab); the next run, already signed in, must still write it."""
    at = AppTest.from_function(_gate_alone, default_timeout=30).run()
    monkeypatch.setattr(auth, "_remember_browser", lambda *a, **k: None)  # the run ends before the write
    at = sign_in(at, "mei@example.com")
    assert [t.value for t in at.title] == ["mei@example.com"] and not _cookie_writes(at)
    monkeypatch.undo()
    at.run()
    [write] = _cookie_writes(at)
    claims = jwt.decode(write["value"], settings().cookie_key(), algorithms=["HS256"])
    assert write["cookie"] == settings().studio_cookie_name and claims["username"] == "mei@example.com"
