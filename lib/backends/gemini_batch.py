"""Gemini's Batch API through google-genai (`client.batches`): many edits as one job at the batch price.

A job is created with inline requests (the same contents and config as one edit), polled by name, and
read back in request order. SDK errors are translated here, once:

    errors.APIError 4xx (not 408/429)   -> BatchCallFailed(permanent=True)   the request itself is wrong
    errors.APIError 408/429/5xx          -> BatchCallFailed(permanent=False)  ask again at the next poll
    httpx2.TransportError / timeout      -> BatchCallFailed(permanent=False)

Each answer of a succeeded job is read exactly as a standard answer (`lib.backends.gemini.read_image`):
safety blocks, text-only answers and per-request errors become GenerationFailed with a readable reason.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

import httpx2
from google import genai
from google.genai import errors, types

from lib.backends.base import Attempt, GenerationFailed, ImageRequest
from lib.backends.gemini import GeminiConfig, _Failure, edit_config, edit_contents, image_cost, read_image, usage_dict
from lib.core.errors import StudioError

logger = logging.getLogger(__name__)

ENDED = frozenset({"JOB_STATE_SUCCEEDED", "JOB_STATE_FAILED", "JOB_STATE_CANCELLED", "JOB_STATE_EXPIRED"})


class BatchCallFailed(StudioError):
    """A Batch API call (create, get, list, cancel) got no usable answer; `permanent` = asking again is futile."""

    def __init__(self, reason: str, *, permanent: bool) -> None:
        super().__init__(reason)
        self.reason = reason
        self.permanent = permanent


@dataclass(frozen=True)
class BatchAnswer:
    """One request's outcome: a verified PNG with its batch-price cost, or the failure to show."""

    png: bytes | None = field(repr=False)
    failure: GenerationFailed | None
    cost_usd: float = 0.0
    usage: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class BatchStatus:
    """What Gemini says about a job now; `answers` only once it succeeded."""

    name: str
    state: str
    progress: dict[str, Any] | None = None
    answers: list[BatchAnswer] | None = None

    @property
    def ended(self) -> bool:
        return self.state in ENDED


class GeminiBatchClient:
    """create / get / find / cancel of Batch API jobs; `calls` counts the HTTP calls made."""

    def __init__(self, config: GeminiConfig, *, price_percent: float = 50.0) -> None:
        self.config = config
        self.price_percent = price_percent
        self.calls = 0
        http_options = types.HttpOptions(api_version=config.api_version, base_url=config.base_url,
                                         timeout=config.timeout_ms, retry_options=types.HttpRetryOptions(attempts=1))
        self.client = genai.Client(api_key=config.api_key, http_options=http_options)  # kept: GC closes it

    def close(self) -> None:
        self.client.close()

    def create(self, *, display_name: str, model: str, requests: list[ImageRequest],
               keys: list[str]) -> BatchStatus:
        """Submit the edits as one job; `keys` go along as each request's metadata (`item`)."""
        src = [types.InlinedRequest(contents=edit_contents(r), config=edit_config(r), metadata={"item": key})
               for r, key in zip(requests, keys, strict=True)]
        job = self._call(lambda: self.client.batches.create(
            model=model, src=src, config=types.CreateBatchJobConfig(display_name=display_name)))
        return self._status(job, model=model, image_size=requests[0].image_size if requests else "")

    def get(self, *, name: str, model: str, image_size: str) -> BatchStatus:
        return self._status(self._call(lambda: self.client.batches.get(name=name)), model=model,
                            image_size=image_size)

    def find(self, *, display_name: str, model: str, image_size: str) -> BatchStatus | None:
        """The job created under this display name, if a submit got that far before its worker died."""
        pager = self._call(lambda: self.client.batches.list(config=types.ListBatchJobsConfig(page_size=100)))
        for job in pager.page:  # the newest page: a submit is resumed within minutes
            if job.display_name == display_name:
                return self._status(job, model=model, image_size=image_size)
        return None

    def cancel(self, *, name: str) -> None:
        self._call(lambda: self.client.batches.cancel(name=name))

    def _call(self, call: Any) -> Any:
        self.calls += 1
        try:
            return call()
        except errors.APIError as exc:
            transient = exc.code in (408, 429) or exc.code >= 500
            raise BatchCallFailed(f"Gemini's Batch API answered HTTP {exc.code}: {(exc.message or '')[:200]}",
                                  permanent=not transient) from exc
        except (httpx2.TransportError, httpx2.TimeoutException) as exc:
            raise BatchCallFailed(f"Could not reach Gemini's Batch API ({type(exc).__name__}).",
                                  permanent=False) from exc

    def _status(self, job: types.BatchJob, *, model: str, image_size: str) -> BatchStatus:
        state = str(getattr(job.state, "value", job.state) or "JOB_STATE_PENDING")
        stats = job.completion_stats.model_dump(mode="json", exclude_none=True) if job.completion_stats else None
        answers = None
        if state == "JOB_STATE_SUCCEEDED":
            inlined = (job.dest.inlined_responses if job.dest else None) or []
            answers = [self._answer(r, model=model, image_size=image_size) for r in inlined]
        return BatchStatus(name=job.name or "", state=state, progress=stats or None, answers=answers)

    def _answer(self, inlined: types.InlinedResponse, *, model: str, image_size: str) -> BatchAnswer:
        if inlined.error is not None or inlined.response is None:
            code = inlined.error.code if inlined.error else None
            message = (inlined.error.message if inlined.error else None) or "no answer"
            return BatchAnswer(None, GenerationFailed(
                "server_error" if (code or 500) >= 500 or code == 429 else "client_error",
                f"Gemini's batch could not make this image (HTTP {code}: {message[:200]}); its credits were "
                "refunded. Try again.", permanent=False, attempts=(Attempt(1, f"http_{code}", code, 0.0),)))
        try:
            png = read_image(inlined.response)
        except _Failure as failure:
            return BatchAnswer(None, failure.to_error((Attempt(1, failure.kind, 200, 0.0, failure.reason),)))
        usage = usage_dict(inlined.response)
        cost, basis = image_cost(self.config, model=model, image_size=image_size, usage=usage,
                                 percent=self.price_percent)
        return BatchAnswer(png, None, cost, {**usage, "cost_basis": basis, "tier": "economy"})
