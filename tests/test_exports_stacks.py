"""Ren'Py and PNGTuber Plus packs stacked the way those tools stack them, compared with every finished PNG,
on a drawn base and on real artwork with soft, semi-transparent edges (PSD: tests/test_exports_psd.py)."""

from __future__ import annotations

import base64
import io
import json
import re
import zipfile

import numpy as np
import pytest

from lib.exports import export
from tests.export_support import (
    layered_sets,
    load_set,
    max_difference,
    paste,
    premultiplied,
    rgba,
    straight_over,
)


@pytest.fixture(scope="module", params=layered_sets())
def material(request):
    return (request.param, *load_set(request.param))


def _pack(fmt: str, export_set, store) -> zipfile.ZipFile:
    buf = io.BytesIO()
    export(fmt, export_set, store.__getitem__, buf)
    return zipfile.ZipFile(io.BytesIO(buf.getvalue()))


# ---------------------------------------------------------------- Ren'Py

_ATTRIBUTE = re.compile(r'^ {8}attribute (\w+)( default)?( if_all "(\w+)")?( if_not (\[[^]]*\]|"\w+"))?:$')


def _layers(script: str) -> list[dict]:
    """The layeredimage's layers in drawing order, as Ren'Py's parser reads them (always, then attributes)."""
    layers, lines = [], script.splitlines()
    for index, line in enumerate(lines):
        if line.startswith('    always "'):
            layers.append({"image": line.split('"')[1], "attribute": None, "group": None})
        elif line.startswith("    group "):
            group = line.split()[1]
        elif match := _ATTRIBUTE.match(line):
            if_not = re.findall(r'"(\w+)"', match.group(6) or "")
            layers.append({"image": lines[index + 1].strip().strip('"'), "attribute": match.group(1), "group": group,
                           "default": bool(match.group(2)), "if_all": match.group(4), "if_not": if_not})
    return layers


def _shown(layers: list[dict], attributes: set[str]) -> list[str]:
    """Ren'Py's layeredimage rule: defaults fill empty groups; a layer shows if its conditions hold."""
    chosen = set(attributes)
    for layer in layers:
        taken = {x["group"] for x in layers if x["attribute"] in chosen}
        if layer.get("default") and layer["group"] not in taken:
            chosen.add(layer["attribute"])
    return [layer["image"] for layer in layers
            if layer["attribute"] is None or (layer["attribute"] in chosen
                                              and (layer["if_all"] is None or layer["if_all"] in chosen)
                                              and not set(layer["if_not"]) & chosen)]


def _renpy_composite(pack: zipfile.ZipFile, slug: str, shown: list[str]) -> np.ndarray:
    """Each image premultiplied to 8 bits, drawn in order with "over": out = top + below * (1 - top alpha)."""
    result = None
    for image in shown:
        top = premultiplied(rgba(pack.read(f"game/images/{slug}/{image}.png")))
        result = top if result is None else np.rint(top + result * (1 - top[..., 3:] / 255))
    return result


def test_renpy_base_then_face_is_every_finished_image(material) -> None:
    """Premultiplied "over" of exactly the images Ren'Py's layeredimage shows for `show <slug> <expr> [variant]`."""
    name, export_set, store = material
    pack = _pack("renpy", export_set, store)
    slug = export_set.slug
    layers = _layers(pack.read(f"game/{slug}_layeredimage.rpy").decode())
    worst = {}
    for item in export_set.items:
        attributes = {item.expression_key} | ({item.variant} if item.variant else set())
        shown = _shown(layers, attributes)
        assert len(shown) == 2 and shown[0] == f"{slug}_base", shown  # the body and exactly one layer
        finished = premultiplied(rgba(store[item.image_key]))
        worst[(item.expression_key, item.role)] = int(np.abs(_renpy_composite(pack, slug, shown) - finished).max())
    assert max(worst.values()) <= 1, (name, worst)
    plain = _renpy_composite(pack, slug, _shown(layers, set()))
    assert np.abs(plain - premultiplied(rgba(store[export_set.base_key]))).max() <= 1  # `show <slug>`: the base


def test_renpy_readme_says_what_was_cut(material) -> None:
    name, export_set, store = material
    pack = _pack("renpy", export_set, store)
    readme = pack.read(f"game/{export_set.slug}_README.txt").decode()
    manifest = json.loads(pack.read(f"game/{export_set.slug}_manifest.json"))
    assert f"{export_set.width}x{export_set.height} px" in readme
    cut = manifest["layers"]["body_pixels_cut"]
    assert (cut > 0) == (name != "drawn")
    assert ("cut" in readme and "body_only" in readme) == (cut > 0)


# ---------------------------------------------------------------- PNGTuber Plus


def _visible(sprite: dict, talking: bool, blinking: bool) -> bool:
    """PNGTuber Plus spriteObject.gd talkBlink(), transcribed."""
    value = sprite["showTalk"] + sprite["showBlink"] * 3 + int(talking) * 10 + int(blinking) * 20
    return value in (0, 10, 20, 30, 1, 21, 12, 32, 3, 13, 4, 15, 26, 36, 27, 38)


def _vector(text: str) -> tuple[float, float]:
    x, y = re.fullmatch(r"Vector2\((-?[\d.]+), (-?[\d.]+)\)", text).groups()
    return float(x), float(y)


def _pngtuber_composite(body: dict, child: dict) -> np.ndarray:
    """Godot draws the centred body sprite at its pos and the centred child at the child's pos relative to it."""
    body_px = rgba(base64.b64decode(body["imageData"]))
    child_img = rgba(base64.b64decode(child["imageData"]))
    height, width = body_px.shape[:2]
    cx, cy = _vector(child["pos"])
    left, top = width / 2 + cx - child_img.shape[1] / 2, height / 2 + cy - child_img.shape[0] / 2
    assert left == int(left) and top == int(top), "a child sprite must land on whole pixels"
    from PIL import Image

    return straight_over(paste(Image.fromarray(child_img), int(left), int(top), (width, height)), body_px)


def test_pngtuber_body_and_child_sprite_is_every_finished_image(material) -> None:
    name, export_set, store = material
    pack = _pack("pngtuber", export_set, store)
    saves = [json.loads(pack.read(n)) for n in pack.namelist() if n.endswith(".save")]
    worst = {}
    for save in saves:
        body = save["0"]
        children = [s for s in save.values() if s["parentId"] == body["identification"]]
        for costume in range(10):
            mine = [s for s in children if json.loads(s["costumeLayers"])[costume] == 1]
            for talking in (False, True):
                for blinking in (False, True):
                    shown = [s for s in mine if _visible(s, talking, blinking)]
                    if not mine:
                        continue
                    assert len(shown) == 1
                    stem = shown[0]["path"][: -len(".png")]
                    item = next(i for i in export_set.items
                                if stem == f"{export_set.slug}_{i.expression_key}_{i.role}")
                    result = _pngtuber_composite(body, shown[0])
                    worst[stem] = max_difference(result, rgba(store[item.image_key]))
    assert len(worst) == len(export_set.items) and max(worst.values()) <= 1, (name, worst)
