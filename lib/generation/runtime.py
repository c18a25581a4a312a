"""What a worker process needs to generate images, built once: engine, store, rate-limited backends."""

from __future__ import annotations

import logging
from functools import cache
from typing import Any

from sqlalchemy import Engine

from lib.backends.base import ImageBackend
from lib.backends.factory import BACKENDS, make_backend, make_batch_client
from lib.backends.limiter import ModelLimiter
from lib.core import db
from lib.core.errors import ConfigError
from lib.core.settings import Settings, get_settings
from lib.core.storage import ObjectStore, make_store

log = logging.getLogger(__name__)


class Runtime:
    """Engine, store and backends of one worker process; every Gemini backend shares one limiter."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.engine: Engine = db.get_engine(settings)
        self.store: ObjectStore = make_store(settings)
        self.limiter = ModelLimiter(images_per_minute=settings.gemini_images_per_minute,
                                    max_in_flight=settings.gemini_max_in_flight, redis_url=settings.redis_url)
        self._backends: dict[str, ImageBackend] = {}
        self._batch_client: Any = None

    def warm(self) -> list[str]:
        """Build every backend jobs can ask for now (the Gemini SDK import takes seconds), so the first
        tasks of a batch do not queue behind it; returns their names. Gemini without an API key is left
        out: jobs that ask for it fail with that reason."""
        ready = []
        for name in BACKENDS:
            try:
                self.backend(name)
            except ConfigError as exc:
                log.info("backend %s not available: %s", name, exc)
                continue
            ready.append(name)
        return ready

    def batch_client(self) -> Any:
        """The Gemini Batch API client for economy batches (ConfigError without an API key)."""
        if self._batch_client is None:
            self._batch_client = make_batch_client(self.settings)
        return self._batch_client

    def backend(self, name: str) -> ImageBackend:
        if name not in self._backends:
            self._backends[name] = make_backend(self.settings, name, gate=self.limiter.slot)
        return self._backends[name]


@cache
def runtime() -> Runtime:
    """This process's runtime, from the global settings."""
    return Runtime(get_settings())
