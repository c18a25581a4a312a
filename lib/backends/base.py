"""The protocol every image backend implements: one request in, one PNG (or a typed failure) out.

    StudioError
    └── GenerationFailed   kind says why; permanent says whether re-queueing the same request can help
          prompt_blocked   the service refused the prompt before drawing        permanent
          client_error     the request itself was refused (400/401/403/404...)  permanent
          safety           the drawn image was withheld (IMAGE_SAFETY, ...)     may succeed on retry
          no_image         the answer had no image and no explanation           may succeed on retry
          text_only        the model answered in words instead of an image      may succeed on retry
          corrupt_image    image bytes arrived but do not decode                may succeed on retry
          rate_limited     HTTP 429 on every attempt                            may succeed later
          server_error     HTTP 5xx on every attempt, or the service unreachable may succeed later
          timeout          no answer within the timeout on every attempt        may succeed later

Backends retry only the transient kinds themselves (rate_limited, server_error, timeout); everything
else is returned to the caller after one call, because a retried generation may be billed again.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal, Protocol, get_args

from lib.core.errors import InvalidInput, StudioError
from lib.design.face_box import FaceBox, FacePoints

ImageSize = Literal["512", "1K", "2K", "4K"]
IMAGE_SIZES: tuple[str, ...] = get_args(ImageSize)

FailureKind = Literal[
    "prompt_blocked",
    "safety",
    "no_image",
    "text_only",
    "corrupt_image",
    "rate_limited",
    "server_error",
    "timeout",
    "client_error",
]
FAILURE_KINDS: tuple[str, ...] = get_args(FailureKind)


@dataclass(frozen=True)
class ImageRequest:
    """One single-turn edit of the approved base image; width/height are the base's size."""

    base_png: bytes = field(repr=False)
    prompt: str
    width: int
    height: int
    model: str
    image_size: str
    expression_key: str
    variant: str | None = None
    seed: int | None = None
    # What the offline renderer draws from (model backends ignore these; the prompt carries them).
    features: dict[str, Any] | None = None
    face: str | None = None
    face_box: FaceBox | None = None
    face_points: FacePoints | None = None
    base_generated: bool = False

    def __post_init__(self) -> None:
        if self.width <= 0 or self.height <= 0:
            raise InvalidInput(f"image size must be positive, got {self.width}x{self.height}")
        if self.image_size not in IMAGE_SIZES:
            raise InvalidInput(f"image_size must be one of {', '.join(IMAGE_SIZES)}, got {self.image_size!r}")
        if not self.base_png:
            raise InvalidInput("the base image is empty")
        if not self.prompt.strip():
            raise InvalidInput("the prompt is empty")


@dataclass(frozen=True)
class Attempt:
    """One HTTP call a backend made; outcome is e.g. "ok", "http_429", "timeout", "blocked"."""

    number: int
    outcome: str
    http_status: int | None
    seconds: float
    detail: str = ""


@dataclass(frozen=True)
class ImageResult:
    """A verified image, re-encoded as PNG, with what it cost and how many calls it took."""

    png: bytes = field(repr=False)
    model: str
    image_size: str
    cost_usd: float
    attempts: tuple[Attempt, ...]
    usage: dict[str, object]


class GenerationFailed(StudioError):
    """No image: `reason` is a sentence fit to show an artist; `kind` is one of FAILURE_KINDS."""

    def __init__(
        self, kind: FailureKind, reason: str, *, permanent: bool, attempts: tuple[Attempt, ...] = ()
    ) -> None:
        if kind not in FAILURE_KINDS:
            raise ValueError(f"unknown failure kind {kind!r}")
        super().__init__(reason)
        self.kind: FailureKind = kind
        self.reason = reason
        self.permanent = permanent
        self.attempts = attempts

    def __repr__(self) -> str:
        return f"GenerationFailed(kind={self.kind!r}, permanent={self.permanent}, calls={len(self.attempts)})"


class ImageBackend(Protocol):
    """What the studio needs from an image service."""

    name: str

    def generate(self, request: ImageRequest) -> ImageResult:
        """Return the edited image or raise GenerationFailed."""
        ...
