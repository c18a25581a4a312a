"""Build the configured image backend from settings."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from lib.backends.base import ImageBackend
from lib.core.errors import ConfigError, InvalidInput
from lib.core.settings import Settings

if TYPE_CHECKING:
    from lib.backends.gemini import GeminiConfig

BACKENDS = ("offline", "gemini")


def gemini_config(settings: Settings, *, model: str | None = None, image_size: str | None = None) -> GeminiConfig:
    """The GeminiConfig for these settings (ConfigError without an API key)."""
    if settings.gemini_api_key is None or not settings.gemini_api_key.get_secret_value().strip():
        raise ConfigError("Gemini is not configured: set GEMINI_API_KEY (or use the offline backend)")
    from lib.backends.gemini import GeminiConfig  # after the check: the SDK import takes seconds

    prices = price_table(settings)
    return GeminiConfig(
        api_key=settings.gemini_api_key.get_secret_value(), base_url=settings.gemini_base_url,
        api_version=settings.gemini_api_version, model=model or settings.gemini_model,
        image_size=image_size or settings.gemini_image_size, timeout_ms=settings.gemini_timeout_ms,
        max_attempts=settings.gemini_max_attempts, prices=prices,
        backoff_initial_s=settings.gemini_backoff_initial_seconds, backoff_max_s=settings.gemini_backoff_max_seconds,
        backoff_jitter_s=min(2.0, settings.gemini_backoff_initial_seconds),
    )


def price_table(settings: Settings) -> dict[tuple[str, str], float]:
    """USD per output image by (model, size): the built-in table with GEMINI_PRICES entries on top."""
    from lib.backends.gemini import DEFAULT_PRICES

    prices = dict(DEFAULT_PRICES)
    for key, usd in settings.gemini_prices.items():
        model_name, _, size = key.rpartition(":")
        prices[(model_name, size)] = usd
    return prices


def make_backend(settings: Settings, name: str | None = None, *, gate: Any = None) -> ImageBackend:
    """The backend called `name` (default: IMAGE_BACKEND). `gate` is entered around each model call
    (a worker passes its shared rate limiter's `slot`); the offline renderer calls no model."""
    name = name or settings.image_backend
    if name == "offline":
        from lib.backends.offline import OfflineBackend

        return OfflineBackend()
    if name == "gemini":
        config = gemini_config(settings)  # ConfigError without an API key, before importing the SDK
        from lib.backends.gemini import GeminiBackend

        return GeminiBackend(config, gate=gate)
    raise InvalidInput(f"unknown backend {name!r}; choose one of {', '.join(BACKENDS)}")


def make_describer(settings: Settings) -> Any:
    """The "Describe with Gemini" client (a GeminiDescriber); ConfigError without an API key."""
    config = gemini_config(settings)
    from lib.backends.describe import GeminiDescriber

    return GeminiDescriber(config, model=settings.gemini_describe_model)


def make_batch_client(settings: Settings) -> Any:
    """The Gemini Batch API client (a GeminiBatchClient) for economy batches; ConfigError without an API key."""
    config = gemini_config(settings)
    from lib.backends.gemini_batch import GeminiBatchClient

    return GeminiBatchClient(config, price_percent=settings.gemini_batch_price_percent)
