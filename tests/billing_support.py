"""Fixtures shared by the billing tests: the Stripe stand-in, a gateway on it, and the webhook server."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import pytest
import uvicorn
from sqlalchemy import Engine, text
from starlette.applications import Starlette

from devtools.stripe_standin import StripeStandin
from lib.accounts import users
from lib.api import webhook as webhook_app
from lib.billing.gateway import StripeGateway
from lib.billing.subscriptions import BillingConfig
from lib.core.settings import Settings, load_settings
from tests.conftest import PASSWORD, wipe

PRICES = {"price_basic_monthly": 1900, "price_pro_monthly": 7900}


@pytest.fixture(scope="module")
def standin() -> Iterator[StripeStandin]:
    with StripeStandin(prices=PRICES) as server:
        yield server


@pytest.fixture(scope="module")
def gateway(standin: StripeStandin) -> StripeGateway:
    return StripeGateway(standin.api_key, api_base=standin.url, max_network_retries=0)


@pytest.fixture(scope="module")
def config(standin: StripeStandin) -> BillingConfig:
    return BillingConfig(prices={"basic": "price_basic_monthly", "pro": "price_pro_monthly"},
                         public_url="http://studio.test", webhook_secret=standin.webhook_secret)


def stripe_settings(standin: StripeStandin, **extra: object) -> Settings:
    return load_settings(stripe_secret_key=standin.api_key, stripe_webhook_secret=standin.webhook_secret,
                         stripe_api_base=standin.url, stripe_price_basic="price_basic_monthly",
                         stripe_price_pro="price_pro_monthly", stripe_max_network_retries=0, **extra)


@dataclass
class WebhookServer:
    url: str
    server: uvicorn.Server


@contextmanager
def serving(app: Starlette) -> Iterator[WebhookServer]:
    """An ASGI app under uvicorn in a thread, on a free port."""
    sock = socket.socket()
    # Accepted connections inherit it: without, a response written in two parts waits ~40 ms for a delayed ACK.
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.01)
    host, port = sock.getsockname()
    yield WebhookServer(f"http://{host}:{port}", server)
    server.should_exit = True
    thread.join(timeout=10)
    sock.close()


@pytest.fixture(scope="module")
def webhook_server(standin: StripeStandin, gateway: StripeGateway, engine: Engine) -> Iterator[WebhookServer]:
    """lib/api/webhook.py under uvicorn in a thread, on a free port, talking to the stand-in."""
    with serving(webhook_app.create_app(stripe_settings(standin), engine=engine, client=gateway)) as server:
        yield server


@pytest.fixture
def committed(engine: Engine) -> Iterator[Engine]:
    """Tests whose data other connections must see (the webhook server): commit, then empty the tables."""
    yield engine
    wipe(engine)
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM stripe_events"))


def new_user(engine: Engine, email: str, *, plan: str = "free") -> users.User:
    with engine.begin() as conn:
        return users.create_user(conn, email=email, password=PASSWORD, plan=plan)
