"""The Stripe webhook endpoint, `POST /api/v1/stripe/webhook`, plus `GET /healthz`, as Starlette routes.

`serve(settings, port)` runs them with uvicorn as a process of their own beside `streamlit run`
(what the runner starts). `routes(settings)` returns the same routes for `st.App(..., routes=...)`.
Answers: 200 for a stored or duplicate event, also for one that can never be acted on (a malformed id:
stored as unprocessable, with `unprocessable` saying why), 400 for a bad signature or body (nothing
stored), 413 once a body passes WEBHOOK_MAX_BYTES (counted as received, chunked or not; the rest is never
read), 503 when billing is not configured, 502 when Stripe cannot be reached to re-fetch (Stripe retries
every non-2xx answer for days, and a retried event is processed at most once).
"""

from __future__ import annotations

import logging

import uvicorn
from sqlalchemy import Engine, text
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from lib.accounts import bootstrap
from lib.api import bodies
from lib.api.boundary import guarded
from lib.api.lazy import Lazy
from lib.billing import subscriptions
from lib.billing.gateway import BillingGateway
from lib.core import db
from lib.core.errors import BillingError, WebhookRejected
from lib.core.settings import Settings

log = logging.getLogger(__name__)

WEBHOOK_PATH = "/api/v1/stripe/webhook"


class _Endpoint:
    """The webhook's dependencies, built on first use (tests pass their own engine and client)."""

    def __init__(self, settings: Settings, engine: Engine | None, client: BillingGateway | None) -> None:
        self.settings = settings
        self.engine = Lazy(lambda: db.get_engine(settings), engine)
        self.client = Lazy(lambda: subscriptions.client_from_settings(settings), client)

    def handle(self, payload: bytes, signature: str | None) -> JSONResponse:
        config = subscriptions.config_from_settings(self.settings)
        if config is None or not config.webhook_secret:
            return JSONResponse({"error": "billing is not configured"}, status_code=503)
        try:
            with self.engine().begin() as conn:
                result = subscriptions.handle_webhook(conn, self.client(), config=config, payload=payload,
                                                signature=signature)
        except WebhookRejected as exc:
            log.warning("Stripe webhook rejected: %s", exc)
            return JSONResponse({"error": str(exc)}, status_code=400)
        except BillingError as exc:
            return JSONResponse({"error": str(exc)}, status_code=502)
        answer = {"received": True, "id": result.event_id, "duplicate": result.duplicate,
                  "processed": result.processed}
        return JSONResponse({**answer, "unprocessable": result.unprocessable} if result.unprocessable else answer)

    def health(self) -> JSONResponse:
        try:
            with self.engine().connect() as conn:
                conn.execute(text("SELECT 1"))
        except Exception as exc:  # noqa: BLE001 - any database failure means unhealthy
            return JSONResponse({"status": "database unavailable", "error": type(exc).__name__}, status_code=503)
        return JSONResponse({"status": "ok", "billing": self.settings.billing_configured})


def routes(settings: Settings, *, engine: Engine | None = None,
           client: BillingGateway | None = None) -> list[BaseRoute]:
    """The webhook and health routes; without `engine`/`client` they are built from `settings` on first use."""
    endpoint = _Endpoint(settings, engine, client)

    async def webhook(request: Request, payload: bytes) -> Response:  # the raw bytes: the signature covers them
        return await run_in_threadpool(endpoint.handle, payload, request.headers.get("stripe-signature"))

    async def healthz(request: Request, _body: bytes) -> Response:
        return await run_in_threadpool(endpoint.health)

    limit = settings.webhook_max_bytes
    return [Route(WEBHOOK_PATH, guarded(bodies.bounded(webhook, limit=limit)), methods=["POST"]),
            Route("/healthz", guarded(bodies.bounded(healthz, limit=0)), methods=["GET"])]


def create_app(settings: Settings, *, engine: Engine | None = None, client: BillingGateway | None = None) -> Starlette:
    return Starlette(routes=routes(settings, engine=engine, client=client))


def serve(settings: Settings, port: int | None = None, *, host: str = "127.0.0.1") -> None:
    """Run the webhook server until interrupted (migrates first, like every studio process)."""
    settings.validate_for_startup()
    engine = bootstrap.prepare_database(settings)
    port = port or settings.stripe_webhook_port
    log.info("Stripe webhook endpoint on http://%s:%d%s", host, port, WEBHOOK_PATH)
    uvicorn.run(create_app(settings, engine=engine), host=host, port=port, log_level="info",
                proxy_headers=True, server_header=False)
