"""A local stand-in for the Stripe API that unmodified stripe-python can talk to over HTTP.

It speaks the v1 wire format stripe-python 16 uses: form-encoded POSTs with bracketed keys
(`line_items[0][price]=…`), query strings on GETs, `Authorization: Bearer <key>`, an optional
`Idempotency-Key`, JSON objects carrying `id` and `object`, lists as `{"object": "list", "data": …,
"has_more": …}` paged with `starting_after`, and errors as `{"error": {"type", "code", "message", "param"}}`.

Served: customers (create, retrieve), checkout.sessions (create, retrieve), billing_portal.sessions
(create), subscriptions (retrieve, list, update, cancel) and prices (retrieve), in memory, in the
2025+ shape (price and period on the subscription's items; an invoice names its subscription under
`parent.subscription_details`). Tests drive what a customer would do with Python methods
(`complete_checkout`, `set_subscription`, `renew`) and make signed webhooks the way Stripe does
(`t=<ts>,v1=<hex HMAC-SHA256 of "<ts>.<payload>">`), optionally POSTing them with `deliver`.

    with StripeStandin(prices={"price_basic": 1900}) as stripe_server:
        gateway = StripeGateway(stripe_server.api_key, api_base=stripe_server.url, max_network_retries=0)
"""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json
import logging
import re
import secrets
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self
from urllib.parse import parse_qsl, urlsplit

log = logging.getLogger(__name__)

API_VERSION = "2026-10-28.endive"
PERIOD_SECONDS = 30 * 24 * 3600
Json = dict[str, Any]


class StandinError(Exception):
    """An API error the stand-in answers with (HTTP status and Stripe's error body)."""

    def __init__(self, status: int, message: str, *, code: str | None = None, param: str | None = None,
                 kind: str = "invalid_request_error") -> None:
        super().__init__(message)
        self.status = status
        self.body = {"error": {"type": kind, "code": code, "message": message, "param": param}}


def decode_form(pairs: list[tuple[str, str]]) -> Json:
    """Stripe's bracketed form keys to nested dicts and lists: `a[0][b]=1` -> {"a": [{"b": "1"}]}."""
    root: Json = {}
    for key, value in pairs:
        parts = re.findall(r"[^\[\]]+", key)
        node = root
        for part in parts[:-1]:
            node = node.setdefault(part, {})
        node[parts[-1]] = value
    return _listify(root)


def _listify(node: Any) -> Any:
    if not isinstance(node, dict):
        return node
    node = {k: _listify(v) for k, v in node.items()}
    if node and all(k.isdigit() for k in node):
        return [node[k] for k in sorted(node, key=int)]
    return node


def sign(payload: bytes, secret: str, *, timestamp: int | None = None) -> str:
    """A `Stripe-Signature` header for the payload, as Stripe computes it."""
    ts = int(time.time()) if timestamp is None else timestamp
    digest = hmac.new(secret.encode(), f"{ts}.".encode() + payload, hashlib.sha256).hexdigest()
    return f"t={ts},v1={digest}"


def _list(data: list[Json], url: str, *, has_more: bool = False) -> Json:
    return {"object": "list", "url": url, "has_more": has_more, "data": data}


class _State:
    """The stand-in's objects; every method runs under one lock."""

    def __init__(self, base_url: Callable[[], str]) -> None:
        self.lock = threading.RLock()
        self.base_url = base_url
        self.objects: dict[str, Json] = {}
        self.private: dict[str, Json] = {}  # what a checkout session will buy (not part of the wire object)
        self.idempotent: dict[str, Json] = {}
        self.refused: dict[str, StandinError] = {}  # ids answered with an error, whatever is asked of them
        self.requests: list[tuple[str, str]] = []
        self._ids = itertools.count(1)

    def new_id(self, prefix: str) -> str:
        # Random like Stripe's, so ids never repeat across stand-ins sharing one test database.
        return f"{prefix}_{secrets.token_hex(6)}{next(self._ids):04d}"

    def get(self, object_id: str, kind: str) -> Json:
        found = self.objects.get(object_id)
        if found is None or found["object"] != kind:
            raise StandinError(404, f"No such {kind}: '{object_id}'", code="resource_missing", param="id")
        return found

    def add(self, obj: Json) -> Json:
        self.objects[obj["id"]] = obj
        return obj

    def of_kind(self, kind: str) -> list[Json]:
        return [o for o in reversed(self.objects.values()) if o["object"] == kind]  # newest first, as Stripe

    def price(self, price_id: str, amount: int = 1900) -> Json:
        return self.add({"id": price_id, "object": "price", "active": True, "currency": "usd",
                         "unit_amount": amount, "product": f"prod_{price_id}", "type": "recurring",
                         "recurring": {"interval": "month", "interval_count": 1}, "livemode": False})

    def customer(self, params: Json) -> Json:
        return self.add({"id": self.new_id("cus"), "object": "customer", "created": int(time.time()),
                         "email": params.get("email"), "metadata": params.get("metadata") or {},
                         "livemode": False})

    def checkout_session(self, params: Json) -> Json:
        if params.get("mode") != "subscription":
            raise StandinError(400, "the stand-in only sells subscriptions", param="mode")
        items = params.get("line_items") or []
        if len(items) != 1 or not isinstance(items[0], dict):
            raise StandinError(400, "give exactly one line item", param="line_items")
        price = self.get(items[0].get("price", ""), "price")
        customer = params.get("customer")
        if customer:
            self.get(customer, "customer")
        session_id = self.new_id("cs_test")
        self.private[session_id] = {"price": price["id"],
                                    "metadata": (params.get("subscription_data") or {}).get("metadata") or {}}
        return self.add({
            "id": session_id, "object": "checkout.session", "mode": "subscription", "status": "open",
            "payment_status": "unpaid", "customer": customer, "client_reference_id": params.get("client_reference_id"),
            "success_url": params.get("success_url"), "cancel_url": params.get("cancel_url"),
            "url": f"{self.base_url()}/c/pay/{session_id}", "subscription": None,
            "metadata": params.get("metadata") or {}, "livemode": False,
        })

    def portal_session(self, params: Json) -> Json:
        customer = self.get(params.get("customer", ""), "customer")
        session_id = self.new_id("bps")
        return self.add({"id": session_id, "object": "billing_portal.session", "customer": customer["id"],
                         "return_url": params.get("return_url"), "url": f"{self.base_url()}/p/session/{session_id}",
                         "livemode": False, "created": int(time.time())})

    def subscription(self, customer: str, price_id: str, metadata: Json, status: str = "active") -> Json:
        now = int(time.time())
        sub_id = self.new_id("sub")
        return self.add({
            "id": sub_id, "object": "subscription", "customer": customer, "status": status, "created": now,
            "cancel_at_period_end": False, "canceled_at": None, "metadata": dict(metadata), "livemode": False,
            "items": _list([self._item(sub_id, price_id, now)], f"/v1/subscription_items?subscription={sub_id}"),
        })

    def _item(self, sub_id: str, price_id: str, start: int) -> Json:
        return {"id": self.new_id("si"), "object": "subscription_item", "subscription": sub_id, "quantity": 1,
                "price": self.get(price_id, "price"), "current_period_start": start,
                "current_period_end": start + PERIOD_SECONDS}

    def update_subscription(self, sub_id: str, params: Json) -> Json:
        sub = self.get(sub_id, "subscription")
        items = params.get("items") or []
        if items and isinstance(items[0], dict) and items[0].get("price"):
            item = sub["items"]["data"][0]
            item["price"] = self.get(items[0]["price"], "price")
        if "cancel_at_period_end" in params:
            sub["cancel_at_period_end"] = str(params["cancel_at_period_end"]).lower() == "true"
        if isinstance(params.get("metadata"), dict):
            sub["metadata"].update(params["metadata"])
        if params.get("status"):  # not a real API parameter: the stand-in's own control
            sub["status"] = params["status"]
            sub["canceled_at"] = int(time.time()) if params["status"] == "canceled" else None
        return sub

    def invoice(self, sub: Json, reason: str) -> Json:
        item = sub["items"]["data"][0]
        price = item["price"]
        invoice_id = self.new_id("in")
        line = {"id": self.new_id("il"), "object": "line_item", "amount": price["unit_amount"], "quantity": 1,
                "pricing": {"type": "price_details", "price_details": {"price": price["id"],
                                                                       "product": price["product"]}},
                "period": {"start": item["current_period_start"], "end": item["current_period_end"]}}
        return self.add({
            "id": invoice_id, "object": "invoice", "customer": sub["customer"], "status": "paid",
            "billing_reason": reason, "amount_paid": price["unit_amount"], "currency": "usd", "livemode": False,
            "parent": {"type": "subscription_details", "quote_details": None,
                       "subscription_details": {"subscription": sub["id"], "metadata": sub["metadata"]}},
            "lines": _list([line], f"/v1/invoices/{invoice_id}/lines"),
        })

    def list_subscriptions(self, params: Json) -> Json:
        found = self.of_kind("subscription")
        status = params.get("status")
        if status != "all":
            found = [s for s in found if s["status"] == status] if status else [
                s for s in found if s["status"] != "canceled"]
        if params.get("customer"):
            found = [s for s in found if s["customer"] == params["customer"]]
        if params.get("starting_after"):
            ids = [s["id"] for s in found]
            found = found[ids.index(params["starting_after"]) + 1:] if params["starting_after"] in ids else []
        limit = int(params.get("limit") or 10)
        return _list(found[:limit], "/v1/subscriptions", has_more=len(found) > limit)


_ROUTES: list[tuple[str, re.Pattern[str], str]] = [
    ("POST", re.compile(r"^/v1/customers$"), "create_customer"),
    ("GET", re.compile(r"^/v1/customers/(?P<id>[\w-]+)$"), "retrieve_customer"),
    ("POST", re.compile(r"^/v1/checkout/sessions$"), "create_checkout"),
    ("GET", re.compile(r"^/v1/checkout/sessions/(?P<id>[\w-]+)$"), "retrieve_checkout"),
    ("POST", re.compile(r"^/v1/billing_portal/sessions$"), "create_portal"),
    ("GET", re.compile(r"^/v1/subscriptions$"), "list_subscriptions"),
    ("GET", re.compile(r"^/v1/subscriptions/(?P<id>[\w-]+)$"), "retrieve_subscription"),
    ("POST", re.compile(r"^/v1/subscriptions/(?P<id>[\w-]+)$"), "update_subscription"),
    ("DELETE", re.compile(r"^/v1/subscriptions/(?P<id>[\w-]+)$"), "cancel_subscription"),
    ("GET", re.compile(r"^/v1/prices/(?P<id>[\w-]+)$"), "retrieve_price"),
]


def _dispatch(state: _State, action: str, object_id: str | None, params: Json) -> Json:
    actions: dict[str, Callable[[], Json]] = {
        "create_customer": lambda: state.customer(params),
        "retrieve_customer": lambda: state.get(object_id or "", "customer"),
        "create_checkout": lambda: state.checkout_session(params),
        "retrieve_checkout": lambda: state.get(object_id or "", "checkout.session"),
        "create_portal": lambda: state.portal_session(params),
        "list_subscriptions": lambda: state.list_subscriptions(params),
        "retrieve_subscription": lambda: state.get(object_id or "", "subscription"),
        "update_subscription": lambda: state.update_subscription(object_id or "", params),
        "cancel_subscription": lambda: state.update_subscription(object_id or "", {"status": "canceled"}),
        "retrieve_price": lambda: state.get(object_id or "", "price"),
    }
    return actions[action]()


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("stripe stand-in: " + format, *args)

    def do_GET(self) -> None:
        self._handle("GET")

    def do_POST(self) -> None:
        self._handle("POST")

    def do_DELETE(self) -> None:
        self._handle("DELETE")

    def _handle(self, method: str) -> None:
        state = self.server.state
        split = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length).decode() if length else ""
        params = decode_form(parse_qsl(split.query if method != "POST" else body, keep_blank_values=True))
        try:
            self._check_key()
            with state.lock:
                state.requests.append((method, split.path))
                answer = self._answer(state, method, split.path, params)
            self._send(200, answer)
        except StandinError as exc:
            self._send(exc.status, exc.body)

    def _check_key(self) -> None:
        if self.headers.get("Authorization") != f"Bearer {self.server.api_key}":
            raise StandinError(401, "Invalid API Key provided", kind="invalid_request_error")

    def _answer(self, state: _State, method: str, path: str, params: Json) -> Json:
        for object_id, error in state.refused.items():
            if path.rstrip("/").endswith("/" + object_id):
                raise error
        key = self.headers.get("Idempotency-Key") if method == "POST" else None
        if key and f"{path}:{key}" in state.idempotent:
            return state.idempotent[f"{path}:{key}"]
        for route_method, pattern, action in _ROUTES:
            match = pattern.match(path)
            if match and route_method == method:
                answer = _dispatch(state, action, match.groupdict().get("id"), params)
                if key:
                    state.idempotent[f"{path}:{key}"] = answer
                return answer
        raise StandinError(404, f"Unrecognized request URL ({method}: {path})")

    def _send(self, status: int, body: Json) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Request-Id", f"req_standin{time.monotonic_ns()}")
        self.end_headers()
        self.wfile.write(data)


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address: tuple[str, int], state: _State, api_key: str) -> None:
        super().__init__(address, _Handler)
        self.state = state
        self.api_key = api_key


class StripeStandin:
    """The stand-in server on 127.0.0.1 (port 0 = any free port), serving from a background thread."""

    def __init__(self, *, api_key: str = "sk_test_standin", webhook_secret: str = "whsec_standin",
                 prices: dict[str, int] | None = None, port: int = 0) -> None:
        self.api_key = api_key
        self.webhook_secret = webhook_secret
        self._port = port
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self.state = _State(lambda: self.url)
        for price_id, amount in (prices or {}).items():
            self.state.price(price_id, amount)

    @property
    def url(self) -> str:
        if self._server is None:
            raise RuntimeError("the stand-in is not running")
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> str:
        self._server = _Server(("127.0.0.1", self._port), self.state, self.api_key)
        self._thread = threading.Thread(target=self._server.serve_forever, name="stripe-standin", daemon=True)
        self._thread.start()
        return self.url

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._server = self._thread = None

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def requests(self) -> list[tuple[str, str]]:
        """(method, path) of every API request so far."""
        with self.state.lock:
            return list(self.state.requests)

    def objects(self, kind: str) -> list[Json]:
        """Every object of a kind ("customer", "subscription", …), newest first."""
        with self.state.lock:
            return json.loads(json.dumps(self.state.of_kind(kind)))

    def complete_checkout(self, session_id: str) -> tuple[Json, Json]:
        """The customer pays: the session completes, an active subscription and its paid invoice appear."""
        with self.state.lock:
            session = self.state.get(session_id, "checkout.session")
            bought = self.state.private[session_id]
            customer = session["customer"] or self.state.customer({})["id"]
            sub = self.state.subscription(customer, bought["price"], bought["metadata"])
            session.update(status="complete", payment_status="paid", customer=customer, subscription=sub["id"])
            return self._copy(sub), self._copy(self.state.invoice(sub, "subscription_create"))

    def set_subscription(self, sub_id: str, *, status: str | None = None, price: str | None = None) -> Json:
        """Change a subscription behind the studio's back (as the portal or a failed payment would)."""
        params: Json = {"status": status} if status else {}
        if price:
            params["items"] = [{"price": price}]
        with self.state.lock:
            return self._copy(self.state.update_subscription(sub_id, params))

    def refuse(self, object_id: str, *, status: int = 400, message: str | None = None) -> None:
        """From now on answer every request for `object_id` with an invalid_request_error, as Stripe does
        for an id it will never serve (another account's, the other mode's)."""
        with self.state.lock:
            self.state.refused[object_id] = StandinError(status, message or f"Invalid id: '{object_id}'", param="id")

    def renew(self, sub_id: str) -> Json:
        """A new billing period: the next paid invoice of the subscription."""
        with self.state.lock:
            return self._copy(self.state.invoice(self.state.get(sub_id, "subscription"), "subscription_cycle"))

    def event(self, event_type: str, obj: Json, *, event_id: str | None = None) -> Json:
        """An event wrapping a snapshot of `obj`, as Stripe would send it."""
        with self.state.lock:
            return {"id": event_id or self.state.new_id("evt"), "object": "event", "api_version": API_VERSION,
                    "created": int(time.time()), "type": event_type, "livemode": False, "pending_webhooks": 1,
                    "request": {"id": None, "idempotency_key": None}, "data": {"object": self._copy(obj)}}

    def signed(self, event: Json, *, secret: str | None = None, timestamp: int | None = None) -> tuple[bytes, str]:
        """The raw body and `Stripe-Signature` header of a webhook delivery."""
        payload = json.dumps(event, separators=(",", ":")).encode()
        return payload, sign(payload, secret or self.webhook_secret, timestamp=timestamp)

    def deliver(self, url: str, event: Json, **signing: Any) -> tuple[int, Json]:
        """POST the event to a webhook endpoint over HTTP, signed; returns (status, JSON answer)."""
        payload, header = self.signed(event, **signing)
        return post_webhook(url, payload, header)

    @staticmethod
    def _copy(obj: Json) -> Json:
        return json.loads(json.dumps(obj))


def post_webhook(url: str, payload: bytes, signature: str | None) -> tuple[int, Json]:
    """POST a raw webhook body with its signature header; returns (status, JSON answer or {"text": …})."""
    headers = {"Content-Type": "application/json", **({"Stripe-Signature": signature} if signature else {})}
    request = urllib.request.Request(url, data=payload, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, _json(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, _json(exc.read())


def _json(body: bytes) -> Json:
    try:
        return json.loads(body or b"{}")
    except ValueError:
        return {"text": body.decode(errors="replace")}  # e.g. a server's plain "Internal Server Error"
