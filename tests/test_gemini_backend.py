"""GeminiBackend: the real google-genai SDK against the local stand-in over HTTP; nothing patched.

Every test asserts how many HTTP calls reached the stand-in, since each call may be billed.
"""

from __future__ import annotations

import contextlib
import dataclasses
import io
from collections.abc import Iterator

import pytest
from PIL import Image

from devtools.gemini_standin import StandinConfig, StandinServer, default_render
from lib.backends import GenerationFailed, ImageBackend, ImageRequest
from lib.backends.gemini import GeminiBackend, GeminiConfig, closest_aspect_ratio
from lib.core.errors import ConfigError, InvalidInput, StudioError

MODEL = "gemini-3.1-flash-image"


@pytest.fixture(scope="module")
def server() -> Iterator[StandinServer]:
    with StandinServer(StandinConfig(slow_seconds=1.0), api_keys={"test-key"}) as srv:
        yield srv


@pytest.fixture
def standin(server: StandinServer) -> StandinServer:
    server.reset()
    server.configure(**dataclasses.asdict(StandinConfig(slow_seconds=1.0)))
    return server


@pytest.fixture
def sleeps() -> list[float]:
    return []


def make_backend(standin: StandinServer, sleeps: list[float], **overrides: object) -> GeminiBackend:
    settings: dict[str, object] = {
        "api_key": "test-key", "base_url": standin.base_url, "image_size": "512", "timeout_ms": 5000,
        "max_attempts": 4, "backoff_initial_s": 1.0, "backoff_max_s": 3.0, "backoff_jitter_s": 0.5,
    }
    settings.update(overrides)
    return GeminiBackend(GeminiConfig(**settings), sleep=sleeps.append)  # type: ignore[arg-type]


@pytest.fixture
def backend(standin: StandinServer, sleeps: list[float]) -> Iterator[GeminiBackend]:
    backend = make_backend(standin, sleeps)
    yield backend
    backend.close()


@pytest.fixture(scope="module")
def base_png() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (300, 400), (230, 180, 200)).save(out, format="PNG")
    return out.getvalue()


@pytest.fixture
def request_(backend: GeminiBackend, base_png: bytes) -> ImageRequest:
    return backend.request_for(base_png=base_png, prompt="Same girl, same outfit; now smiling.", width=300,
                               height=400, expression_key="smile", seed=7)


def fail(backend: GeminiBackend, request: ImageRequest) -> GenerationFailed:
    with pytest.raises(GenerationFailed) as info:
        backend.generate(request)
    return info.value


def test_backend_satisfies_the_protocol(backend: GeminiBackend) -> None:
    checked: ImageBackend = backend
    assert checked.name == "gemini"


def test_success_returns_a_verified_png_with_cost(
    backend: GeminiBackend, request_: ImageRequest, standin: StandinServer, sleeps: list[float]
) -> None:
    result = backend.generate(request_)
    with Image.open(io.BytesIO(result.png)) as image:
        assert image.format == "PNG"
        assert image.size == (448, 592)  # 3:4 at ~512² pixels
    assert result.cost_usd == pytest.approx(747 * 60 / 1e6)
    assert result.usage["cost_basis"] == "usage_metadata"
    assert [a.outcome for a in result.attempts] == ["ok"]
    assert (result.model, result.image_size) == (MODEL, "512")
    assert standin.stats()["generate"] == 1
    assert sleeps == []


def test_the_edit_call_is_sent_as_field_notes_describe(
    backend: GeminiBackend, request_: ImageRequest, standin: StandinServer
) -> None:
    backend.generate(request_)
    sent = standin.stats()["last_request"]
    assert sent["version"] == "v1beta"
    assert (sent["model"], sent["aspect_ratio"], sent["image_size"], sent["seed"]) == (MODEL, "3:4", "512", 7)
    assert sent["modalities"] == ["IMAGE"]
    assert "now smiling" in sent["prompt"]


def test_cost_falls_back_to_the_price_table(
    standin: StandinServer, sleeps: list[float], base_png: bytes
) -> None:
    backend = make_backend(standin, sleeps, image_token_prices={})
    result = backend.generate(backend.request_for(base_png=base_png, prompt="wink", width=300, height=400,
                                                  expression_key="wink"))
    assert (result.cost_usd, result.usage["cost_basis"]) == (0.045, "price_table")


def _encoded(fmt: str, mode: str) -> bytes:
    out = io.BytesIO()
    Image.new(mode, (64, 48), (200, 120, 40) if mode != "P" else 3).save(out, format=fmt)
    return out.getvalue()


@pytest.mark.parametrize(("fmt", "mode", "kept", "mode_out"), [
    ("PNG", "RGB", True, "RGB"),
    ("PNG", "RGBA", True, "RGBA"),
    ("PNG", "P", False, "RGB"),
    ("JPEG", "RGB", False, "RGB"),
    ("WEBP", "RGB", False, "RGB"),
])
def test_answers_become_rgb_pngs_and_sound_pngs_are_kept_as_sent(
    fmt: str, mode: str, kept: bool, mode_out: str, sleeps: list[float], base_png: bytes
) -> None:
    answer = _encoded(fmt, mode)
    with StandinServer(api_keys={"test-key"}, render=lambda *_: answer) as server:
        backend = make_backend(server, sleeps)
        result = backend.generate(backend.request_for(base_png=base_png, prompt="wink", width=300, height=400,
                                                      expression_key="wink"))
        backend.close()
    assert (result.png == answer) is kept
    with Image.open(io.BytesIO(result.png)) as image:
        assert (image.format, image.mode, image.size) == ("PNG", mode_out, (64, 48))


def test_429_then_success_retries_once(
    backend: GeminiBackend, request_: ImageRequest, standin: StandinServer, sleeps: list[float]
) -> None:
    standin.force("429", "ok")
    result = backend.generate(request_)
    calls = [(a.number, a.outcome, a.http_status) for a in result.attempts]
    assert calls == [(1, "http_429", 429), (2, "ok", 200)]
    assert standin.stats()["generate"] == 2
    assert len(sleeps) == 1 and 1.0 <= sleeps[0] <= 1.5


def test_503_storm_gives_up_after_max_attempts(
    backend: GeminiBackend, request_: ImageRequest, standin: StandinServer, sleeps: list[float]
) -> None:
    standin.configure(fault_503=1.0)
    error = fail(backend, request_)
    assert (error.kind, error.permanent) == ("server_error", False)
    assert "503" in error.reason and "4 attempts" in error.reason
    assert [a.outcome for a in error.attempts] == ["http_503"] * 4
    assert standin.stats()["generate"] == 4
    assert len(sleeps) == 3 and all(0 < s <= 3.0 for s in sleeps)  # capped at backoff_max_s


def test_rate_limit_storm_is_rate_limited(
    backend: GeminiBackend, request_: ImageRequest, standin: StandinServer
) -> None:
    standin.configure(fault_429=1.0)
    error = fail(backend, request_)
    assert (error.kind, error.permanent, len(error.attempts)) == ("rate_limited", False, 4)
    assert standin.stats()["generate"] == 4


def test_slow_answers_time_out_and_are_retried(
    standin: StandinServer, sleeps: list[float], base_png: bytes
) -> None:
    backend = make_backend(standin, sleeps, timeout_ms=300, max_attempts=2)
    standin.configure(fault_slow=1.0)
    request = backend.request_for(base_png=base_png, prompt="yawn", width=300, height=400, expression_key="yawn")
    error = fail(backend, request)
    assert (error.kind, error.permanent) == ("timeout", False)
    assert [(a.outcome, a.http_status) for a in error.attempts] == [("timeout", None)] * 2
    assert all(0.25 <= a.seconds < 1.0 for a in error.attempts)
    assert standin.stats()["by_outcome"] == {"slow": 2}
    assert len(sleeps) == 1


@pytest.mark.parametrize(
    ("outcome", "kind", "permanent", "words"),
    [
        ("prompt_blocked", "prompt_blocked", True, "refused the prompt"),
        ("image_safety", "safety", False, "IMAGE_SAFETY"),
        ("finish:IMAGE_PROHIBITED_CONTENT", "safety", False, "IMAGE_PROHIBITED_CONTENT"),
        ("finish:IMAGE_RECITATION", "safety", False, "IMAGE_RECITATION"),
        ("no_image", "no_image", False, "NO_IMAGE"),
        ("finish:IMAGE_OTHER", "no_image", False, "IMAGE_OTHER"),
        ("text_only", "text_only", False, "I can't make that edit"),
        ("corrupt", "corrupt_image", False, "cannot be opened"),
    ],
)
def test_a_200_without_an_image_is_a_typed_failure_without_retry(
    backend: GeminiBackend, request_: ImageRequest, standin: StandinServer, sleeps: list[float],
    outcome: str, kind: str, permanent: bool, words: str,
) -> None:
    standin.force(outcome)
    error = fail(backend, request_)
    assert (error.kind, error.permanent) == (kind, permanent)
    assert words in error.reason and error.reason.endswith(".")
    assert [(a.outcome, a.http_status) for a in error.attempts] == [(kind, 200)]
    assert standin.stats()["generate"] == 1 and sleeps == []
    assert isinstance(error, StudioError) and str(error) == error.reason


def test_text_only_reason_is_truncated(
    backend: GeminiBackend, base_png: bytes, standin: StandinServer
) -> None:
    standin.force("text_only")
    request = backend.request_for(base_png=base_png, prompt="x" * 1000, width=300, height=400, expression_key="x")
    assert len(fail(backend, request).reason) < 400


def test_an_answer_with_only_thought_parts_has_no_image(
    backend: GeminiBackend, request_: ImageRequest, standin: StandinServer
) -> None:
    standin.force("thought_only")  # an interim image and a thought text, no final image
    error = fail(backend, request_)
    assert error.kind == "no_image"
    assert standin.stats()["generate"] == 1


def test_a_server_side_408_counts_as_a_timeout(
    backend: GeminiBackend, request_: ImageRequest, standin: StandinServer
) -> None:
    standin.force("408", "ok")
    result = backend.generate(request_)
    assert [a.outcome for a in result.attempts] == ["http_408", "ok"]
    assert standin.stats()["generate"] == 2


def test_thought_parts_are_skipped(backend: GeminiBackend, request_: ImageRequest, standin: StandinServer) -> None:
    standin.force("thought")  # a thought text and a quarter-size interim image come first
    result = backend.generate(request_)
    with Image.open(io.BytesIO(result.png)) as image:
        assert image.size == (448, 592)
    assert standin.stats()["generate"] == 1


@pytest.mark.parametrize("status", ["400", "403", "404"])
def test_other_4xx_are_permanent_client_errors(
    backend: GeminiBackend, request_: ImageRequest, standin: StandinServer, sleeps: list[float], status: str
) -> None:
    standin.force(status)
    error = fail(backend, request_)
    assert (error.kind, error.permanent) == ("client_error", True)
    assert f"HTTP {status}" in error.reason
    assert [a.http_status for a in error.attempts] == [int(status)]
    assert standin.stats()["generate"] == 1 and sleeps == []


def test_a_wrong_api_key_is_a_permanent_client_error(
    standin: StandinServer, sleeps: list[float], request_: ImageRequest
) -> None:
    error = fail(make_backend(standin, sleeps, api_key="wrong-key"), request_)
    assert (error.kind, error.permanent, error.attempts[0].http_status) == ("client_error", True, 403)
    assert "API key not valid" in error.reason
    assert standin.stats()["by_outcome"] == {"auth": 1}


def test_an_unknown_model_is_a_client_error(
    backend: GeminiBackend, request_: ImageRequest, standin: StandinServer
) -> None:
    request = dataclasses.replace(request_, model="gemini-9-imaginary")
    error = fail(backend, request)
    assert (error.kind, error.attempts[0].http_status) == ("client_error", 404)
    assert standin.stats()["total"] == 1


def test_an_unreachable_service_fails_once_without_retry(sleeps: list[float], request_: ImageRequest) -> None:
    with StandinServer() as gone:
        url = gone.base_url
    backend = GeminiBackend(GeminiConfig(api_key="k", base_url=url, timeout_ms=2000), sleep=sleeps.append)
    error = fail(backend, request_)
    assert (error.kind, error.permanent, len(error.attempts)) == ("server_error", False, 1)
    assert "Could not reach Gemini" in error.reason and sleeps == []


def test_ipm_limit_surfaces_as_rate_limited(
    standin: StandinServer, sleeps: list[float], request_: ImageRequest
) -> None:
    standin.configure(ipm_limit=1)
    backend = make_backend(standin, sleeps, max_attempts=2)
    backend.generate(request_)
    error = fail(backend, request_)
    assert error.kind == "rate_limited" and "images per minute" in error.reason
    assert standin.stats()["by_outcome"] == {"ok": 1, "ipm_limit": 2}


@pytest.mark.parametrize(
    ("width", "height", "ratio"),
    [(1000, 1000, "1:1"), (768, 1024, "3:4"), (1080, 1920, "9:16"), (2100, 900, "21:9"), (800, 1000, "4:5"),
     (1000, 1600, "2:3"), (5000, 100, "21:9")],
)
def test_closest_aspect_ratio(width: int, height: int, ratio: str) -> None:
    assert closest_aspect_ratio(width, height) == ratio


def test_config_and_request_are_validated(base_png: bytes) -> None:
    with pytest.raises(ConfigError):
        GeminiConfig(api_key=" ")
    with pytest.raises(ConfigError):
        GeminiConfig(api_key="k", image_size="8K")
    with pytest.raises(InvalidInput):
        ImageRequest(base_png=base_png, prompt="p", width=0, height=1, model=MODEL, image_size="1K",
                     expression_key="e")
    assert "secret-value" not in repr(GeminiConfig(api_key="secret-value"))


def _damaged(png: bytes, how: str) -> bytes:
    if how == "truncated":
        return png[: len(png) * 2 // 3]  # a connection cut mid-image
    flipped = bytearray(png)
    flipped[len(png) // 2] ^= 0xFF  # one byte inside the pixel data: its chunk's CRC no longer matches
    return bytes(flipped)


@pytest.mark.parametrize("how", ["truncated", "flipped byte"])
def test_a_damaged_png_answer_is_refused_as_corrupt(base_png: bytes, sleeps: list[float], how: str) -> None:
    """The answer's PNG is checked (chunk CRCs and end marker) without inflating its pixels twice; a cut or
    altered file is still caught here, as corrupt_image, not later in post-processing."""
    sound = default_render(base_png, "smile", 300, 400)
    assert Image.open(io.BytesIO(sound)).mode in ("RGB", "RGBA")  # the kept-as-is path is the one checked
    damaged = _damaged(sound, how)
    with StandinServer(api_keys={"test-key"}, render=lambda *_: damaged) as server:
        backend = make_backend(server, sleeps, max_attempts=1)
        try:
            request = backend.request_for(base_png=base_png, prompt="now smiling", width=300, height=400,
                                          expression_key="smile")
            error = fail(backend, request)
        finally:
            backend.close()
    assert error.kind == "corrupt_image" and "cannot be opened" in error.reason


def test_the_gate_is_held_per_http_call_and_not_while_waiting_to_retry(
    standin: StandinServer, request_: ImageRequest
) -> None:
    """The worker's rate limiter is the gate: each call (a retry too) passes it and counts against the
    quota, and the pause before a retry holds no call slot that another image could use."""
    events: list[str] = []

    @contextlib.contextmanager
    def gate(model: str) -> Iterator[None]:
        events.append(f"enter {model}")
        try:
            yield
        finally:
            events.append("leave")

    standin.force("503", "ok")
    backend = GeminiBackend(make_backend(standin, []).config, sleep=lambda s: events.append("pause"), gate=gate)
    try:
        result = backend.generate(request_)
    finally:
        backend.close()
    assert [a.outcome for a in result.attempts] == ["http_503", "ok"]
    assert events == [f"enter {MODEL}", "leave", "pause", f"enter {MODEL}", "leave"]
    assert standin.stats()["generate"] == 2
