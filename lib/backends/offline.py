"""The offline backend: the procedural renderer as an image backend (the zero-configuration default).

For a character whose base the renderer drew, it redraws the portrait with the new expression, which
is identical to the base outside the face box. For an uploaded base it removes the picture's own eyes and
mouth where the expression changes them and draws the expression's at the found positions, inside the face
box only: an offline preview, labelled as such in the studio.
"""

from __future__ import annotations

import io
import time

from PIL import Image

from lib.backends.base import Attempt, ImageRequest, ImageResult
from lib.core.images import png_bytes
from lib.design import expressions
from lib.design.face_box import FaceBox
from lib.design.features import Features
from lib.render.portrait import face_box, render_portrait
from lib.render.preview import edit_face


def default_face_box(width: int, height: int) -> FaceBox:
    """Where a bust-up portrait's face usually is (the renderer's own framing), until one is measured."""
    return face_box((width, height))


class OfflineBackend:
    """Draws expressions locally; free, deterministic, no network. A request's seed (the attempt number of a
    re-run) picks another take of the face, so making an image again gives a slightly different one."""

    name = "offline"
    model = "offline"

    def generate(self, request: ImageRequest) -> ImageResult:
        start = time.monotonic()
        expression = expressions.get(request.face or request.expression_key)
        if request.base_generated and request.features is not None:
            image = render_portrait(
                Features.model_validate(request.features), expression=expression, variant=request.variant,
                size=(request.width, request.height), take=request.seed or 1,
            )
        else:
            with Image.open(io.BytesIO(request.base_png)) as base:
                box = request.face_box or default_face_box(base.width, base.height)
                features = Features.model_validate(request.features) if request.features is not None else None
                image = edit_face(base.convert("RGBA"), box=box, expression=expression, variant=request.variant,
                                  points=request.face_points, features=features, take=request.seed or 1)
        attempt = Attempt(number=1, outcome="ok", http_status=None, seconds=time.monotonic() - start)
        return ImageResult(png=png_bytes(image), model=self.model, image_size=request.image_size, cost_usd=0.0,
                           attempts=(attempt,), usage={"cost_basis": "offline"})
