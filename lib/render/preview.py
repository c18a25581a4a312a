"""Offline previews on uploaded pictures: the picture's own eyes and mouth removed where the expression
changes them, and the expression's eyes, brows, mouth and marks drawn at the found positions, scaled to
the face. Everything happens inside the face box; pixels outside it and the whole alpha channel are kept.

Removal is OpenCV inpainting (Telea) from the surrounding skin only (hair, line art and blush at the hole's
edge are hidden from it, else they smear into it), which reads as skin on flat anime shading; the hole's edge
is soft. The renderer's face is placed by the eyes (their distance gives the scale) and its mouth is moved
to the found mouth, since real characters keep their mouths closer to the eyes than the renderer does.
"""

from __future__ import annotations

import math
from dataclasses import replace

import cv2
import numpy as np
from PIL import Image

from lib.design.expressions import Expression
from lib.design.face_box import FaceBox, FacePoints, proportional_points
from lib.design.features import Features
from lib.render.canvas import Canvas, downsample
from lib.render.colour import Color, mix, palette
from lib.render.eyes import EX, EY, draw_brows, draw_eye_shapes
from lib.render.face import Face, resolve, vary
from lib.render.marks import draw_cues_over, draw_cues_under
from lib.render.mouths import MOUTHS, MY

EYE_HALF = (0.36, 0.30)  # removed around each eye, in eye distances (half width, half height)
MOUTH_HALF = (0.24, 0.16)
DARK = 110  # grey level of line art, lashes and pupils
UNLIKE_SKIN = 45.0  # RGB distance from the skin colour of lips and the inside of a mouth
SKIN_DEPTH = 0.08  # of the eye distance: how far inside a removed area the fill becomes the face's skin


def _ellipse_mask(shape: tuple[int, int], centres: list[tuple[float, float]], half: tuple[float, float]) -> np.ndarray:
    mask = np.zeros(shape, np.uint8)
    for cx, cy in centres:
        cv2.ellipse(mask, (round(cx), round(cy)), (max(1, round(half[0])), max(1, round(half[1]))), 0, 0, 360, 255, -1)
    return mask


def _skin(rgb: np.ndarray, alpha: np.ndarray, keep: np.ndarray) -> Color:
    """The median colour of the opaque pixels just around the removed areas (the face's own skin)."""
    ring = cv2.dilate(keep, np.ones((9, 9), np.uint8)) & ~keep & (alpha > 200).astype(np.uint8) * 255
    pixels = rgb[ring > 0]
    if len(pixels) < 8:
        pixels = rgb[alpha > 200] if (alpha > 200).any() else np.array([[255, 228, 212]])
    r, g, b = (int(v) for v in np.median(pixels, axis=0))
    return (r, g, b, 255)


def _whole_mouth(mouth: np.ndarray, unlike: np.ndarray, at: tuple[int, int], d: float) -> np.ndarray:
    """The mouth mask grown over every blob of not-skin pixels it touches near the mouth point: a wide-open
    laughing mouth is larger than the ellipse, and what is left of it would read as a second mouth."""
    if not mouth.any():
        return mouth
    h, w = mouth.shape
    x0, x1 = max(0, round(at[0] - 0.4 * d)), min(w, round(at[0] + 0.4 * d))
    y0, y1 = max(0, round(at[1] - 0.25 * d)), min(h, round(at[1] + 0.45 * d))
    _, labels = cv2.connectedComponents(unlike[y0:y1, x0:x1].astype(np.uint8), connectivity=8)
    touched = np.unique(labels[(mouth[y0:y1, x0:x1] > 0) & (labels > 0)])
    edge = np.unique(np.concatenate([labels[0], labels[-1], labels[:, 0], labels[:, -1]]))
    touched = np.setdiff1d(touched, edge)  # a blob reaching out of the window is an outline or hair, not a mouth
    grown = mouth.copy()
    grown[y0:y1, x0:x1][np.isin(labels, touched)] = 255
    return grown


def _remove(crop: np.ndarray, points: FacePoints, face: Face, neutral: bool, d: float) -> tuple[np.ndarray, Color]:
    """The crop with the eyes and/or mouth that this face redraws inpainted away, and the skin colour."""
    rgb, alpha = np.ascontiguousarray(crop[..., :3]), crop[..., 3]
    eyes = [(float(x), float(y)) for x, y in points[:2]]
    mask = np.zeros(alpha.shape, np.uint8)
    mouth = np.zeros(alpha.shape, np.uint8)
    if face.eyes != "open":
        mask |= _ellipse_mask(alpha.shape, eyes, (EYE_HALF[0] * d, EYE_HALF[1] * d))
    if not neutral or face.mouth_open > 0:
        mouth = _ellipse_mask(alpha.shape, [(float(points.mouth[0]), float(points.mouth[1]))],
                              (MOUTH_HALF[0] * d, MOUTH_HALF[1] * d))
    skin = _skin(rgb, alpha, mask | mouth)
    if (mask | mouth).any():
        # Lash tips and line art just outside the ellipses would smear into the fill as dark blots, and the
        # lips and inside of a wide mouth as pink ones: take those pixels next to the removed areas too.
        grow = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (round(0.2 * d) | 1,) * 2)
        dark = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY) < DARK
        unlike_skin = np.linalg.norm(rgb.astype(np.float32) - np.array(skin[:3], np.float32), axis=2) > UNLIKE_SKIN
        mask = np.where((cv2.dilate(mask, grow) > 0) & dark, 255, mask).astype(np.uint8)
        hsv = cv2.cvtColor(rgb, cv2.COLOR_RGB2HSV)
        mouth_like = dark | ((hsv[..., 1] > 90) & (hsv[..., 2] < 235))  # lips, tongue, inside: not light blush
        mouth = _whole_mouth(mouth, mouth_like, points.mouth, d)
        mouth = np.where((cv2.dilate(mouth, grow) > 0) & (dark | unlike_skin), 255, mouth).astype(np.uint8)
        mask = cv2.dilate(mask | mouth, np.ones((3, 3), np.uint8))
        # Fill from skin only: hair, outlines and blush at the hole's edge would be carried into it as smears.
        # They stay in the picture; the inpainting just does not see them.
        source = rgb.copy()
        source[unlike_skin & (mask == 0)] = skin[:3]
        filled = cv2.inpaint(source, mask, max(3.0, 0.06 * d), cv2.INPAINT_TELEA)
        # A soft edge: where the hole cuts across hair, the skin fades into it instead of biting a hard notch.
        soft = cv2.GaussianBlur(mask, (0, 0), max(1.0, 0.015 * d)).astype(np.float32)[..., None] / 255
        rgb = (filled * soft + rgb * (1 - soft)).astype(np.uint8)
        # Deeper inside a large hole, lean on the face's own skin colour: inpainting from a long edge streaks.
        depth = cv2.distanceTransform((mask > 0).astype(np.uint8), cv2.DIST_L2, 3)
        lean = np.clip(depth / max(2.0, SKIN_DEPTH * d), 0, 1)[..., None] * 0.85
        rgb = (rgb * (1 - lean) + np.array(skin[:3], np.float32) * lean).astype(np.uint8)
    return np.dstack([rgb, alpha]), skin


def _draw(size: tuple[int, int], ss: int, points: FacePoints, face: Face, neutral: bool,
          features: Features, skin: Color) -> Image.Image:
    """The expression's cues on a transparent layer of `size`, placed by the eyes, the mouth moved to its point."""
    (lx, ly), (rx, ry), (mx, my) = points
    scale = math.hypot(rx - lx, ry - ly) / (2 * EX) * ss
    ox, oy = (lx + rx) / 2 * ss, (ly + ry) / 2 * ss - EY * scale
    img = Image.new("RGBA", (size[0] * ss, size[1] * ss), (0, 0, 0, 0))
    c = Canvas(img, scale, ox, oy)
    pal = replace(palette(features), skin=skin, skin_line=mix(skin, (120, 50, 50, 255), 0.62))
    draw_cues_under(c, face)
    if face.eyes != "open":
        draw_eye_shapes(c, pal, face)
    if face.eyes != "open" or face.brows != ("normal", "normal"):
        draw_brows(c, pal, face)
    if not neutral or face.mouth_open > 0:
        mouth = Canvas(img, scale, mx * ss, my * ss - MY * scale)
        MOUTHS[face.mouth](mouth, pal, face.mouth_open, face.teeth)
    draw_cues_over(c, face)
    return downsample(img, ss)


def _colours(features: Features | None) -> Features:
    """Colours to draw with: the character's where given; an eye colour nobody gave is a dark neutral brown,
    not the renderer's default blue."""
    given = features if features is not None else Features.model_validate({})
    return given if "eye_color" in given.given() else given.model_copy(update={"eye_color": "#4a3c3c"})


def edit_face(
    base: Image.Image,
    *,
    box: FaceBox,
    expression: Expression,
    variant: str | None = None,
    points: FacePoints | None = None,
    features: Features | None = None,
    take: int = 1,
) -> Image.Image:
    """An offline preview of `expression` on an uploaded picture, changed inside `box` only.

    `points` are the eyes and mouth found on the picture (without them, where they usually sit in the box);
    `features` colour the new eyes; `take` > 1 draws a re-run that differs a little. Pixels outside the box
    and the whole alpha channel are kept exactly.
    """
    x, y, w, h = FaceBox.checked(box, base.size)
    points = points if points is not None and points.inside(FaceBox(x, y, w, h)) else proportional_points(
        FaceBox(x, y, w, h))
    local = FacePoints(*((px - x, py - y) for px, py in points))
    face = vary(resolve(expression, variant), take)
    neutral = expression.face == "neutral"
    out = base.convert("RGBA")
    crop = np.asarray(out.crop((x, y, x + w, y + h))).copy()
    d = max(4.0, math.hypot(local.right_eye[0] - local.left_eye[0], local.right_eye[1] - local.left_eye[1]))
    cleaned, skin = _remove(crop, local, face, neutral, d)
    painted = Image.fromarray(cleaned, "RGBA")
    ss = max(1, min(4, 2048 // max(w, h)))
    painted.alpha_composite(_draw((w, h), ss, local, face, neutral, _colours(features), skin))
    painted.putalpha(Image.fromarray(crop[..., 3]))
    out.paste(painted, (x, y))
    return out
