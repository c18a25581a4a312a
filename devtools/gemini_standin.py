"""A local stand-in for the Gemini API that the real google-genai SDK can talk to over HTTP.

It speaks the `generateContent` wire format (see FIELD_NOTES): `POST /{v1|v1beta}/models/{m}:generateContent`
with header `x-goog-api-key`, and `GET /{v}/models`. Each generate call gets one outcome:

    forced queue (exact tests)  ->  images-per-minute limit (429)  ->  seeded fault draw  ->  "ok"

Outcomes: "ok", "ipm_limit" (a 429 from the quota), "thought" (a thought text and an interim image,
then the image), "thought_only" (the same without the image), "slow" (an ok answer after
`slow_seconds`), "prompt_blocked", "image_safety", "no_image", "finish:<REASON>", "text_only",
"corrupt", or an HTTP status like "429", "503", "400".
Controls are constructor arguments and can be changed while running: `POST /_standin/config` (JSON,
`{"fault_503": 0.2, "force": ["429", "ok"]}`), `GET /_standin/config`, `GET /_standin/stats`,
`POST /_standin/reset`. The admin endpoints need no key.

It also speaks the Batch API as google-genai's `client.batches` sends it (Gemini Developer API form):
`POST /{v}/models/{m}:batchGenerateContent` with `{"batch": {"displayName", "inputConfig": {"requests":
{"requests": [{"request": {contents, generationConfig}, "metadata": {...}}]}}}}` answers an operation
`{"name": "batches/<id>", "metadata": {"state": "BATCH_STATE_PENDING", "createTime", "batchStats", ...}}`;
`GET /{v}/batches/<id>` polls it, `GET /{v}/batches` lists (pageSize/pageToken), `POST
/{v}/batches/<id>:cancel` cancels. A job is PENDING for the first third of `batch_delay_s`, RUNNING until the
delay has passed, then ends as `batch_end` says ("succeeded", "failed" or "expired"). Each request's
outcome is drawn at create time like a generate call's (forced queue, then the fault rates; no
images-per-minute limit) and a succeeded job carries one entry per request, in order, under
`metadata.output.inlinedResponses.inlinedResponses`: `{"response": <generateContent answer>, "metadata"}`
(safety blocks and text-only answers are ordinary responses) or `{"error": {"code", "message"}}` for an
HTTP-error outcome.

The output image comes from `render(base_png, prompt, width, height) -> bytes`; the default is a tinted
copy of the base at the requested aspect. Plug the offline renderer in there.
"""

from __future__ import annotations

import argparse
import base64
import binascii
import collections
import dataclasses
import hashlib
import io
import json
import logging
import math
import random
import re
import signal
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self

from PIL import Image

logger = logging.getLogger(__name__)

Renderer = Callable[[bytes, str, int, int], bytes]

# Output image tokens per (model, imageSize), as the real API meters them.
IMAGE_TOKENS: dict[str, dict[str, int]] = {
    "gemini-3.1-flash-image": {"512": 747, "1K": 1120, "2K": 1680, "4K": 2520},
    "gemini-3-pro-image": {"1K": 1120, "2K": 1120, "4K": 2000},
    "gemini-3.1-flash-lite-image": {"1K": 1120},
}
# Text models that answer structured-output requests ("Describe with Gemini").
TEXT_MODELS = ("gemini-3-flash",)
_SIZE_PIXELS = {"512": 512, "1K": 1024, "2K": 2048, "4K": 4096}
_FAULTS = ("429", "503", "slow", "prompt_blocked", "image_safety", "text_only", "corrupt")
_HTTP_STATUS = {
    400: "INVALID_ARGUMENT", 401: "UNAUTHENTICATED", 403: "PERMISSION_DENIED", 404: "NOT_FOUND",
    408: "DEADLINE_EXCEEDED",
    429: "RESOURCE_EXHAUSTED", 500: "INTERNAL", 503: "UNAVAILABLE", 504: "DEADLINE_EXCEEDED",
}
_GENERATE_PATH = re.compile(r"^/(v1|v1beta)/models/([\w.\-]+):generateContent$")
_LIST_PATH = re.compile(r"^/(v1|v1beta)/models/?$")
_BATCH_CREATE_PATH = re.compile(r"^/(v1|v1beta)/models/([\w.\-]+):batchGenerateContent$")
_BATCH_PATH = re.compile(r"^/(v1|v1beta)/batches/([\w\-]+)$")
_BATCH_CANCEL_PATH = re.compile(r"^/(v1|v1beta)/batches/([\w\-]+):cancel$")
_BATCH_LIST_PATH = re.compile(r"^/(v1|v1beta)/batches/?$")
_BATCH_ENDS = {"succeeded": "BATCH_STATE_SUCCEEDED", "failed": "BATCH_STATE_FAILED",
               "expired": "BATCH_STATE_EXPIRED"}
_BATCH_FINAL = frozenset({*_BATCH_ENDS.values(), "BATCH_STATE_CANCELLED"})


@dataclass(frozen=True)
class StandinConfig:
    """Runtime controls. Fault rates are probabilities (0..1) drawn once per generate call."""

    latency_s: float = 0.0
    latency_jitter_s: float = 0.0
    ipm_limit: int | None = None
    fault_429: float = 0.0
    fault_503: float = 0.0
    fault_slow: float = 0.0
    fault_prompt_block: float = 0.0
    fault_image_safety: float = 0.0
    fault_text_only: float = 0.0
    fault_corrupt: float = 0.0
    slow_seconds: float = 5.0
    seed: int | None = None
    batch_delay_s: float = 0.0
    batch_end: str = "succeeded"  # how a Batch API job ends once its delay has passed: succeeded|failed|expired

    def fault_rates(self) -> tuple[tuple[str, float], ...]:
        rates = (self.fault_429, self.fault_503, self.fault_slow, self.fault_prompt_block,
                 self.fault_image_safety, self.fault_text_only, self.fault_corrupt)
        return tuple(zip(_FAULTS, rates, strict=True))


class RequestError(Exception):
    """An API error answer: HTTP status plus the Google error body."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def _fit(image: Image.Image, width: int, height: int) -> Image.Image:
    """The image scaled to cover width x height and centre-cropped to it, as a model answers."""
    if image.size == (width, height):
        return image
    scale = max(width / image.width, height / image.height)
    image = image.resize((max(width, round(image.width * scale)), max(height, round(image.height * scale))))
    left, top = (image.width - width) // 2, (image.height - height) // 2
    return image.crop((left, top, left + width, top + height))


def _png(image: Image.Image) -> bytes:
    out = io.BytesIO()
    image.save(out, format="PNG", compress_level=1)
    return out.getvalue()


def default_render(base_png: bytes, prompt: str, width: int, height: int) -> bytes:
    """A visible edit: the base cropped to the requested aspect, scaled, tinted by the prompt."""
    with Image.open(io.BytesIO(base_png)) as src:
        image = _fit(src.convert("RGB"), width, height)
    return _png(Image.blend(image, Image.new("RGB", image.size, _prompt_colour(prompt)), 0.3))


def offline_render(base_png: bytes, prompt: str, width: int, height: int) -> bytes:
    """An answer drawn by the offline renderer: the expression the prompt asks for, painted on the base.

    The expression (and talking/blink variant) is recognised by its prompt fragment from the library,
    the face is edited where the offline renderer draws faces, and the result is fitted to the size
    Gemini would return, as a model would (opaque, other resolution).
    """
    from lib.design import expressions
    from lib.render.portrait import face_box
    from lib.render.preview import edit_face

    matches = [e for e in expressions.LIBRARY.values() if e.prompt in prompt]
    expression = max(matches, key=lambda e: len(e.prompt)) if matches else expressions.get("neutral")
    variant = next((v.key for v in expressions.VARIANTS.values() if v.prompt in prompt), None)
    with Image.open(io.BytesIO(base_png)) as src:
        base = src.convert("RGBA")
    edited = edit_face(base, box=face_box(base.size), expression=expression, variant=variant)
    opaque = Image.new("RGB", base.size, (255, 255, 255))
    opaque.paste(edited, mask=edited.getchannel("A"))
    return _png(_fit(opaque, width, height))


def _prompt_colour(prompt: str) -> tuple[int, int, int]:
    digest = hashlib.sha256(prompt.encode()).digest()
    return digest[0], digest[1], digest[2]


def output_size(aspect_ratio: str, image_size: str) -> tuple[int, int]:
    """Pixel size for an aspect like "3:4" at about image_size² pixels, multiples of 16."""
    try:
        w_part, h_part = (int(x) for x in aspect_ratio.split(":"))
        side = _SIZE_PIXELS[image_size]
    except (ValueError, KeyError) as exc:
        raise RequestError(400, f"Unsupported aspect ratio or image size: {aspect_ratio} {image_size}") from exc
    if w_part <= 0 or h_part <= 0:
        raise RequestError(400, f"Unsupported aspect ratio: {aspect_ratio}")
    ratio = w_part / h_part
    return _round16(side * math.sqrt(ratio)), _round16(side / math.sqrt(ratio))


def _round16(value: float) -> int:
    return max(16, round(value / 16) * 16)


@dataclass
class ParsedRequest:
    """The fields of a generateContent body the stand-in acts on."""

    image: bytes
    prompt: str
    aspect_ratio: str
    image_size: str
    seed: int | None = None
    modalities: list[str] = field(default_factory=list)
    mime_type: str = ""  # responseMimeType: "application/json" asks for a structured answer (describe)


def b64decode_any(data: str) -> bytes:
    """Decode standard or URL-safe base64, padded or not."""
    text = data.strip().replace("-", "+").replace("_", "/")
    text += "=" * (-len(text) % 4)
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise RequestError(400, "Invalid value at 'contents[0].parts[0].inline_data.data': not base64") from exc


def parse_generate(body: dict[str, Any]) -> ParsedRequest:
    """Pull the image, prompt and image config out of a request; 400 on anything malformed."""
    parts = [p for content in body.get("contents") or [] for p in (content.get("parts") or [])]
    images = [p.get("inlineData") or p.get("inline_data") for p in parts]
    images = [inline for inline in images if inline]
    texts = [p["text"] for p in parts if isinstance(p.get("text"), str)]
    if not images or not texts:
        raise RequestError(400, "An image edit needs one inline image part and one text part.")
    inline = images[0]
    mime = inline.get("mime_type") or inline.get("mimeType") or ""
    if not mime.startswith("image/"):
        raise RequestError(400, f"Unsupported MIME type: {mime or '(missing)'}")
    config = body.get("generationConfig") or body.get("generation_config") or {}
    image_config = config.get("imageConfig") or config.get("image_config") or {}
    return ParsedRequest(
        image=b64decode_any(str(inline.get("data", ""))),
        prompt="\n".join(texts),
        aspect_ratio=image_config.get("aspectRatio") or image_config.get("aspect_ratio") or "1:1",
        image_size=image_config.get("imageSize") or image_config.get("image_size") or "1K",
        seed=config.get("seed"),
        modalities=list(config.get("responseModalities") or config.get("response_modalities") or []),
        mime_type=config.get("responseMimeType") or config.get("response_mime_type") or "",
    )


class _Engine:
    """Decides each call's outcome and builds the answer; thread-safe, shared by all handlers."""

    def __init__(self, config: StandinConfig, render: Renderer, api_keys: frozenset[str] | None) -> None:
        self.render = render
        self.api_keys = api_keys
        self.stopping = threading.Event()
        self._lock = threading.Lock()
        self._config = config
        self._random = random.Random(config.seed)
        self._forced: collections.deque[str] = collections.deque()
        self._admitted: collections.deque[float] = collections.deque()
        self._stats: collections.Counter[str] = collections.Counter()
        self._total = 0
        self._last: dict[str, Any] = {}
        self.batches: dict[str, _BatchJob] = {}

    @property
    def config(self) -> StandinConfig:
        return self._config

    def configure(self, changes: dict[str, Any]) -> StandinConfig:
        changes = dict(changes)
        forced = changes.pop("force", None)
        names = {f.name for f in dataclasses.fields(StandinConfig)}
        unknown = set(changes) - names
        if unknown:
            raise RequestError(400, f"Unknown stand-in settings: {', '.join(sorted(unknown))}")
        with self._lock:
            self._config = dataclasses.replace(self._config, **changes)
            if "seed" in changes:
                self._random = random.Random(self._config.seed)
            if forced:
                self._forced.extend(str(o) for o in forced)
            return self._config

    def force(self, outcomes: Iterable[str]) -> None:
        with self._lock:
            self._forced.extend(outcomes)

    def count(self, outcome: str, request: dict[str, Any] | None = None, *, call: bool = True) -> None:
        """Count an outcome; `call=False` for what is not an HTTP call of its own (a batched request)."""
        with self._lock:
            self._total += int(call)
            self._stats[outcome] += 1
            if request is not None:
                self._last = request

    def stats(self) -> dict[str, Any]:
        with self._lock:
            generate = sum(n for k, n in self._stats.items()
                           if k not in ("list_models", "auth") and not k.startswith("batch"))
            batch_calls = sum(n for k, n in self._stats.items() if k.startswith("batch_"))
            return {"total": self._total, "generate": generate, "batch_calls": batch_calls,
                    "batch_jobs": len(self.batches), "by_outcome": dict(self._stats),
                    "forced_pending": list(self._forced), "last_request": dict(self._last)}

    def reset(self) -> None:
        with self._lock:
            self._stats.clear()
            self._total = 0
            self._forced.clear()
            self._admitted.clear()
            self._last = {}
            self.batches.clear()
            self._random = random.Random(self._config.seed)

    def draw(self, *, limited: bool = True) -> str:
        """The outcome of the next generate call (see module docstring for the order)."""
        with self._lock:
            if self._forced:
                return self._forced.popleft()
            if limited and not self._admit(time.monotonic()):
                return "ipm_limit"
            roll = self._random.random()
            for outcome, rate in self._config.fault_rates():
                if roll < rate:
                    return outcome
                roll -= rate
            return "ok"

    def _admit(self, now: float) -> bool:
        limit = self._config.ipm_limit
        while self._admitted and now - self._admitted[0] >= 60.0:
            self._admitted.popleft()
        if limit is not None and len(self._admitted) >= limit:
            return False
        self._admitted.append(now)
        return True

    def latency(self) -> float:
        with self._lock:
            cfg = self._config
            return cfg.latency_s + (self._random.uniform(0, cfg.latency_jitter_s) if cfg.latency_jitter_s else 0.0)


def _error_body(code: int, message: str) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, "status": _HTTP_STATUS.get(code, "UNKNOWN")}}


def _usage(prompt_tokens: int, image_tokens: int) -> dict[str, Any]:
    return {
        "promptTokenCount": prompt_tokens,
        "candidatesTokenCount": image_tokens,
        "totalTokenCount": prompt_tokens + image_tokens,
        "promptTokensDetails": [{"modality": "TEXT", "tokenCount": prompt_tokens - 258},
                                {"modality": "IMAGE", "tokenCount": 258}],
        "candidatesTokensDetails": [{"modality": "IMAGE", "tokenCount": image_tokens}],
    }


def _image_part(png: bytes, *, thought: bool = False) -> dict[str, Any]:
    part: dict[str, Any] = {"inlineData": {"mimeType": "image/png", "data": base64.b64encode(png).decode()}}
    if thought:
        part["thought"] = True
    return part


def _answer(model: str, parts: list[dict[str, Any]] | None, finish: str, usage: dict[str, Any]) -> dict[str, Any]:
    candidate: dict[str, Any] = {"finishReason": finish, "index": 0}
    if parts is not None:
        candidate["content"] = {"role": "model", "parts": parts}
    if finish != "STOP":
        candidate["finishMessage"] = f"Unable to show the generated image ({finish})."
    return {"candidates": [candidate], "usageMetadata": usage, "modelVersion": model,
            "responseId": hashlib.sha1(repr((time.time(), random.random())).encode()).hexdigest()[:22]}


def build_answer(engine: _Engine, outcome: str, model: str, req: ParsedRequest) -> dict[str, Any]:
    """The 200 body for a non-HTTP-error outcome."""
    prompt_tokens = 258 + max(1, len(req.prompt) // 4)
    image_tokens = IMAGE_TOKENS.get(model, {}).get(req.image_size, 1120)
    if outcome == "prompt_blocked":
        return {"promptFeedback": {"blockReason": "PROHIBITED_CONTENT"}, "usageMetadata": _usage(prompt_tokens, 0),
                "modelVersion": model}
    if outcome in ("image_safety", "no_image") or outcome.startswith("finish:"):
        finish = outcome.removeprefix("finish:").upper()
        return _answer(model, None, finish, _usage(prompt_tokens, 0))
    if outcome == "text_only":
        text = "I can't make that edit, but here is what I would draw: " + req.prompt
        return _answer(model, [{"text": text}], "STOP", _usage(prompt_tokens, len(text) // 4))
    width, height = output_size(req.aspect_ratio, req.image_size)
    if outcome == "corrupt":
        return _answer(model, [_image_part(b"\x89PNG\r\n\x1a\n" + b"\x00garbage" * 64)], "STOP",
                       _usage(prompt_tokens, image_tokens))
    parts = [] if outcome == "thought_only" else [_image_part(engine.render(req.image, req.prompt, width, height))]
    if outcome in ("thought", "thought_only"):
        interim = engine.render(req.image, "(thinking) " + req.prompt, width // 4, height // 4)
        thought = {"text": "Planning the expression change.", "thought": True}
        parts = [thought, _image_part(interim, thought=True), *parts]
    return _answer(model, parts, "STOP", _usage(prompt_tokens, image_tokens))


def describe_answer(outcome: str, model: str, req: ParsedRequest) -> dict[str, Any]:
    """A structured-output answer: the features read from the picture as JSON text (the real SDK parses it).

    Faults map onto what a describing model does: prompt_blocked and image_safety block, text_only answers
    in prose instead of JSON (bad JSON), corrupt answers JSON of the wrong shape.
    """
    prompt_tokens = 258 + max(1, len(req.prompt) // 4)
    if outcome == "prompt_blocked":
        return {"promptFeedback": {"blockReason": "PROHIBITED_CONTENT"}, "usageMetadata": _text_usage(prompt_tokens, 0),
                "modelVersion": model}
    if outcome == "image_safety":
        return _answer(model, None, "SAFETY", _text_usage(prompt_tokens, 0))
    if outcome == "text_only":
        text = "Sure! She has lovely pink hair and blue eyes, and wears a school uniform."
    elif outcome == "corrupt":
        text = json.dumps({"hair_color": "pink", "hair_style": "very long"})
    else:
        text = json.dumps(_described(req.image))
    return _answer(model, [{"text": text}], "STOP", _text_usage(prompt_tokens, max(1, len(text) // 4)))


def _described(png: bytes) -> dict[str, Any]:
    """What a describing model would say about the picture: its colours as the studio reads them."""
    from lib.consistency.face_finder import find_face
    from lib.consistency.picture_features import read_features

    with Image.open(io.BytesIO(png)) as image:
        picture = image.convert("RGBA")
    read = read_features(picture, find_face(picture))
    given = read.given()
    return {"hair_color": read.hair_color if "hair_color" in given else "#808080", "hair_style": "twin_tails",
            "hair_length": "long", "eye_color": read.eye_color if "eye_color" in given else "#4060a0",
            "skin_tone": read.skin_tone if "skin_tone" in given else "#ffe0d0", "outfit": "school uniform",
            "outfit_color": read.outfit_color if "outfit_color" in given else "#303850",
            "accessories": ["hair ribbon"]}


def _text_usage(prompt_tokens: int, answer_tokens: int) -> dict[str, Any]:
    return {"promptTokenCount": prompt_tokens, "candidatesTokenCount": answer_tokens,
            "totalTokenCount": prompt_tokens + answer_tokens}


def _check_image(data: bytes) -> None:
    try:
        with Image.open(io.BytesIO(data)) as image:
            image.verify()
    except Exception as exc:  # Pillow raises many types for bad input
        raise RequestError(400, "Unable to process input image. Please retry or report in "
                                "https://developers.generativeai.google/guide/troubleshooting") from exc


def _check_model(model: str, version: str, image_size: str) -> None:
    sizes = IMAGE_TOKENS.get(model)
    if sizes is None:
        raise RequestError(404, f"models/{model} is not found for API version {version}, "
                                "or is not supported for generateContent.")
    if image_size not in sizes:
        supported = ", ".join(sizes)
        raise RequestError(400, f"imageSize {image_size} is not supported by {model} (supported: {supported}).")


def _rfc3339(epoch: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(epoch)) + f".{int(epoch % 1 * 1e6):06d}Z"


@dataclass
class _BatchJob:
    """One Batch API job: its parsed requests, each one's outcome drawn at create, and its clock."""

    name: str
    model: str
    display_name: str
    requests: list[tuple[ParsedRequest | None, dict[str, Any]]]  # (request or None when malformed, metadata)
    outcomes: list[str]
    created: float  # time.time()
    delay_s: float
    end: str
    cancelled_at: float | None = None
    answers: list[dict[str, Any]] | None = None  # built once, when the job has ended

    def state(self, now: float) -> str:
        if self.cancelled_at is not None:
            return "BATCH_STATE_CANCELLED"
        elapsed = now - self.created
        if elapsed >= self.delay_s:
            return _BATCH_ENDS[self.end]
        return "BATCH_STATE_PENDING" if elapsed < self.delay_s / 3 else "BATCH_STATE_RUNNING"

    def end_time(self, now: float) -> float | None:
        if self.cancelled_at is not None:
            return self.cancelled_at
        return self.created + self.delay_s if now - self.created >= self.delay_s else None


def _request_answer(engine: _Engine, job: _BatchJob, index: int) -> dict[str, Any]:
    """One inlined response: a generateContent answer, or an error for an HTTP-error outcome."""
    req, metadata = job.requests[index]
    outcome = job.outcomes[index]
    entry: dict[str, Any] = {"metadata": metadata} if metadata else {}
    if req is None:
        return {**entry, "error": {"code": 400, "message": "Invalid request: an image edit needs one inline image "
                                                           "part and one text part.", "details": []}}
    if outcome.isdigit() or outcome == "ipm_limit":
        code = 429 if outcome == "ipm_limit" else int(outcome)
        return {**entry, "error": {"code": code, "message": f"Stand-in fault: {_HTTP_STATUS.get(code, 'error')}.",
                                   "details": []}}
    return {**entry, "response": build_answer(engine, "ok" if outcome == "slow" else outcome, job.model, req)}


def _batch_stats(job: _BatchJob, state: str) -> dict[str, str]:
    total = len(job.requests)
    if state != "BATCH_STATE_SUCCEEDED":
        return {"requestCount": str(total), "pendingRequestCount": str(total)}
    failed = sum(1 for (req, _), o in zip(job.requests, job.outcomes, strict=True)
                 if req is None or o.isdigit() or o == "ipm_limit")
    return {"requestCount": str(total), "successfulRequestCount": str(total - failed),
            "failedRequestCount": str(failed)}


def batch_operation(engine: _Engine, job: _BatchJob, *, with_output: bool = True) -> dict[str, Any]:
    """The job as the API shows it: a long-running operation whose metadata is the GenerateContentBatch."""
    now = time.time()
    state = job.state(now)
    metadata: dict[str, Any] = {
        "@type": "type.googleapis.com/google.ai.generativelanguage.v1main.GenerateContentBatch",
        "model": f"models/{job.model}", "displayName": job.display_name, "name": job.name,
        "createTime": _rfc3339(job.created), "updateTime": _rfc3339(now), "state": state,
        "batchStats": _batch_stats(job, state),
    }
    ended = job.end_time(now)
    if ended is not None:
        metadata["endTime"] = _rfc3339(ended)
    operation: dict[str, Any] = {"name": job.name, "metadata": metadata, "done": state in _BATCH_FINAL}
    if state == "BATCH_STATE_SUCCEEDED" and with_output:
        if job.answers is None:
            job.answers = [_request_answer(engine, job, i) for i in range(len(job.requests))]
        output = {"@type": "type.googleapis.com/google.ai.generativelanguage.v1main.GenerateContentBatchOutput",
                  "inlinedResponses": {"inlinedResponses": job.answers}}
        metadata["output"] = output
        operation["response"] = output
    elif state in ("BATCH_STATE_FAILED", "BATCH_STATE_EXPIRED"):
        why = "expired before it could run (48 h)" if state == "BATCH_STATE_EXPIRED" else "failed"
        operation["error"] = {"code": 13 if state == "BATCH_STATE_FAILED" else 4,
                              "message": f"Stand-in batch {why}."}
    return operation


def parse_batch(engine: _Engine, model: str, body: dict[str, Any]) -> _BatchJob:
    """A new job from a batchGenerateContent body; 400 when it has no inline requests."""
    batch = body.get("batch") or {}
    requests = ((batch.get("inputConfig") or batch.get("input_config") or {}).get("requests") or {}).get("requests")
    if not isinstance(requests, list) or not requests:
        raise RequestError(400, "batch.inputConfig.requests.requests must hold at least one request "
                                "(the stand-in does not read input files).")
    parsed: list[tuple[ParsedRequest | None, dict[str, Any]]] = []
    for entry in requests:
        try:
            req: ParsedRequest | None = parse_generate(entry.get("request") or {})
        except RequestError:
            req = None
        parsed.append((req, entry.get("metadata") or {}))
    cfg = engine.config
    outcomes = [engine.draw(limited=False) for _ in parsed]
    name = "batches/" + hashlib.sha1(repr((time.time(), random.random())).encode()).hexdigest()[:16]
    return _BatchJob(name=name, model=model, display_name=str(batch.get("displayName") or ""), requests=parsed,
                     outcomes=outcomes, created=time.time(), delay_s=cfg.batch_delay_s, end=cfg.batch_end)


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"
    # Headers and body go out in separate writes: without this, Nagle + delayed ACK add ~40 ms per answer.
    disable_nagle_algorithm = True

    def log_message(self, format: str, *args: Any) -> None:
        logger.debug("standin %s " + format, self.address_string(), *args)

    def do_GET(self) -> None:
        path = self.path.split("?", 1)[0]
        if path == "/_standin/stats":
            return self._send(200, self.server.engine.stats())
        if path == "/_standin/config":
            return self._send(200, dataclasses.asdict(self.server.engine.config))
        if _BATCH_PATH.match(path) or _BATCH_LIST_PATH.match(path):
            if self._refuse_key():
                return None
            try:
                return self._batch_get(path)
            except RequestError as exc:
                return self._send(exc.code, _error_body(exc.code, exc.message))
        match = _LIST_PATH.match(path)
        if not match:
            return self._send(404, _error_body(404, f"No route for GET {path}"))
        if self._refuse_key():
            return None
        self.server.engine.count("list_models")
        models = [{"name": f"models/{m}", "displayName": m, "supportedGenerationMethods": ["generateContent"]}
                  for m in IMAGE_TOKENS]
        return self._send(200, {"models": models})

    def do_POST(self) -> None:
        path = self.path.split("?", 1)[0]
        try:
            body = self._read_json()
            if path.startswith("/_standin/"):
                return self._admin(path, body)
            match = _GENERATE_PATH.match(path)
            batch_create = _BATCH_CREATE_PATH.match(path)
            batch_cancel = _BATCH_CANCEL_PATH.match(path)
            if not (match or batch_create or batch_cancel):
                raise RequestError(404, f"No route for POST {path}")
            if self._refuse_key():
                return None
            if batch_create:
                return self._batch_create(batch_create.group(2), body)
            if batch_cancel:
                return self._batch_cancel(f"batches/{batch_cancel.group(2)}")
            assert match is not None
            return self._generate(match.group(1), match.group(2), body)
        except RequestError as exc:
            if not path.startswith("/_standin/"):
                self.server.engine.count(f"invalid_{exc.code}")
            return self._send(exc.code, _error_body(exc.code, exc.message))
        except Exception:  # a renderer bug must still produce a Google-shaped answer
            logger.exception("stand-in failed on POST %s", path)
            return self._send(500, _error_body(500, "Stand-in internal error (see its log)."))

    def _admin(self, path: str, body: dict[str, Any]) -> None:
        engine = self.server.engine
        if path == "/_standin/config":
            return self._send(200, dataclasses.asdict(engine.configure(body)))
        if path == "/_standin/reset":
            engine.reset()
            return self._send(200, engine.stats())
        raise RequestError(404, f"No admin route {path}")

    def _generate(self, version: str, model: str, body: dict[str, Any]) -> None:
        engine = self.server.engine
        req = parse_generate(body)
        describing = req.mime_type == "application/json"
        if describing and model not in TEXT_MODELS:
            raise RequestError(404, f"models/{model} is not found for API version {version}, or does not answer "
                                    "structured output here.")
        if not describing:
            _check_model(model, version, req.image_size)
        _check_image(req.image)
        output_size(req.aspect_ratio, req.image_size)
        outcome = engine.draw()
        engine.count(outcome, {"version": version, "model": model, "aspect_ratio": req.aspect_ratio,
                               "image_size": req.image_size, "seed": req.seed, "prompt": req.prompt,
                               "modalities": req.modalities})
        delay = engine.latency() + (engine.config.slow_seconds if outcome == "slow" else 0.0)
        if delay > 0 and engine.stopping.wait(delay):
            return None
        if outcome == "ipm_limit":
            message = f"Quota exceeded: images per minute limit ({engine.config.ipm_limit}) reached. Retry later."
            return self._send(429, _error_body(429, message))
        if outcome.isdigit():
            code = int(outcome)
            return self._send(code, _error_body(code, f"Stand-in fault: {_HTTP_STATUS.get(code, 'error')}."))
        if describing:
            return self._send(200, describe_answer(outcome, model, req))
        return self._send(200, build_answer(engine, outcome, model, req))

    def _batch_create(self, model: str, body: dict[str, Any]) -> None:
        engine = self.server.engine
        if model not in IMAGE_TOKENS:
            raise RequestError(404, f"models/{model} is not found or does not support batchGenerateContent.")
        job = parse_batch(engine, model, body)
        with engine._lock:
            engine.batches[job.name] = job
        engine.count("batch_create")
        for outcome in job.outcomes:
            engine.count(f"batched_{outcome}", call=False)
        return self._send(200, batch_operation(engine, job, with_output=False))

    def _batch_get(self, path: str) -> None:
        engine = self.server.engine
        match = _BATCH_PATH.match(path)
        if match:
            engine.count("batch_get")
            job = engine.batches.get(f"batches/{match.group(2)}")
            if job is None:
                raise RequestError(404, f"Batch batches/{match.group(2)} not found.")
            return self._send(200, batch_operation(engine, job))
        engine.count("batch_list")
        query = dict(p.split("=", 1) for p in (self.path.split("?", 1)[1:] or [""])[0].split("&") if "=" in p)
        size = max(1, min(int(query.get("pageSize", 50)), 1000))
        start = int(query.get("pageToken") or 0)
        jobs = sorted(engine.batches.values(), key=lambda j: j.created, reverse=True)
        page = [batch_operation(engine, j, with_output=False) for j in jobs[start:start + size]]
        answer: dict[str, Any] = {"operations": page}
        if start + size < len(jobs):
            answer["nextPageToken"] = str(start + size)
        return self._send(200, answer)

    def _batch_cancel(self, name: str) -> None:
        engine = self.server.engine
        engine.count("batch_cancel")
        job = engine.batches.get(name)
        if job is None:
            raise RequestError(404, f"Batch {name} not found.")
        now = time.time()
        state = job.state(now)
        if state in _BATCH_FINAL:
            raise RequestError(400, f"Batch {name} has already ended ({state}); it cannot be cancelled.")
        job.cancelled_at = now
        return self._send(200, {})

    def _refuse_key(self) -> bool:
        key = self.headers.get("x-goog-api-key") or ""
        allowed = self.server.engine.api_keys
        if key and (allowed is None or key in allowed):
            return False
        self.server.engine.count("auth")
        if not key:
            self._send(401, _error_body(401, "Method doesn't allow unregistered callers. Send an API key."))
        else:
            self._send(403, _error_body(403, "API key not valid. Please pass a valid API key."))
        return True

    def _read_json(self) -> dict[str, Any]:
        length = int(self.headers.get("content-length") or 0)
        raw = self.rfile.read(length) if length else b""
        if not raw:
            return {}
        try:
            body = json.loads(raw)
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise RequestError(400, f"Invalid JSON payload received. {exc}") from exc
        if not isinstance(body, dict):
            raise RequestError(400, "Invalid JSON payload received: expected an object.")
        return body

    def _send(self, code: int, body: dict[str, Any]) -> None:
        data = json.dumps(body).encode()
        try:
            self.send_response(code)
            self.send_header("Content-Type", "application/json; charset=UTF-8")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):
            # The client gave up (its timeout): nothing to answer.
            self.close_connection = True


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128

    def __init__(self, address: tuple[str, int], engine: _Engine) -> None:
        super().__init__(address, _Handler)
        self.engine = engine


class StandinServer:
    """The stand-in in a background thread: `with StandinServer() as srv:` gives `srv.base_url`."""

    def __init__(
        self,
        config: StandinConfig | None = None,
        *,
        render: Renderer = offline_render,
        api_keys: Iterable[str] | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        keys = frozenset(api_keys) if api_keys is not None else None
        self.engine = _Engine(config or StandinConfig(), render, keys)
        self._address = (host, port)
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self.base_url = ""

    def start(self) -> str:
        """Bind (port 0 = a free port), serve in a daemon thread, return the base URL."""
        self._server = _Server(self._address, self.engine)
        host, port = self._server.server_address[:2]
        self.base_url = f"http://{host}:{port}"
        self._thread = threading.Thread(
            target=self._server.serve_forever, args=(0.05,), name="gemini-standin", daemon=True
        )
        self._thread.start()
        logger.info("Gemini stand-in serving at %s", self.base_url)
        return self.base_url

    def stop(self) -> None:
        """Stop serving; in-flight slow answers are abandoned."""
        if self._server is None:
            return
        self.engine.stopping.set()
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._server = None

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def configure(self, **changes: Any) -> StandinConfig:
        """Change controls while running (same keys as StandinConfig, plus `force=[...]`)."""
        return self.engine.configure(changes)

    def force(self, *outcomes: str) -> None:
        """Queue the exact outcomes of the next generate calls (or batched requests), e.g. force("429", "ok")."""
        self.engine.force(outcomes)

    def stats(self) -> dict[str, Any]:
        """Counters since start/reset.

        total: every API call; generate: all but list_models and auth refusals; by_outcome: per outcome
        ("ok", "429", "invalid_400", "auth", ...); last_request: what the last generate call asked for.
        """
        return self.engine.stats()

    def reset(self) -> None:
        """Zero the counters, the forced queue and the images-per-minute window."""
        self.engine.reset()


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="standin", description="Local stand-in for the Gemini API.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--api-key", action="append", help="accept only these keys (default: any non-empty key)")
    parser.add_argument("--latency", type=float, default=0.0, help="seconds added to every generate call")
    parser.add_argument("--latency-jitter", type=float, default=0.0, help="extra uniform random seconds")
    parser.add_argument("--ipm", type=int, default=None, help="images-per-minute limit (429 beyond it)")
    parser.add_argument("--slow-seconds", type=float, default=5.0, help="how long a 'slow' answer takes")
    parser.add_argument("--seed", type=int, default=None, help="seed for the fault draws")
    for fault in _FAULTS:
        parser.add_argument(f"--fault-{fault.replace('_', '-')}", type=float, default=0.0, metavar="RATE")
    return parser.parse_args(argv)


def config_from_args(args: argparse.Namespace) -> StandinConfig:
    return StandinConfig(
        latency_s=args.latency, latency_jitter_s=args.latency_jitter, ipm_limit=args.ipm,
        fault_429=args.fault_429, fault_503=args.fault_503, fault_slow=args.fault_slow,
        fault_prompt_block=args.fault_prompt_blocked, fault_image_safety=args.fault_image_safety,
        fault_text_only=args.fault_text_only, fault_corrupt=args.fault_corrupt,
        slow_seconds=args.slow_seconds, seed=args.seed,
    )


def _interrupt(_signum: int, _frame: object) -> None:
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    """Serve until Ctrl-C: `python -m devtools standin --port 8765 --fault-429 0.2`."""
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    server = StandinServer(config_from_args(args), api_keys=args.api_key, host=args.host, port=args.port)
    server.start()
    signal.signal(signal.SIGTERM, _interrupt)  # stop cleanly under a supervisor too, not only on Ctrl-C
    logger.info("point the SDK at it: HttpOptions(base_url=%r, api_version='v1beta')", server.base_url)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        logger.info("stopping; stats: %s", server.stats())
    finally:
        server.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
