"""The Gemini stand-in on the wire: raw HTTP with urllib, plus the SDK for listing models."""

from __future__ import annotations

import base64
import io
import json
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest
from google import genai
from google.genai import types
from PIL import Image

from devtools.gemini_standin import (
    StandinConfig,
    StandinServer,
    b64decode_any,
    config_from_args,
    output_size,
    parse_args,
)
from tests.test_run import ROOT, free_port

KEY = "test-key"
MODEL = "gemini-3.1-flash-image"


@pytest.fixture
def server() -> Iterator[StandinServer]:
    with StandinServer(api_keys={KEY}) as srv:
        yield srv


@pytest.fixture(scope="module")
def png() -> bytes:
    out = io.BytesIO()
    # Colours chosen so standard and URL-safe base64 of this file differ.
    Image.new("RGB", (64, 96), (251, 255, 254)).save(out, format="PNG")
    return out.getvalue()


def call(url: str, body: dict[str, Any] | None = None, *, key: str | None = KEY) -> tuple[int, dict[str, Any]]:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method="POST" if data is not None else "GET")
    request.add_header("Content-Type", "application/json")
    if key is not None:
        request.add_header("x-goog-api-key", key)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        with error:
            return error.code, json.loads(error.read())


def edit_body(png: bytes, *, urlsafe: bool = True, mime_key: str = "mime_type") -> dict[str, Any]:
    encode = base64.urlsafe_b64encode if urlsafe else base64.standard_b64encode
    return {
        "contents": [{"role": "user", "parts": [
            {"inlineData": {"data": encode(png).decode(), mime_key: "image/png"}},
            {"text": "now smiling"},
        ]}],
        "generationConfig": {
            "responseModalities": ["IMAGE"],
            "imageConfig": {"aspectRatio": "2:3", "imageSize": "1K"},
        },
    }


def generate_url(server: StandinServer, version: str = "v1beta", model: str = MODEL) -> str:
    return f"{server.base_url}/{version}/models/{model}:generateContent"


def image_of(answer: dict[str, Any]) -> Image.Image:
    part = answer["candidates"][0]["content"]["parts"][-1]
    assert part["inlineData"]["mimeType"] == "image/png"
    return Image.open(io.BytesIO(base64.b64decode(part["inlineData"]["data"])))


@pytest.mark.parametrize("urlsafe", [True, False])
@pytest.mark.parametrize("mime_key", ["mime_type", "mimeType"])
@pytest.mark.parametrize("version", ["v1", "v1beta"])
def test_both_base64_alphabets_and_mime_spellings_are_accepted(
    server: StandinServer, png: bytes, urlsafe: bool, mime_key: str, version: str
) -> None:
    body = edit_body(png, urlsafe=urlsafe, mime_key=mime_key)
    status, answer = call(generate_url(server, version), body)
    assert status == 200
    assert image_of(answer).size == (832, 1248)  # 2:3 at ~1024² pixels
    assert answer["candidates"][0]["finishReason"] == "STOP"
    assert answer["usageMetadata"]["candidatesTokensDetails"] == [{"modality": "IMAGE", "tokenCount": 1120}]
    assert server.stats()["by_outcome"] == {"ok": 1}


def test_base64_decoding_handles_both_alphabets_without_padding(png: bytes) -> None:
    assert base64.urlsafe_b64encode(png) != base64.standard_b64encode(png)
    assert b64decode_any(base64.urlsafe_b64encode(png).decode().rstrip("=")) == png
    assert b64decode_any(base64.standard_b64encode(png).decode()) == png


@pytest.mark.parametrize(("key", "status", "google_status"), [(None, 401, "UNAUTHENTICATED"),
                                                              ("nope", 403, "PERMISSION_DENIED")])
def test_api_key_is_required(
    server: StandinServer, png: bytes, key: str | None, status: int, google_status: str
) -> None:
    code, answer = call(generate_url(server), edit_body(png), key=key)
    assert (code, answer["error"]["code"], answer["error"]["status"]) == (status, status, google_status)
    assert server.stats()["by_outcome"] == {"auth": 1}


@pytest.mark.parametrize(
    "parts",
    [
        [],
        [{"text": "only words"}],
        [{"inlineData": {"data": "***", "mimeType": "image/png"}}, {"text": "not base64"}],
        [{"inlineData": {"data": "aGVsbG8=", "mimeType": "image/png"}}, {"text": "not an image"}],
        [{"inlineData": {"data": "aGVsbG8=", "mimeType": "text/plain"}}, {"text": "wrong MIME type"}],
    ],
)
def test_malformed_requests_get_google_shaped_400s(server: StandinServer, parts: list[dict[str, Any]]) -> None:
    status, answer = call(generate_url(server), {"contents": [{"role": "user", "parts": parts}]})
    assert (status, answer["error"]["status"]) == (400, "INVALID_ARGUMENT")
    assert server.stats()["by_outcome"] == {"invalid_400": 1}


def test_unknown_model_and_unsupported_size(server: StandinServer, png: bytes) -> None:
    status, answer = call(generate_url(server, model="gemini-0-nothing"), edit_body(png))
    assert (status, answer["error"]["status"]) == (404, "NOT_FOUND")
    body = edit_body(png)
    body["generationConfig"]["imageConfig"]["imageSize"] = "4K"
    status, answer = call(generate_url(server, model="gemini-3.1-flash-lite-image"), body)
    assert status == 400 and "4K" in answer["error"]["message"]


def test_models_are_listed_over_the_sdk(server: StandinServer) -> None:
    options = types.HttpOptions(base_url=server.base_url, api_version="v1beta", timeout=5000)
    client = genai.Client(api_key=KEY, http_options=options)
    names = {model.name for model in client.models.list()}
    assert names == {"models/gemini-3.1-flash-image", "models/gemini-3-pro-image",
                     "models/gemini-3.1-flash-lite-image"}
    client.close()


def test_ipm_limit_yields_429_past_the_limit(server: StandinServer, png: bytes) -> None:
    server.configure(ipm_limit=2)
    statuses = [call(generate_url(server), edit_body(png))[0] for _ in range(4)]
    assert statuses == [200, 200, 429, 429]
    status, answer = call(generate_url(server), edit_body(png))
    assert (status, answer["error"]["status"]) == (429, "RESOURCE_EXHAUSTED")
    assert server.stats()["by_outcome"] == {"ok": 2, "ipm_limit": 3}


def test_forced_outcomes_come_in_order(server: StandinServer, png: bytes) -> None:
    server.force("429", "503", "ok")
    statuses = [call(generate_url(server), edit_body(png))[0] for _ in range(3)]
    assert statuses == [429, 503, 200]
    assert server.stats()["generate"] == 3


@pytest.mark.parametrize(
    ("outcome", "check"),
    [
        ("prompt_blocked", lambda a: a["promptFeedback"]["blockReason"] and "candidates" not in a),
        ("image_safety", lambda a: a["candidates"][0]["finishReason"] == "IMAGE_SAFETY"),
        ("no_image", lambda a: a["candidates"][0]["finishReason"] == "NO_IMAGE"),
        ("finish:IMAGE_OTHER", lambda a: a["candidates"][0]["finishReason"] == "IMAGE_OTHER"),
        ("text_only", lambda a: list(a["candidates"][0]["content"]["parts"][0]) == ["text"]),
        ("thought", lambda a: [p.get("thought", False) for p in a["candidates"][0]["content"]["parts"]]
         == [True, True, False]),
    ],
)
def test_answer_shapes(server: StandinServer, png: bytes, outcome: str, check: Any) -> None:
    server.force(outcome)
    status, answer = call(generate_url(server), edit_body(png))
    assert status == 200 and check(answer)


def test_corrupt_answers_do_not_decode(server: StandinServer, png: bytes) -> None:
    server.force("corrupt")
    _, answer = call(generate_url(server), edit_body(png))
    with pytest.raises(OSError):
        image_of(answer).load()


def test_admin_endpoint_configures_and_reports(server: StandinServer, png: bytes) -> None:
    status, config = call(f"{server.base_url}/_standin/config", {"fault_503": 1.0, "force": ["ok"]}, key=None)
    assert status == 200 and config["fault_503"] == 1.0
    statuses = [call(generate_url(server), edit_body(png))[0] for _ in range(2)]
    assert statuses == [200, 503]
    _, stats = call(f"{server.base_url}/_standin/stats", key=None)
    assert (stats["total"], stats["by_outcome"]) == (2, {"ok": 1, "503": 1})
    status, answer = call(f"{server.base_url}/_standin/config", {"no_such_setting": 1}, key=None)
    assert status == 400 and "no_such_setting" in answer["error"]["message"]


def test_seeded_fault_draws_are_deterministic(png: bytes) -> None:
    def run() -> list[int]:
        with StandinServer(StandinConfig(seed=42, fault_429=0.3, fault_503=0.3)) as srv:
            return [call(generate_url(srv), edit_body(png))[0] for _ in range(12)]

    first = run()
    assert first == run()
    assert {200, 429, 503} <= set(first)


def test_latency_is_added_and_requests_run_concurrently(server: StandinServer, png: bytes) -> None:
    server.configure(latency_s=0.3)
    statuses: list[int] = []
    threads = [threading.Thread(target=lambda: statuses.append(call(generate_url(server), edit_body(png))[0]))
               for _ in range(8)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    assert statuses == [200] * 8
    assert 0.3 <= elapsed < 1.5  # eight 0.3 s answers in parallel, not 2.4 s in a row
    assert server.stats()["generate"] == 8


def test_render_is_injectable(png: bytes) -> None:
    seen: list[tuple[str, int, int]] = []

    def render(base_png: bytes, prompt: str, width: int, height: int) -> bytes:
        seen.append((prompt, width, height))
        out = io.BytesIO()
        Image.new("RGB", (width, height), (1, 2, 3)).save(out, format="PNG")
        return out.getvalue()

    with StandinServer(render=render) as srv:
        _, answer = call(generate_url(srv), edit_body(png), key="any-key")
    assert seen == [("now smiling", 832, 1248)]
    assert image_of(answer).getpixel((0, 0)) == (1, 2, 3)


def test_output_size_keeps_aspect_and_area() -> None:
    assert output_size("1:1", "2K") == (2048, 2048)
    width, height = output_size("16:9", "1K")
    assert abs(width / height - 16 / 9) < 0.02 and abs(width * height - 1024 * 1024) < 0.03 * 1024 * 1024


def test_cli_arguments_build_a_config() -> None:
    config = config_from_args(parse_args(["--port", "0", "--latency", "0.5", "--ipm", "10", "--fault-429", "0.2",
                                          "--fault-image-safety", "0.1", "--seed", "3"]))
    assert config == StandinConfig(latency_s=0.5, ipm_limit=10, fault_429=0.2, fault_image_safety=0.1, seed=3)


@pytest.mark.slow
def test_python_dash_m_devtools_standin_serves_until_sigterm() -> None:
    """The stand-in is test support (`python -m devtools standin`), not a command of the studio's CLI."""
    port = free_port()
    process = subprocess.Popen([sys.executable, "-m", "devtools", "standin", "--port", str(port), "--ipm", "7"],
                               cwd=ROOT, env=os.environ.copy(), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 30
        while True:
            assert process.poll() is None, process.stderr.read() if process.stderr else ""
            try:
                status, config = call(f"http://127.0.0.1:{port}/_standin/config", key=None)
                break
            except urllib.error.URLError:
                assert time.monotonic() < deadline, "the stand-in did not start"
                time.sleep(0.2)
        assert status == 200 and config["ipm_limit"] == 7
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=30) == 0
        if process.stderr:
            process.stderr.close()
