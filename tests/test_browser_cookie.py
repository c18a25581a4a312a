"""A forged re-authentication cookie in a real browser: the sign-in form still renders, nothing signs in.

streamlit-authenticator decodes the cookie itself and catches only some PyJWT errors: a token with
`alg: none` or signed with HS512 raised InvalidAlgorithmError before the form rendered. AppTest cannot
send cookies, so this drives Chromium against `python -m lib run` (fixtures of tests/test_browser.py).
"""

from __future__ import annotations

import base64
import json
import time

import jwt
import pytest

from tests.test_browser import ADMIN, IDLE, browser, new_browser_page, settle, studio  # noqa: F401 - fixtures

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def _b64(data: dict) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def forged_tokens() -> dict[str, str]:
    claims = {"username": ADMIN, "exp_date": time.time() + 86400}
    return {"alg-none": f"{_b64({'alg': 'none', 'typ': 'JWT'})}.{_b64(claims)}.",
            "hs512": jwt.encode(claims, "an attacker's key, long enough for HS512 " * 2, algorithm="HS512")}


@pytest.mark.parametrize("kind", ["alg-none", "hs512"])
def test_a_forged_cookie_still_gets_the_sign_in_form(browser, studio, kind: str) -> None:  # noqa: F811
    page = new_browser_page(browser, studio)
    try:
        page.context.add_cookies([{"name": "miyabi_studio_auth", "value": forged_tokens()[kind],
                                   "url": studio.url}])
        page.goto("/")
        settle(page, quiet_ms=600)
        assert page.get_by_role("button", name="Sign in").count() == 1
        assert page.get_by_role("heading", name="Characters").count() == 0
        assert page.get_by_text("InvalidAlgorithmError").count() == 0
        assert page.get_by_test_id("stException").count() == 0
        assert page.locator(IDLE).count() == 1
    finally:
        page.context.close()
