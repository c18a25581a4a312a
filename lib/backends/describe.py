"""Describe with Gemini: one structured-output call that reads a character's features from its picture.

One `generate_content` call with `response_mime_type="application/json"` and `response_schema=
DescribedFeatures`; no retries (a retried call is billed again, and the user can press the button again).
Every way it can go wrong becomes `DescribeFailed` with a sentence for the user, here and nowhere else:

    errors.APIError (4xx/5xx)                -> "Gemini refused / had a server error (HTTP …)"
    httpx2 timeout or transport error        -> "Gemini did not answer / could not be reached"
    prompt_feedback.block_reason, SAFETY     -> "Gemini declined to describe this picture (…)"
    answer that is not the schema's JSON     -> "Gemini's answer was not a usable description (…)"

Cost: prompt and answer tokens (`usage_metadata`) times the model's price per million tokens.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx2
from google import genai
from google.genai import errors, types
from pydantic import ValidationError

from lib.backends.gemini import SAFETY_FINISHES, GeminiConfig
from lib.core.errors import StudioError
from lib.design.features import DescribedFeatures, Features

log = logging.getLogger(__name__)

# USD per million (prompt, answer) tokens of the text models a describe call may use.
DEFAULT_TEXT_PRICES: dict[str, tuple[float, float]] = {"gemini-3-flash": (0.50, 3.00)}
PROMPT = (
    "Describe the anime character in this picture for an artist who must redraw her or him exactly. Give "
    "the colours as hex codes read from the picture (hair, irises, skin, the main garment), the hair style and "
    "length from the allowed values, the outfit in a few words and the accessories worn. Describe only what is "
    "visible; do not invent."
)


class DescribeFailed(StudioError):
    """No description: `reason` is a sentence for the user; `cost_usd` what the call still cost."""

    def __init__(self, reason: str, *, cost_usd: float = 0.0, usage: Mapping[str, Any] | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.cost_usd = cost_usd
        self.usage = dict(usage or {})


@dataclass(frozen=True)
class Described:
    features: Features
    model: str
    cost_usd: float
    usage: dict[str, Any] = field(default_factory=dict)


class GeminiDescriber:
    """Reads features from a picture with one structured-output call; keep one per process (it owns a client)."""

    def __init__(self, config: GeminiConfig, *, model: str,
                 prices: Mapping[str, tuple[float, float]] | None = None) -> None:
        self.model = model
        self.prices = dict(DEFAULT_TEXT_PRICES if prices is None else prices)
        self.config = config
        http_options = types.HttpOptions(api_version=config.api_version, base_url=config.base_url,
                                         timeout=config.timeout_ms, retry_options=types.HttpRetryOptions(attempts=1))
        self.client = genai.Client(api_key=config.api_key, http_options=http_options)

    def close(self) -> None:
        self.client.close()

    def describe(self, png: bytes) -> Described:
        """The features Gemini reads from `png`, or DescribeFailed."""
        config = types.GenerateContentConfig(
            response_mime_type="application/json", response_schema=DescribedFeatures,
            automatic_function_calling=types.AutomaticFunctionCallingConfig(disable=True))
        contents: list[Any] = [types.Part.from_bytes(data=png, mime_type="image/png"), PROMPT]
        try:
            response = self.client.models.generate_content(model=self.model, contents=contents, config=config)
        except errors.APIError as exc:
            kind = "had a server error" if exc.code >= 500 else "refused the request"
            raise DescribeFailed(f"Gemini {kind} (HTTP {exc.code}: {(exc.message or '')[:160]}). "
                                 "Nothing was changed.") from exc
        except httpx2.TimeoutException as exc:
            raise DescribeFailed(f"Gemini did not answer within {self.config.timeout_ms / 1000:g} s. "
                                 "Nothing was changed.") from exc
        except httpx2.TransportError as exc:
            raise DescribeFailed(f"Could not reach Gemini ({type(exc).__name__}). Nothing was changed.") from exc
        usage = _usage(response)
        cost = self._cost(usage)
        try:
            features = _read(response)
        except DescribeFailed as exc:
            exc.cost_usd, exc.usage = cost, usage
            raise
        return Described(features=features, model=self.model, cost_usd=cost, usage=usage)

    def _cost(self, usage: Mapping[str, Any]) -> float:
        price = self.prices.get(self.model)
        if price is None:
            log.warning("no price known for %s; recording the describe call at cost 0", self.model)
            return 0.0
        prompt, answer = usage.get("prompt_token_count", 0), usage.get("candidates_token_count", 0)
        return round(prompt * price[0] / 1e6 + answer * price[1] / 1e6, 6)


def _read(response: types.GenerateContentResponse) -> Features:
    """The answer's features, or DescribeFailed saying in words why there are none."""
    feedback = response.prompt_feedback
    if feedback is not None and feedback.block_reason is not None:
        raise DescribeFailed(f"Gemini declined to describe this picture ({_name(feedback.block_reason)}). "
                             "Nothing was changed: fill the features in by hand.")
    candidate = response.candidates[0] if response.candidates else None
    finish = _name(candidate.finish_reason) if candidate and candidate.finish_reason is not None else "STOP"
    if finish in SAFETY_FINISHES:
        raise DescribeFailed(f"Gemini declined to describe this picture ({finish}). Nothing was changed.")
    text = response.text or ""
    try:
        parsed = response.parsed if isinstance(response.parsed, DescribedFeatures) else \
            DescribedFeatures.model_validate(json.loads(text))
        return parsed.features()
    except (json.JSONDecodeError, ValidationError, ValueError) as exc:
        shown = " ".join(text.split())[:80] or "an empty answer"
        raise DescribeFailed(f"Gemini's answer was not a usable description (“{shown}”). Nothing was changed: "
                             "try again or fill the features in by hand.") from exc


def _name(value: object) -> str:
    return str(getattr(value, "value", value))


def _usage(response: types.GenerateContentResponse) -> dict[str, Any]:
    meta = response.usage_metadata
    return {} if meta is None else meta.model_dump(mode="json", exclude_none=True)
