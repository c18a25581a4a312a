"""Judge the face a user will get, at the face's own resolution: identity kept, the right change made, no seam.

The model's answer is warped straight into a crop around the face box (at most `FACE_SIDE` px for the
box's longer side, never enlarged), and with paste-back the crop is pasted exactly as the studio pastes
it (`lib.consistency.composite.paste_back`), so the judgement sees the final pixels. Three parts:

    identity  where no expression reaches (outline, hair at the sides, around the eyes) the face is
              unchanged; the fringe above and between the eyes kept its hair (an expression's brows are
              thin strokes there, a cut or a hat is an area); no line appeared or vanished across the gap
              between the eyes, along the line through them (glasses); the irises kept their hue
    change    the zones this expression or variant changes (`face_parts.zones_for`) did change; a blink
              must close the eyes, a mouth-open must open the mouth (more non-skin pixels in the mouth)
    seam      the band just inside the box's edge matches the base, so the pasted face meets it cleanly
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
from PIL import Image

from lib.consistency.align import Transform, base_memo, colour_key, edge_agreement, line_art, rgba_array
from lib.consistency.composite import default_feather, paste_back
from lib.consistency.face_parts import FaceParts, Zones, expects_change, zone_masks, zones_for
from lib.design.face_box import FaceBox

FACE_SIDE = 256
CHANGED_DE = 12.0  # CIE76 ΔE above which a pixel counts as changed
DRAWN_DE = 20.0  # ... and above which (in 2x2 px blocks) it counts as redrawn, for the requested change
IRIS_MAX_L = 72.0  # irises are darker than this (CIE L*); blush, tears and sparkles are lighter
INK_DE = 28.0  # a pixel this far from the skin colour is drawn (lashes, iris, an open mouth), not skin
AREA_PX = 5  # changed areas at least this wide (crop px) in the fringe zone are hair cut or covered, not strokes
SEAM_WINDOW = 2  # the seam is judged over windows this many times the identity windows (a fifth of the crop)


@dataclass(frozen=True)
class FaceVerdict:
    parts: dict[str, float]
    flags: tuple[str, ...]
    details: dict[str, float]


@dataclass(frozen=True)
class _Crop:
    base: np.ndarray  # RGBA
    final: np.ndarray  # RGBA
    zones: Zones


def ramp(value: float, good: float, bad: float) -> float:
    """100 at `good` or better, 0 at `bad` or worse, linear between."""
    t = (value - bad) / (good - bad)
    return float(100 * min(1.0, max(0.0, t)))


def _region(box: FaceBox, size: tuple[int, int]) -> tuple[int, int, int, int]:
    """The box grown by the ring paste-back fits its colours on (left, top, right, bottom)."""
    pad = max(4, min(box.w, box.h) // 6)
    return (max(0, box.x - pad), max(0, box.y - pad),
            min(size[0], box.x + box.w + pad), min(size[1], box.y + box.h + pad))


def _raw_to_base(result_size: tuple[int, int], base_size: tuple[int, int], t: Transform | None) -> np.ndarray:
    """3x3: raw result pixels → base pixels (`align.normalize_to_base`, then the placement)."""
    w, h = result_size
    s = max(base_size[0] / w, base_size[1] / h)
    nw, nh = max(base_size[0], round(w * s)), max(base_size[1], round(h * s))
    norm = np.array([[s, 0, -((nw - base_size[0]) // 2)], [0, s, -((nh - base_size[1]) // 2)], [0, 0, 1]])
    place = np.eye(3) if t is None else np.vstack([t.matrix, [0, 0, 1]])
    return place @ norm


def _warp_into(result: Image.Image | np.ndarray, m: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """`result` warped by the 3x3 `m` (its px → crop px) into an RGBA crop of `size`; box-filtered first
    when it shrinks, so thin lines survive."""
    if isinstance(result, np.ndarray):
        arr = result
    else:
        arr = np.asarray(result if result.mode in ("RGB", "RGBA") else result.convert("RGBA"))
    inv = np.linalg.inv(m)
    corners = inv @ np.array([[0, size[0], 0, size[0]], [0, 0, size[1], size[1]], [1, 1, 1, 1]], float)
    x0, y0 = (max(0, int(np.floor(corners[i].min())) - 2) for i in (0, 1))
    x1 = min(arr.shape[1], int(np.ceil(corners[0].max())) + 2)
    y1 = min(arr.shape[0], int(np.ceil(corners[1].max())) + 2)
    if x1 <= x0 or y1 <= y0:
        return np.zeros((size[1], size[0], 4), np.uint8)
    part = arr[y0:y1, x0:x1]
    m = m @ np.array([[1, 0, x0], [0, 1, y0], [0, 0, 1]], float)
    shrink = float(np.sqrt(abs(np.linalg.det(m[:2, :2]))))
    if shrink < 0.6:
        pw, ph = max(1, round(part.shape[1] * shrink)), max(1, round(part.shape[0] * shrink))
        part = cv2.resize(part, (pw, ph), interpolation=cv2.INTER_AREA)
        m = m @ np.diag([(x1 - x0) / pw, (y1 - y0) / ph, 1.0])
    if part.shape[2] == 3:
        part = cv2.cvtColor(np.ascontiguousarray(part), cv2.COLOR_RGB2RGBA)
    return cv2.warpAffine(np.ascontiguousarray(part), m[:2], size, flags=cv2.INTER_LINEAR,
                          borderMode=cv2.BORDER_CONSTANT)


def _crop(base: Image.Image, result: Image.Image, box: FaceBox, parts: FaceParts, t: Transform | None,
          *, paste: bool, small_result: np.ndarray | None) -> _Crop:
    left, top, right, bottom = _region(box, base.size)
    k = min(1.0, FACE_SIDE / max(box.w, box.h))
    size = (max(1, round((right - left) * k)), max(1, round((bottom - top) * k)))

    def base_crop() -> np.ndarray:
        return cv2.resize(rgba_array(base.crop((left, top, right, bottom))), size, interpolation=cv2.INTER_AREA)

    small_base = base_memo(base, ("face_crop", box, size), base_crop)
    to_base = _raw_to_base(result.size, base.size, t)
    source: Image.Image | np.ndarray = result
    if small_result is not None and small_result.shape[1] / base.width >= k:
        # The size-normalised work copy (`align.small_copies`) is sharp enough and far cheaper than the raw.
        w_small = small_result.shape[1] / base.width
        place = np.eye(3) if t is None else np.vstack([t.matrix, [0, 0, 1]])
        to_base = place @ np.diag([1 / w_small, 1 / w_small, 1])
        source = small_result
    to_crop = np.array([[k, 0, -left * k], [0, k, -top * k], [0, 0, 1]]) @ to_base
    aligned = _warp_into(source, to_crop, size)
    local = FaceBox(round((box.x - left) * k), round((box.y - top) * k), 0, 0)
    local = FaceBox(local.x, local.y, min(size[0] - local.x, max(16, round(box.w * k))),
                    min(size[1] - local.y, max(16, round(box.h * k))))
    if paste:
        final = rgba_array(paste_back(Image.fromarray(small_base, "RGBA"), Image.fromarray(aligned, "RGBA"),
                                      face_box=local, feather_px=default_feather(local)))
    else:
        final = aligned
    zones = zone_masks(small_base.shape[:2], box, parts, origin=(left, top), k=k)
    return _Crop(small_base, final, zones)


def _over(arr: np.ndarray, background: np.ndarray) -> np.ndarray:
    """RGB float32 of an RGBA crop over `background` (`align.flatten`, vectorised for small crops)."""
    alpha = arr[..., 3:4].astype(np.float32) * np.float32(1 / 255)
    colour = np.asarray(background, np.float32)
    return (arr[..., :3].astype(np.float32) - colour) * alpha + colour


def _lab(rgb: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(np.clip(rgb / 255.0, 0, 1).astype(np.float32), cv2.COLOR_RGB2Lab)


def _shift_tolerant(fixed: np.ndarray, moving: np.ndarray) -> np.ndarray:
    """Per-pixel ΔE of `fixed` against the nearest of `moving`'s pixels within 1 px."""
    padded = cv2.copyMakeBorder(moving, 1, 1, 1, 1, cv2.BORDER_REPLICATE)
    h, w = fixed.shape[:2]
    channels = np.ones((1, 3), np.float32)
    best = None  # squared ΔE (OpenCV: this runs nine times per image); one square root at the end
    for dy in (0, 1, 2):
        for dx in (0, 1, 2):
            d = cv2.subtract(padded[dy : dy + h, dx : dx + w], fixed)
            squared = cv2.transform(cv2.multiply(d, d), channels)
            best = squared if best is None else cv2.min(best, squared)
    return np.sqrt(best)


def tolerant_de(base_lab: np.ndarray, var_lab: np.ndarray, cast: np.ndarray, *, symmetric: bool = False,
                forgive: float = 8.0) -> np.ndarray:
    """Per-pixel ΔE after removing a mild cast (up to `forgive` per Lab channel), the minimum over 1 px
    shifts of the result.

    One-sided, a thin line the result ADDS disappears (each of its pixels has a 1 px neighbour that
    matches the base); `symmetric` also compares the base's shifts to the result and keeps the larger.
    """
    target = base_lab + np.clip(cast, -forgive, forgive).astype(np.float32)
    de = _shift_tolerant(target, var_lab)
    return cv2.max(de, _shift_tolerant(var_lab, target)) if symmetric else de


def worst_window(values: np.ndarray, weight: np.ndarray, side: int, min_weight: float = 0.25) -> float:
    """The largest local mean of `values` over windows whose mean `weight` exceeds `min_weight`."""
    num = cv2.blur(values.astype(np.float32), (side, side))
    den = cv2.blur(weight.astype(np.float32), (side, side))
    ok = den > min_weight
    return float((num[ok] / den[ok]).max()) if ok.any() else 0.0


def _share(mask: np.ndarray, zone: np.ndarray) -> float:
    return float(mask[zone].mean()) if zone.any() else 0.0


def _iris_like(lab: np.ndarray) -> np.ndarray:
    """Coloured, not-light pixels: irises (blush, tears, sparkles and highlights are lighter)."""
    return (np.hypot(lab[..., 1], lab[..., 2]) > 15) & (lab[..., 0] < IRIS_MAX_L)


def _eye_hue_shift(base_lab: np.ndarray, final_lab: np.ndarray, changed: np.ndarray, zone: np.ndarray) -> float:
    """How far (degrees of Lab hue) the eyes' coloured pixels turned where they changed colour but kept
    their lightness (a recoloured iris); 0 when too few did to tell (an eye that moved, closed or opened)."""
    was, now = _iris_like(base_lab) & zone, _iris_like(final_lab) & zone
    pairs = changed & was & now & (np.abs(final_lab[..., 0] - base_lab[..., 0]) < 12)  # recoloured, not redrawn
    if pairs.sum() < 0.02 * zone.sum() or now.sum() < 0.6 * was.sum():
        return 0.0
    before = np.arctan2(base_lab[..., 2][pairs], base_lab[..., 1][pairs])
    after = np.arctan2(final_lab[..., 2][pairs], final_lab[..., 1][pairs])
    turn = np.abs(np.degrees(after - before)) % 360
    return float(np.median(np.minimum(turn, 360 - turn)))


def _line_across(changed: np.ndarray, zone: np.ndarray) -> float:
    """How much of the gap between the eyes a changed line spans (glasses' bridge put on or taken off): the
    share of the band's columns (`Zones.bridge`, along the line through the eyes) that hold a changed pixel.
    Hair strands redrawn between the eyes cross it in a few columns only."""
    columns = zone.any(axis=0)
    if columns.sum() < 3:
        return 0.0
    crossed = (changed & zone).any(axis=0)
    return float(crossed[columns].mean())


def _skin(lab: np.ndarray, zone: np.ndarray) -> np.ndarray:
    """The most common colour of a zone (skin, on a face's cheeks), from a coarse Lab histogram."""
    pixels = lab[zone] if zone.any() else lab.reshape(-1, 3)
    q = np.floor(pixels / np.float32([6, 6, 6])).astype(np.int32)
    _, inverse, counts = np.unique(q, axis=0, return_inverse=True, return_counts=True)
    return np.median(pixels[inverse.ravel() == int(np.argmax(counts))], axis=0)


def _ink(lab: np.ndarray, zone: np.ndarray, skin: np.ndarray) -> float:
    return float((np.linalg.norm(lab[zone] - skin, axis=1) > INK_DE).mean()) if zone.any() else 0.0


def _open_eye(lab: np.ndarray, zone: np.ndarray, skin: np.ndarray) -> float:
    """The share of the eye zones holding ink at least a third of an eye box tall: an open eye's iris. A
    closed eye's lid is a line, however thick its lashes (the plain ink share drops far less on a blink)."""
    ink = ((np.linalg.norm(lab - skin, axis=2) > INK_DE) & zone).astype(np.uint8)
    ys = np.nonzero(zone.any(axis=1))[0]
    tall = max(3, round(0.3 * (ys.max() - ys.min() + 1))) if len(ys) else 3  # the eyes sit side by side
    thick = cv2.morphologyEx(ink, cv2.MORPH_OPEN, np.ones((tall, 3), np.uint8)) > 0
    return float(thick[zone].mean()) if zone.any() else 0.0


def _line_style(flat: tuple[np.ndarray, np.ndarray], zone: np.ndarray) -> float:
    """Agreement of the line art where no expression reaches (a blurred or repainted face loses its lines)."""
    grey = [cv2.cvtColor(np.clip(a, 0, 255).astype(np.uint8), cv2.COLOR_RGB2GRAY) for a in flat]
    base_lines = line_art(grey[0]) & zone
    if base_lines.sum() < 20:
        return 1.0
    return edge_agreement(base_lines, line_art(grey[1]) & zone, zone)


def _face_cast(base_lab: np.ndarray, final_lab: np.ndarray, z: Zones, fallback: np.ndarray) -> np.ndarray:
    """The face's own colour cast (median Lab offset where no expression reaches); `tolerant_de` forgives
    a mild one, as it does outside the face (paste-back's colour match cannot always remove it)."""
    m = z.identity | z.border
    if m.sum() < 50:
        return fallback
    return np.median(final_lab[m] - base_lab[m], axis=0).astype(np.float32)


def judge_face(
    base: Image.Image, result: Image.Image, *, face_box: FaceBox, parts: FaceParts, transform: Transform | None,
    paste: bool, expression: str | None, variant: str | None, background: np.ndarray, cast: np.ndarray,
    small_result: np.ndarray | None = None,
) -> FaceVerdict:
    """Identity, change and seam of the face the user gets (see the module docstring).

    `small_result` may pass `align.small_copies`' size-normalised result: used instead of the raw answer
    when it holds the face at `FACE_SIDE` or more."""
    c = _crop(base, result, face_box, parts, transform, paste=paste, small_result=small_result)
    z = c.zones
    def base_flat_lab() -> tuple[np.ndarray, np.ndarray]:
        flat = _over(c.base, background)
        return flat, _lab(flat)

    (base_flat, base_lab) = base_memo(base, ("face_flat_lab", face_box, c.base.shape, colour_key(background)),
                                      base_flat_lab)
    flat = base_flat, _over(c.final, background)
    final_lab = _lab(flat[1])
    face_cast = _face_cast(base_lab, final_lab, z, cast)
    de = tolerant_de(base_lab, final_lab, face_cast, symmetric=True)
    changed = de > CHANGED_DE
    # Drawn changes are strokes and areas; resampling and JPEG leave specks along every line.
    drawn = cv2.morphologyEx((de > DRAWN_DE).astype(np.uint8), cv2.MORPH_OPEN, np.ones((2, 2), np.uint8)) > 0
    side = max(8, min(changed.shape) // 5)
    details = {f"changed_{name}": _share(drawn, z.of(name)) for name in ("eyes", "brows", "mouth", "cheeks")}
    details["changed_identity"] = _share(changed, z.identity)
    details["changed_identity_local"] = worst_window(changed & z.identity, z.identity, side)
    details["eye_hue_shift_deg"] = _eye_hue_shift(base_lab, final_lab, changed, z.eyes)
    # At the edge, a face lit differently from the body shows: forgive only half the cast there.
    stepped = tolerant_de(base_lab, final_lab, face_cast, symmetric=True, forgive=4.0) > CHANGED_DE
    details["changed_border"] = _share(stepped, z.border)
    details["changed_border_local"] = worst_window(stepped & z.border, z.border, SEAM_WINDOW * side, min_weight=0.1)
    flags: list[str] = []
    details["line_between_eyes"] = _line_across(changed, z.bridge)
    # A fringe cut or a hat changes an area there; an expression's brows and the model's resampling, strokes.
    areas = cv2.morphologyEx(changed.astype(np.uint8), cv2.MORPH_OPEN, np.ones((AREA_PX, AREA_PX), np.uint8)) > 0
    details["changed_fringe"] = _share(areas, z.fringe)
    details["line_style_f1"] = _line_style(flat, z.identity | z.border)
    identity = min(ramp(details["changed_identity"], 0.08, 0.2), ramp(details["changed_identity_local"], 0.4, 0.65),
                   ramp(details["changed_brows"], 0.2, 0.35), ramp(details["line_between_eyes"], 0.8, 0.95),
                   ramp(details["line_style_f1"], 0.7, 0.45), ramp(details["changed_fringe"], 0.04, 0.1))
    eye_colour = ramp(details["eye_hue_shift_deg"], 36.0, 55.0)
    if eye_colour < 50:
        flags.append("eye_colour_changed")
    if identity < 50:
        flags.append("identity_changed")
    seam = min(ramp(details["changed_border"], 0.08, 0.3), ramp(details["changed_border_local"], 0.25, 0.6))
    if seam < 50:
        flags.append("seam")
    change, change_flags = _change(base_lab, final_lab, changed, z, expression, variant, details)
    flags += change_flags
    parts_out = {"identity": min(identity, eye_colour), "change": change, "seam": seam}
    return FaceVerdict(parts_out, tuple(flags), details)


def _change(base_lab: np.ndarray, final_lab: np.ndarray, changed: np.ndarray, z: Zones, expression: str | None,
            variant: str | None, details: dict[str, float]) -> tuple[float, list[str]]:
    """The requested change: the expected zones changed; a blink closed the eyes, a mouth-open opened."""
    if not expects_change(expression, variant):
        return 100.0, []
    wanted = zones_for(expression, variant)
    moved = max(details[f"changed_{zone}"] for zone in wanted)
    details["changed_wanted"] = moved
    change = ramp(moved, 0.08, 0.015)
    flags = [] if change >= 50 else ["unchanged_face"]
    if variant in ("blink", "mouth_open"):
        skin = _skin(base_lab, z.cheeks)
        zone = z.eyes if variant == "blink" else z.mouth
        before, after = _ink(base_lab, zone, skin), _ink(final_lab, zone, skin)
        details["ink_before"], details["ink_after"] = before, after
        if variant == "blink":
            before, after = _open_eye(base_lab, zone, skin), _open_eye(final_lab, zone, skin)
            details["open_eye_before"], details["open_eye_after"] = before, after
            closed = ramp(after / max(before, 1e-3), 0.6, 0.85)
            change = min(change, closed)
            flags += [] if closed >= 50 else ["eyes_not_closed"]
        else:
            opened = min(ramp(after - before, 0.06, 0.015), ramp(after / max(before, 1e-3), 1.6, 1.15))
            change = min(change, opened)
            flags += [] if opened >= 50 else ["mouth_not_opened"]
    return change, flags
