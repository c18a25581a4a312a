# ruff: noqa: F811 - the shared fixtures are imported from tests/billing_support.py
"""The public routes read bodies as bounded streams: a 100 MB chunked upload is refused without being held.

The server runs as its own process (`python -m lib billing webhook`) so its memory can be read from /proc.
"""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from starlette.applications import Starlette

from lib.api import webhook as webhook_app
from tests.billing_support import standin, stripe_settings  # noqa: F401 - fixture
from tests.conftest import COOKIE_KEY
from tests.test_billing_serving import stripe_env
from tests.test_run import free_port, wait_healthy

ROOT = Path(__file__).resolve().parent.parent
MIB = 1024 * 1024
ATTACK_MIB = 100
GROWTH_LIMIT = 50 * MIB


def memory(pid: int, field: str) -> int:
    """VmRSS or VmHWM of a process, in bytes."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) * 1024
    raise AssertionError(f"no {field} in /proc/{pid}/status")


def reset_peak(pid: int) -> None:
    Path(f"/proc/{pid}/clear_refs").write_text("5")  # "5" resets VmHWM to the current RSS (Linux 4.0+)


SERVERS = {
    "alone": ["-m", "lib", "billing", "webhook", "--port", "{port}"],
    "beside the app": ["-m", "streamlit", "run", "studio_app.py", "--server.address", "127.0.0.1", "--server.port",
                       "{port}", "--server.headless", "true", "--browser.gatherUsageStats", "false"],
}


@pytest.fixture(scope="module", params=[pytest.param("alone"),
                                        pytest.param("beside the app", marks=pytest.mark.slow)])
def server(request, database_url: str, standin, tmp_path_factory) -> Iterator[tuple[int, subprocess.Popen]]:
    """The public routes served alone (`python -m lib billing webhook`) or by `streamlit run studio_app.py`,
    billing configured against the stand-in (as deployed)."""
    port, home = free_port(), tmp_path_factory.mktemp("studio")
    log = home / "server.log"
    env = {**os.environ, **stripe_env(standin), "DATABASE_URL": database_url, "STUDIO_COOKIE_KEY": COOKIE_KEY,
           "STUDIO_HOME": str(home)}
    command = [sys.executable, *(arg.format(port=port) for arg in SERVERS[request.param])]
    with log.open("w") as out:
        process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        wait_healthy(f"http://127.0.0.1:{port}/healthz", process, log, timeout=60)
        yield port, process
    finally:
        process.terminate()
        process.wait(timeout=20)


def chunked(mib: int) -> Iterator[bytes]:
    """A chunked request body of `mib` chunks of 1 MiB each (no Content-Length exists for it)."""
    chunk = b"%x\r\n" % MIB + b"{" * MIB + b"\r\n"
    for _ in range(mib):
        yield chunk
    yield b"0\r\n\r\n"


def send(port: int, head: str, body: Iterator[bytes]) -> int:
    """Send a raw request; stop sending when the server hangs up; return the status of its answer."""
    with socket.create_connection(("127.0.0.1", port), timeout=60) as sock:
        sock.sendall(head.encode() + b"\r\n")
        try:
            for part in body:
                sock.sendall(part)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the server answered and closed: it stopped reading, which is the point
        status_line = sock.makefile("rb").readline()
    assert status_line.startswith(b"HTTP/1.1 "), status_line
    return int(status_line.split()[1])


def attacked(port: int, process: subprocess.Popen, head: str, body: Iterator[bytes]) -> tuple[int, int]:
    """(status, growth of the server's peak memory in bytes) for one request."""
    before = memory(process.pid, "VmRSS")
    reset_peak(process.pid)
    status = send(port, head, body)
    return status, memory(process.pid, "VmHWM") - before


def post(path: str, port: int, *headers: str) -> str:
    return "\r\n".join([f"POST {path} HTTP/1.1", f"Host: 127.0.0.1:{port}", "Content-Type: application/json",
                        "Stripe-Signature: t=1,v1=00", *headers, ""])


def test_chunked_100_mb_webhook_body_is_refused_with_memory_bounded(server) -> None:
    port, process = server
    status, growth = attacked(port, process, post(webhook_app.WEBHOOK_PATH, port, "Transfer-Encoding: chunked"),
                              chunked(ATTACK_MIB))
    assert status == 413
    assert growth < GROWTH_LIMIT, f"the server grew by {growth / MIB:.0f} MiB"
    assert process.poll() is None


def test_chunked_100_mb_body_to_healthz_is_refused_with_memory_bounded(server) -> None:
    port, process = server
    head = "\r\n".join(["GET /healthz HTTP/1.1", f"Host: 127.0.0.1:{port}", "Transfer-Encoding: chunked", ""])
    status, growth = attacked(port, process, head, chunked(ATTACK_MIB))
    assert status == 413
    assert growth < GROWTH_LIMIT, f"the server grew by {growth / MIB:.0f} MiB"


def test_a_lying_content_length_does_not_let_a_body_through(server) -> None:
    """The header claims 64 bytes and 100 MB follow: the server takes 64 bytes as the body and no more."""
    port, process = server
    status, growth = attacked(port, process, post(webhook_app.WEBHOOK_PATH, port, "Content-Length: 64"),
                              chunked(ATTACK_MIB))
    assert status == 400  # the 64 bytes are not a signed event
    assert growth < GROWTH_LIMIT, f"the server grew by {growth / MIB:.0f} MiB"


async def call(app: Starlette, headers: list[tuple[bytes, bytes]], parts: int, size: int) -> tuple[int, int]:
    """Drive the ASGI app directly: (status, body bytes it pulled) when `parts` chunks of `size` are offered."""
    pulled, answer = 0, {}
    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST",
             "scheme": "http", "path": webhook_app.WEBHOOK_PATH, "raw_path": webhook_app.WEBHOOK_PATH.encode(),
             "query_string": b"", "root_path": "", "headers": headers, "client": ("127.0.0.1", 1),
             "server": ("127.0.0.1", 80)}

    async def receive() -> dict:
        nonlocal pulled
        pulled += 1
        return {"type": "http.request", "body": b"x" * size, "more_body": pulled < parts}

    async def send_(message: dict) -> None:
        answer.setdefault("status", message.get("status"))

    await app(scope, receive, send_)
    return answer["status"], pulled * size


def test_the_limit_counts_bytes_received_not_the_header(standin, engine) -> None:
    """Behind a server that does not enforce framing, a small Content-Length must not let 100 MB in."""
    settings = stripe_settings(standin)
    app = webhook_app.create_app(settings, engine=engine)
    status, pulled = asyncio.run(call(app, [(b"content-length", b"10")], parts=ATTACK_MIB, size=MIB))
    assert status == 413
    assert pulled <= settings.webhook_max_bytes + MIB  # it stopped at the first chunk over the limit
