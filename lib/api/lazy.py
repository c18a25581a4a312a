"""A route's dependency built on first use, once, from any thread (tests pass their own instead)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Generic, TypeVar

T = TypeVar("T")


class Lazy(Generic[T]):
    """`given`, or `build()` on the first call; call it for the value."""

    def __init__(self, build: Callable[[], T], given: T | None = None) -> None:
        self._build, self._value = build, given
        self._lock = threading.Lock()

    def __call__(self) -> T:
        with self._lock:
            if self._value is None:
                self._value = self._build()
            return self._value
