"""Rate limits of the REST API, per token and per client address (the `limits` library, moving windows).

`API_RATE_LIMITS` holds the limits in the library's notation ("10 per 5 seconds; 100 per minute": two
requests a second with bursts of ten, and a hundred a minute). With REDIS_URL set the counters live in
Redis, so every studio process counts together; otherwise in this process.
"""

from __future__ import annotations

import math
import time

from limits import parse_many
from limits.storage import storage_from_string
from limits.strategies import MovingWindowRateLimiter

from lib.core.errors import StudioError


class RateLimited(StudioError):
    """Too many requests; `retry_after` is the number of seconds until one more is allowed."""

    def __init__(self, message: str, *, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class ApiLimiter:
    """Counts requests per key ("token:<id>", "address:<ip>") against every configured limit."""

    def __init__(self, *, limits: str, redis_url: str | None = None) -> None:
        self.items = parse_many(limits)
        self.limiter = MovingWindowRateLimiter(storage_from_string(redis_url or "memory://"))

    def hit(self, key: str) -> None:
        """Count one request for `key`; RateLimited (nothing else counted) once any limit is reached."""
        for item in self.items:
            if not self.limiter.hit(item, "studio-api", key):
                reset, _ = self.limiter.get_window_stats(item, "studio-api", key)
                wait = max(1, math.ceil(reset - time.time()))
                raise RateLimited(f"Too many requests: at most {item} per client. Try again in {wait} s.",
                                  retry_after=wait)
