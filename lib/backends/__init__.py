"""Image backends: one small protocol (`base`) and its implementations (`gemini`, `offline`), plus
`describe`, the one structured-output Gemini call that reads a character's features from its picture.

`factory` builds the configured backend from settings; `limiter` shares images-per-minute and
calls-in-flight limits across workers. Only the protocol is re-exported here so importing it stays
cheap; import a concrete backend from its own module (`from lib.backends.gemini import GeminiBackend`).
May import `lib.render` (the offline backend draws with it), `lib.design` and `lib.core`.
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
