"""`GET /metrics` on the studio's port: Prometheus' text format (lib/ops/metrics.py).

Who may scrape: with METRICS_TOKEN set, requests with `Authorization: Bearer <METRICS_TOKEN>`; without it,
only this machine (a scraper or agent beside the studio). Anyone else gets 403.
"""

from __future__ import annotations

import hmac
import ipaddress

from prometheus_client import CONTENT_TYPE_LATEST
from sqlalchemy import Engine
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import BaseRoute, Route

from lib.api.boundary import guarded
from lib.api.lazy import Lazy
from lib.core import db
from lib.core.settings import Settings
from lib.ops import metrics

METRICS_PATH = "/metrics"


def allowed(request: Request, settings: Settings) -> bool:
    """A scraper with the token, or (without one configured) a client on this machine."""
    token = settings.metrics_token.get_secret_value() if settings.metrics_token else None
    if token:
        sent = request.headers.get("authorization", "")
        return hmac.compare_digest(sent.encode(), f"Bearer {token}".encode())
    peer = request.client.host if request.client else ""
    try:
        return ipaddress.ip_address(peer).is_loopback
    except ValueError:
        return False


def routes(settings: Settings, *, engine: Engine | None = None) -> list[BaseRoute]:
    database = Lazy(lambda: db.get_engine(settings), engine)

    def scrape() -> bytes:
        return metrics.scrape(database(), window_seconds=settings.metrics_window_seconds,
                              stall_seconds=settings.worker_stall_seconds)

    async def serve(request: Request) -> Response:
        if not allowed(request, settings):
            return PlainTextResponse("Metrics are for this machine, or for a scraper with METRICS_TOKEN.",
                                     status_code=403)
        return Response(await run_in_threadpool(scrape), media_type=CONTENT_TYPE_LATEST)

    return [Route(METRICS_PATH, guarded(serve), methods=["GET"])]
