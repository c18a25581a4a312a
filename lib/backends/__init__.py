"""Image backends: one small protocol (`base`) and its implementations (`gemini`, ...).

Only the protocol is re-exported here so importing it stays cheap; import a concrete backend from
its own module (`from lib.backends.gemini import GeminiBackend`).
"""

from lib.backends.base import (
    FAILURE_KINDS,
    Attempt,
    GenerationFailed,
    ImageBackend,
    ImageRequest,
    ImageResult,
)

__all__ = [
    "FAILURE_KINDS",
    "Attempt",
    "GenerationFailed",
    "ImageBackend",
    "ImageRequest",
    "ImageResult",
]
