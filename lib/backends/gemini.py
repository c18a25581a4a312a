"""The Gemini image backend: one single-turn edit of the base image per call, via google-genai.

SDK answers are translated here, once, into GenerationFailed kinds (see lib.backends.base):

    errors.ClientError 429          -> retried  -> rate_limited   (permanent=False)
    errors.ClientError 408          -> retried  -> timeout        (permanent=False)
    errors.ServerError 5xx          -> retried  -> server_error   (permanent=False)
    httpx2.TimeoutException         -> retried  -> timeout        (permanent=False)
    httpx2.TransportError (other)   -> once     -> server_error   (permanent=False: unreachable, try later)
    errors.ClientError other 4xx    -> once     -> client_error   (permanent=True)
    HTTP 200, prompt_feedback.block_reason      -> prompt_blocked (permanent=True: rephrase)
    HTTP 200, finish IMAGE_SAFETY/IMAGE_PROHIBITED_CONTENT/SAFETY/IMAGE_RECITATION/PROHIBITED_CONTENT
                                                -> safety         (permanent=False: often passes on retry)
    HTTP 200, only text parts                   -> text_only      (permanent=False)
    HTTP 200, no image otherwise (NO_IMAGE ...) -> no_image       (permanent=False)
    HTTP 200, image bytes do not decode         -> corrupt_image  (permanent=False)

`permanent` answers "could the identical request succeed if queued again?". Only the transient
HTTP kinds are retried here (tenacity, capped jittered exponential backoff, the SDK's own retries
off); the rest return after one call, because every generation may be billed.

Cost: IMAGE tokens from `usage_metadata.candidates_tokens_details` x the model's price per image
token when both are known (exact metering), else the per-image price table for (model, size).
`usage["cost_basis"]` says which ("usage_metadata", "price_table" or "unknown" = 0.0).
"""

from __future__ import annotations

import io
import logging
import math
import struct
import time
from collections.abc import Callable, Mapping
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from typing import Any

import httpx2
import tenacity
from google import genai
from google.genai import errors, types
from PIL import Image

from lib.backends.base import (
    IMAGE_SIZES,
    Attempt,
    FailureKind,
    GenerationFailed,
    ImageRequest,
    ImageResult,
)
from lib.core.errors import ConfigError

logger = logging.getLogger(__name__)

# USD per output image (standard tier), FIELD_NOTES Nov 2026.
DEFAULT_PRICES: dict[tuple[str, str], float] = {
    ("gemini-3.1-flash-image", "512"): 0.045,
    ("gemini-3.1-flash-image", "1K"): 0.067,
    ("gemini-3.1-flash-image", "2K"): 0.101,
    ("gemini-3.1-flash-image", "4K"): 0.151,
    ("gemini-3-pro-image", "1K"): 0.134,
    ("gemini-3-pro-image", "2K"): 0.134,
    ("gemini-3-pro-image", "4K"): 0.24,
    ("gemini-3.1-flash-lite-image", "1K"): 0.034,
}
# USD per 1M output IMAGE tokens; consistent with the table above (1K = 1120 tokens on flash).
DEFAULT_IMAGE_TOKEN_PRICES: dict[str, float] = {
    "gemini-3.1-flash-image": 60.0,
    "gemini-3-pro-image": 120.0,
    "gemini-3.1-flash-lite-image": 30.0,
}
# Aspect ratios the Gemini image models accept; requests get the closest one to the base's.
ASPECT_RATIOS = ("1:1", "2:3", "3:2", "3:4", "4:3", "4:5", "5:4", "9:16", "16:9", "21:9")
SAFETY_FINISHES = frozenset(
    {"IMAGE_SAFETY", "IMAGE_PROHIBITED_CONTENT", "SAFETY", "IMAGE_RECITATION", "PROHIBITED_CONTENT"}
)
_TEXT_IN_REASON = 200

Sleep = Callable[[float], None]
Gate = Callable[[str], AbstractContextManager[Any]]  # model -> held while one HTTP call is out


@dataclass(frozen=True)
class GeminiConfig:
    """Everything the backend needs; the caller builds it (from settings, a test, a notebook)."""

    api_key: str = field(repr=False)
    base_url: str | None = None
    api_version: str = "v1beta"
    model: str = "gemini-3.1-flash-image"
    image_size: str = "2K"
    timeout_ms: int = 180_000
    max_attempts: int = 4
    backoff_initial_s: float = 2.0
    backoff_max_s: float = 60.0
    backoff_jitter_s: float = 2.0
    prices: Mapping[tuple[str, str], float] = field(default_factory=lambda: dict(DEFAULT_PRICES))
    image_token_prices: Mapping[str, float] = field(default_factory=lambda: dict(DEFAULT_IMAGE_TOKEN_PRICES))

    def __post_init__(self) -> None:
        if not self.api_key.strip():
            raise ConfigError("the Gemini API key is empty")
        if self.image_size not in IMAGE_SIZES:
            raise ConfigError(f"image_size must be one of {', '.join(IMAGE_SIZES)}, not {self.image_size!r}")
        if self.timeout_ms < 1 or self.max_attempts < 1:
            raise ConfigError("timeout_ms and max_attempts must be at least 1")
        if min(self.backoff_initial_s, self.backoff_max_s, self.backoff_jitter_s) < 0:
            raise ConfigError("backoff seconds must not be negative")


class _Failure(Exception):
    """One attempt's failure, before the attempts are known; `retry` marks the transient kinds."""

    def __init__(self, kind: FailureKind, reason: str, *, permanent: bool, retry: bool = False) -> None:
        super().__init__(reason)
        self.kind: FailureKind = kind
        self.reason = reason
        self.permanent = permanent
        self.retry = retry

    def to_error(self, attempts: tuple[Attempt, ...]) -> GenerationFailed:
        reason = self.reason
        if self.retry:
            plural = "s" if len(attempts) != 1 else ""
            reason += f" Gave up after {len(attempts)} attempt{plural}; try again later."
        return GenerationFailed(self.kind, reason, permanent=self.permanent, attempts=attempts)


def closest_aspect_ratio(width: int, height: int) -> str:
    """The supported Gemini aspect ratio nearest to width:height (compared on a log scale)."""
    target = math.log(width / height)

    def distance(ratio: str) -> float:
        w, h = (int(x) for x in ratio.split(":"))
        return abs(math.log(w / h) - target)

    return min(ASPECT_RATIOS, key=distance)


class GeminiBackend:
    """ImageBackend on the real google-genai SDK; `sleep` is the pause between retries (inject in tests).

    `gate` (lib.backends.limiter.ModelLimiter.slot in a worker) is entered around each HTTP call, retries
    included, and left as soon as the answer is in: a retry counts against the images-per-minute quota,
    while the pause before it and the reading of an answer hold no call slot.
    """

    name = "gemini"

    def __init__(self, config: GeminiConfig, *, sleep: Sleep = time.sleep, gate: Gate | None = None) -> None:
        self.config = config
        self._sleep = sleep
        self._gate: Gate = gate or (lambda model: nullcontext())
        http_options = types.HttpOptions(
            api_version=config.api_version,
            base_url=config.base_url,
            timeout=config.timeout_ms,
            retry_options=types.HttpRetryOptions(attempts=1),  # retries are ours, counted as Attempts
        )
        # Kept on the instance: a garbage-collected Client closes its transport.
        self.client = genai.Client(api_key=config.api_key, http_options=http_options)

    def close(self) -> None:
        self.client.close()

    def request_for(self, *, base_png: bytes, prompt: str, width: int, height: int, expression_key: str,
                    variant: str | None = None, seed: int | None = None) -> ImageRequest:
        """An ImageRequest with this backend's configured model and image size."""
        return ImageRequest(base_png=base_png, prompt=prompt, width=width, height=height, model=self.config.model,
                            image_size=self.config.image_size, expression_key=expression_key,
                            variant=variant, seed=seed)

    def generate(self, request: ImageRequest) -> ImageResult:
        """One edit; retries 429/5xx/timeouts, raises GenerationFailed with every attempt recorded."""
        attempts: list[Attempt] = []
        try:
            for attempt in self._retrying():
                with attempt:
                    png, usage = self._attempt(request, len(attempts) + 1, attempts)
        except _Failure as failure:
            error = failure.to_error(tuple(attempts))
            logger.warning("gemini %s failed (%s) after %d call(s): %s",
                           request.expression_key, error.kind, len(attempts), error.reason)
            raise error from failure
        cost, basis = self._cost(request, usage)
        return ImageResult(png=png, model=request.model, image_size=request.image_size, cost_usd=cost,
                           attempts=tuple(attempts), usage={**usage, "cost_basis": basis})

    def _retrying(self) -> tenacity.Retrying:
        cfg = self.config
        return tenacity.Retrying(
            stop=tenacity.stop_after_attempt(cfg.max_attempts),
            wait=tenacity.wait_exponential_jitter(
                initial=cfg.backoff_initial_s, max=cfg.backoff_max_s, jitter=cfg.backoff_jitter_s
            ),
            retry=tenacity.retry_if_exception(lambda exc: isinstance(exc, _Failure) and exc.retry),
            sleep=self._sleep,
            reraise=True,
        )

    def _attempt(self, request: ImageRequest, number: int,
                 attempts: list[Attempt]) -> tuple[bytes, dict[str, Any]]:
        """One HTTP call (inside the gate) plus the reading of its answer; appends exactly one Attempt."""
        with self._gate(request.model):
            started = time.monotonic()
            try:
                response = self._call(request)
            except _Failure as failure:
                attempts.append(self._failed(request, number, started, failure, _status_of(failure.__cause__)))
                raise
        try:
            png = read_image(response)
        except _Failure as failure:
            attempts.append(self._failed(request, number, started, failure, _status_of(failure.__cause__) or 200))
            raise
        attempts.append(Attempt(number, "ok", 200, time.monotonic() - started, ""))
        return png, usage_dict(response)

    @staticmethod
    def _failed(request: ImageRequest, number: int, started: float, failure: _Failure,
                status: int | None) -> Attempt:
        outcome = f"http_{status}" if status and status != 200 else failure.kind
        logger.info("gemini %s attempt %d: %s", request.expression_key, number, outcome)
        return Attempt(number, outcome, status, time.monotonic() - started, failure.reason)

    def _call(self, request: ImageRequest) -> types.GenerateContentResponse:
        """The SDK call; SDK and transport exceptions become _Failure here and nowhere else."""
        config = edit_config(request)
        config.automatic_function_calling = types.AutomaticFunctionCallingConfig(disable=True)  # no tools here
        contents = edit_contents(request)
        try:
            return self.client.models.generate_content(model=request.model, contents=contents, config=config)
        except errors.APIError as exc:
            raise _api_failure(exc) from exc
        except httpx2.TimeoutException as exc:
            raise _Failure("timeout", f"Gemini did not answer within {self.config.timeout_ms / 1000:g} s.",
                           permanent=False, retry=True) from exc
        except httpx2.TransportError as exc:
            raise _Failure("server_error", f"Could not reach Gemini ({type(exc).__name__}: {exc}).",
                           permanent=False) from exc

    def _cost(self, request: ImageRequest, usage: Mapping[str, Any]) -> tuple[float, str]:
        return image_cost(self.config, model=request.model, image_size=request.image_size, usage=usage)


def edit_config(request: ImageRequest) -> types.GenerateContentConfig:
    """The generation config of one edit (also what a Batch API request carries)."""
    return types.GenerateContentConfig(
        response_modalities=["IMAGE"],
        image_config=types.ImageConfig(
            aspect_ratio=closest_aspect_ratio(request.width, request.height), image_size=request.image_size
        ),
        seed=request.seed,
    )


def edit_contents(request: ImageRequest) -> list[Any]:
    """The base image, then the prompt: one single-turn edit."""
    return [types.Part.from_bytes(data=request.base_png, mime_type="image/png"), request.prompt]


def image_cost(config: GeminiConfig, *, model: str, image_size: str, usage: Mapping[str, Any],
               percent: float = 100.0) -> tuple[float, str]:
    """USD of one answer at `percent` of the standard price, and its basis (see the module docstring)."""
    tokens = usage.get("image_output_tokens")
    token_price = config.image_token_prices.get(model)
    if tokens and token_price is not None:
        return round(tokens * token_price / 1_000_000 * percent / 100, 6), "usage_metadata"
    price = config.prices.get((model, image_size))
    if price is not None:
        return round(price * percent / 100, 6), "price_table"
    logger.warning("no price known for %s at %s; recording cost 0", model, image_size)
    return 0.0, "unknown"


def _status_of(exc: BaseException | None) -> int | None:
    return exc.code if isinstance(exc, errors.APIError) else None


def _api_failure(exc: errors.APIError) -> _Failure:
    message = (exc.message or str(exc))[:_TEXT_IN_REASON]
    if exc.code == 408:  # the server's own request timeout: a timeout like ours
        return _Failure("timeout", f"Gemini timed out the request (HTTP 408: {message}).",
                        permanent=False, retry=True)
    if exc.code == 429:
        return _Failure("rate_limited", f"Gemini is rate-limiting the studio (HTTP 429: {message}).",
                        permanent=False, retry=True)
    if exc.code >= 500:
        return _Failure("server_error", f"Gemini had a server error (HTTP {exc.code}: {message}).",
                        permanent=False, retry=True)
    return _Failure("client_error", f"Gemini refused the request (HTTP {exc.code} {exc.status}: {message}). "
                    "Check the API key, model and settings; retrying will not help.", permanent=True)


def read_image(response: types.GenerateContentResponse) -> bytes:
    """The answer's final image as PNG, or a _Failure explaining in words why there is none."""
    feedback = response.prompt_feedback
    if feedback is not None and feedback.block_reason is not None:
        why = _enum_name(feedback.block_reason)
        extra = f" ({feedback.block_reason_message})" if feedback.block_reason_message else ""
        raise _Failure("prompt_blocked", f"Gemini refused the prompt before drawing ({why}){extra}. "
                       "No image was made: rephrase the expression prompt.", permanent=True)
    if not response.candidates:
        raise _Failure("no_image", "Gemini answered with nothing at all. Try again.", permanent=False)
    candidate = response.candidates[0]
    finish = _enum_name(candidate.finish_reason) if candidate.finish_reason is not None else "STOP"
    if finish in SAFETY_FINISHES:
        raise _Failure("safety", f"Gemini blocked the image for safety ({finish}). Harmless anime art is "
                       "sometimes blocked: the credits were refunded, try again or rephrase.", permanent=False)
    parts = [p for p in (candidate.content.parts or [] if candidate.content else []) if not p.thought]
    images = [p.inline_data for p in parts if p.inline_data is not None and p.inline_data.data]
    if images:
        return _reencode_png(images[-1].data or b"", images[-1].mime_type)
    text = " ".join(p.text.strip() for p in parts if p.text and p.text.strip())
    if text:
        shown = text if len(text) <= _TEXT_IN_REASON else text[: _TEXT_IN_REASON - 1] + "…"
        raise _Failure("text_only", f"Gemini answered in words instead of drawing: “{shown}” Try again or "
                       "make the prompt ask for the image more directly.", permanent=False)
    raise _Failure("no_image", f"Gemini finished without an image ({finish}). Try again or simplify the prompt.",
                   permanent=False)


def _reencode_png(data: bytes, mime_type: str | None) -> bytes:
    """The answer as an RGB(A) PNG: a PNG that already is one is kept byte for byte once every chunk's CRC and
    the end marker check out (a cut or altered file fails here; its pixels are inflated once, later, by
    post-processing), anything else (JPEG, WebP, palette or 16-bit PNG) is converted."""
    try:
        with Image.open(io.BytesIO(data), formats=["PNG", "JPEG", "WEBP"]) as image:
            if image.format == "PNG" and image.mode in ("RGB", "RGBA"):
                image.verify()
                return data
            image.load()
            mode = "RGBA" if image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info else "RGB"
            out = io.BytesIO()
            image.convert(mode).save(out, format="PNG", compress_level=1)  # stored once, read a few times
    except (OSError, ValueError, SyntaxError, EOFError, struct.error, Image.DecompressionBombError) as exc:
        raise _Failure("corrupt_image", f"Gemini sent image data ({mime_type or 'unknown type'}, {len(data)} "
                       "bytes) that cannot be opened. Try again.", permanent=False) from exc
    return out.getvalue()


def _enum_name(value: object) -> str:
    return str(getattr(value, "value", value))


def usage_dict(response: types.GenerateContentResponse) -> dict[str, Any]:
    meta = response.usage_metadata
    if meta is None:
        return {}
    usage: dict[str, Any] = meta.model_dump(mode="json", exclude_none=True)
    image_tokens = sum(
        d.token_count or 0 for d in meta.candidates_tokens_details or [] if _enum_name(d.modality) == "IMAGE"
    )
    if image_tokens:
        usage["image_output_tokens"] = image_tokens
    return usage
