# ruff: noqa: F811 - the shared fixtures are imported from tests/billing_support.py
"""How the webhook is served: `streamlit run studio_app.py` (st.App, one port) and the billing CLI commands."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from sqlalchemy import text

from devtools.stripe_standin import post_webhook
from lib.cli.main import build_parser
from lib.core import settings as settings_module
from lib.core.errors import ConfigError
from tests.billing_support import committed, config, gateway, new_user, standin  # noqa: F401 - fixtures
from tests.conftest import COOKIE_KEY
from tests.test_run import free_port, wait_healthy

ROOT = Path(__file__).resolve().parent.parent


def stripe_env(standin) -> dict[str, str]:
    return {"STRIPE_SECRET_KEY": standin.api_key, "STRIPE_WEBHOOK_SECRET": standin.webhook_secret,
            "STRIPE_API_BASE": standin.url, "STRIPE_PRICE_BASIC": "price_basic_monthly",
            "STRIPE_PRICE_PRO": "price_pro_monthly", "STRIPE_MAX_NETWORK_RETRIES": "0"}


def run_cli(argv: list[str]) -> None:
    """Parse with the studio's parser and run the handler, letting a studio error through to the test."""
    args = build_parser().parse_args(argv)
    args.handler(args, settings_module.get_settings())


@pytest.mark.slow
def test_streamlit_run_studio_app_serves_the_webhook_beside_the_app(committed, database_url, standin, gateway,
                                                                    config, tmp_path) -> None:
    from lib.billing import subscriptions

    user = new_user(committed, "one-port@example.com")
    with committed.begin() as conn:
        subscriptions.start_checkout(conn, gateway, config=config, user_id=user.id, plan="basic")
    _, invoice = standin.complete_checkout(standin.objects("checkout.session")[0]["id"])
    port, log = free_port(), tmp_path / "streamlit.log"
    env = {**os.environ, **stripe_env(standin), "DATABASE_URL": database_url, "STUDIO_COOKIE_KEY": COOKIE_KEY,
           "STUDIO_HOME": str(tmp_path / "studio")}
    command = [sys.executable, "-m", "streamlit", "run", str(ROOT / "studio_app.py"), "--server.address",
               "127.0.0.1", "--server.port", str(port), "--server.headless", "true",
               "--browser.gatherUsageStats", "false"]
    with log.open("w") as out:
        process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        base = f"http://127.0.0.1:{port}"
        wait_healthy(base + "/healthz", process, log, timeout=60)
        wait_healthy(base + "/_stcore/health", process, log, timeout=30)  # the Streamlit app, same port
        payload, header = standin.signed(standin.event("invoice.paid", invoice))
        assert post_webhook(base + "/api/v1/stripe/webhook", payload, header + "0")[0] == 400
        assert post_webhook(base + "/api/v1/stripe/webhook", payload, header)[0] == 200
        # The REST API and the signed file links share the port; the webhook above still wins its own path.
        with urllib.request.urlopen(base + "/api/v1/openapi.json", timeout=30) as answer:
            assert "/batches/{batch_id}" in json.load(answer)["paths"]
        for path, status, needle in (("/api/v1/credits", 401, b'"code":"not_authenticated"'),
                                     ("/files/not-a-token", 403, b"Reload the page")):
            with pytest.raises(urllib.error.HTTPError) as refused:
                urllib.request.urlopen(base + path, timeout=30)
            assert refused.value.code == status and needle in refused.value.read(), path
    finally:
        process.terminate()
        process.wait(timeout=20)
    with committed.connect() as conn:
        assert conn.execute(text("SELECT plan FROM users WHERE id = :u"), {"u": user.id}).scalar() == "basic"


def test_billing_reconcile_json(committed, committed_env, standin, gateway, config, monkeypatch, capsys) -> None:
    from lib.billing import subscriptions

    user = new_user(committed, "cli@example.com")
    with committed.begin() as conn:
        subscriptions.start_checkout(conn, gateway, config=config, user_id=user.id, plan="pro")
    sub, _ = standin.complete_checkout(standin.objects("checkout.session")[0]["id"])  # no webhook arrives
    for name, value in stripe_env(standin).items():
        monkeypatch.setenv(name, value)
    settings_module.get_settings.cache_clear()
    run_cli(["billing", "reconcile", "--json"])
    report = json.loads(capsys.readouterr().out)
    assert report["repaired"] == 1
    assert report["repairs"][0]["subscription_id"] == sub["id"]
    assert report["repairs"][0]["user_plan_after"] == "pro"


def test_billing_reconcile_refuses_without_stripe(committed_env, monkeypatch) -> None:
    for name in ("STRIPE_SECRET_KEY", "STRIPE_PRICE_BASIC", "STRIPE_PRICE_PRO", "STRIPE_WEBHOOK_SECRET"):
        monkeypatch.delenv(name, raising=False)
    with pytest.raises(ConfigError, match="not configured"):
        run_cli(["billing", "reconcile"])
