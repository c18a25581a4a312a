"""ZIP, Ren'Py, PNGTuber and SillyTavern packs, read back with zipfile/json/Pillow and checked against
each consumer's documented rules."""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import io
import json
import re
import zipfile

import pytest
from PIL import Image

from devtools.export_sample import sample_set
from lib.core.errors import StorageError
from lib.design.expressions import PRESETS
from lib.exports import export
from lib.exports.pngtuber import VTS_MAX_BYTES, VTS_MAX_SIDE, vts_item_png
from lib.exports.sillytavern import LABELS, SILLYTAVERN_LABEL


@pytest.fixture(scope="module")
def sample():
    export_set, store = sample_set(expressions=("happy", "joy", "anger"))
    # joy has no blink and anger no mouth_open: packs must say so, never fake them
    items = [i for i in export_set.items
             if not (i.expression_key == "joy" and i.variant == "blink")
             and not (i.expression_key == "anger" and i.variant == "mouth_open")]
    return dataclasses.replace(export_set, items=items), store


def _pack(fmt: str, sample) -> zipfile.ZipFile:
    export_set, store = sample
    buf = io.BytesIO()
    export(fmt, export_set, store.__getitem__, buf)
    return zipfile.ZipFile(io.BytesIO(buf.getvalue()))


# ---------------------------------------------------------------- zip


def test_zip_manifest_is_last_and_matches_every_member(sample) -> None:
    _, store = sample
    pack = _pack("zip", sample)
    infos = pack.infolist()
    assert infos[-1].filename == "manifest.json"
    manifest = json.loads(pack.read("manifest.json"))
    assert manifest["schema_version"] == 1 and manifest["character"]["name"] == "雅 Miyabi"
    assert manifest["character"]["slug"] == "miyabi" and manifest["generation"]["backend"] == "offline"
    rows = {row["path"]: row for row in manifest["files"]}
    assert set(rows) == {i.filename for i in infos[:-1]}
    for info in infos[:-1]:
        data = pack.read(info)
        assert hashlib.sha256(data).hexdigest() == rows[info.filename]["sha256"]
        assert len(data) == rows[info.filename]["bytes"]
        assert info.compress_type == zipfile.ZIP_STORED
        assert info.filename.isascii() and info.date_time[0] >= 2020
    assert rows["base.png"]["role"] == "base" and pack.read("base.png") == store["base.png"]
    roles = {row["role"] for row in manifest["files"]}
    assert roles == {"base", "expression", "mouth_open", "blink"}
    joy = next(e for e in manifest["expressions"] if e["key"] == "joy")
    assert joy["label_ja"] == "喜び" and joy["missing"] == ["blink"] and joy["files"]["blink"] is None
    assert {row.get("score") for row in manifest["files"] if row["role"] == "expression"} == {0.9, 0.85, 0.8}


def test_zip_refuses_an_image_whose_sha256_changed(sample) -> None:
    export_set, store = sample
    changed = {**store, "happy/face.png": store["joy/face.png"]}
    with pytest.raises(StorageError, match="sha256"):
        export("zip", export_set, changed.__getitem__, io.BytesIO())


# ---------------------------------------------------------------- Ren'Py

_ATTR = r"[a-z_][a-z0-9_]*"


def test_renpy_pack_follows_renpy_rules(sample) -> None:
    pack = _pack("renpy", sample)
    names = pack.namelist()
    assert all(n.startswith("game/") and n.isascii() and " " not in n for n in names)
    images = {n.rsplit("/", 1)[1][:-4]: n for n in names if n.startswith("game/images/")}
    # Ren'Py defines an image per file by its lower-case name; no spaces = the whole name is the tag
    assert all(name == name.lower() and re.fullmatch(_ATTR, name) for name in images)
    assert "miyabi_base" in images and "miyabi_face_happy" in images
    script = pack.read("game/miyabi_layeredimage.rpy").decode("utf-8")
    _check_layeredimage(script, set(images))
    assert 'always "miyabi_base"' in script and "group face auto:" in script
    assert 'attribute mouth_open if_all "happy" if_not "blink":' in script
    assert 'attribute happy if_not ["mouth_open", "blink"]:' in script
    assert 'attribute joy if_not ["mouth_open"]:' in script
    assert 'attribute mouth_open if_all "anger"' not in script  # missing variant: no attribute
    assert 'attribute blink if_all "joy"' not in script
    # variant files must not match the auto group's pattern (<tag>_face_<attr>)
    assert sorted(n for n in images if n.startswith("miyabi_face_")) == [
        "miyabi_face_anger", "miyabi_face_happy", "miyabi_face_joy"]


def _check_layeredimage(script: str, images: set[str]) -> None:
    """Indentation by 4 spaces, only always/group/attribute statements, every displayable defined."""
    body = [line for line in script.splitlines() if line.strip() and not line.startswith("#")]
    assert body[0] == "layeredimage miyabi:"
    for line in body[1:]:
        indent = len(line) - len(line.lstrip(" "))
        assert indent % 4 == 0 and indent >= 4 and "\t" not in line
        text = line.strip()
        assert re.fullmatch(
            rf'always "{_ATTR}"|group {_ATTR}( auto)?:|"{_ATTR}"|attribute {_ATTR}( default)?( if_all "{_ATTR}")?'
            rf'( if_not ("{_ATTR}"|\[("{_ATTR}", )*"{_ATTR}"\]))?:', text
        ), text
        if text.startswith('"'):
            assert indent == 12 and text.strip('"') in images
        if text.startswith("attribute"):
            assert indent == 8
    referenced = set(re.findall(r'^ +"([a-z0-9_]+)"$|always "([a-z0-9_]+)"', script, re.M))
    assert {name for pair in referenced for name in pair if name} <= images


# ---------------------------------------------------------------- PNGTuber / VTube Studio

_SAVE_KEYS = {"type", "path", "imageData", "identification", "parentId", "pos", "offset", "zindex", "drag",
              "xFrq", "xAmp", "yFrq", "yAmp", "rotDrag", "showTalk", "showBlink", "rLimitMin", "rLimitMax",
              "costumeLayers", "stretchAmount", "ignoreBounce", "frames", "animSpeed", "clipped"}
_VECTOR = re.compile(r"^Vector2\(-?\d+(\.\d+)?, -?\d+(\.\d+)?\)$")


def _visible(sprite: dict, talking: bool, blinking: bool) -> bool:
    """PNGTuber Plus spriteObject.gd talkBlink(), transcribed."""
    value = sprite["showTalk"] + sprite["showBlink"] * 3 + int(talking) * 10 + int(blinking) * 20
    return value in (0, 10, 20, 30, 1, 21, 12, 32, 3, 13, 4, 15, 26, 36, 27, 38)


def test_pngtuber_save_follows_the_app_schema(sample) -> None:
    _, store = sample
    pack = _pack("pngtuber", sample)
    save = json.loads(pack.read("miyabi.save"))
    assert list(save) == [str(i) for i in range(len(save))]
    ids = {s["identification"] for s in save.values()}
    assert len(ids) == len(save)
    for sprite in save.values():
        assert set(sprite) == _SAVE_KEYS and sprite["type"] == "sprite"
        assert _VECTOR.match(sprite["pos"]) and _VECTOR.match(sprite["offset"])
        layers = json.loads(sprite["costumeLayers"])
        assert len(layers) == 10 and set(layers) <= {0, 1}
        assert sprite["parentId"] is None or sprite["parentId"] in ids
        img = Image.open(io.BytesIO(base64.b64decode(sprite["imageData"], validate=True)), formats=["PNG"])
        img.load()
    body = save["0"]
    assert body["parentId"] is None and json.loads(body["costumeLayers"]) == [1] * 10
    assert base64.b64decode(body["imageData"]) == store["base.png"]


def test_pngtuber_shows_exactly_one_face_per_state_and_never_fakes_variants(sample) -> None:
    pack = _pack("pngtuber", sample)
    save = json.loads(pack.read("miyabi.save"))
    faces = [s for s in save.values() if s["parentId"] is not None]
    for costume, (expr, talk_img, blink_img) in enumerate(
        [("happy", "mouth_open", "blink"), ("joy", "mouth_open", None), ("anger", None, "blink")]
    ):
        mine = [s for s in faces if json.loads(s["costumeLayers"])[costume] == 1]
        assert {s["path"].split("_", 1)[1].rsplit("_", 1)[0] for s in mine} >= {expr}
        for talking in (False, True):
            for blinking in (False, True):
                shown = [s["path"] for s in mine if _visible(s, talking, blinking)]
                assert len(shown) == 1, (expr, talking, blinking, shown)
                want = ("mouth_open" if talking and talk_img else
                        "blink" if blinking and blink_img else "expression")
                assert shown[0] == f"miyabi_{expr}_{want}.png"
    readme = pack.read("README.txt").decode("utf-8")
    assert "key 2: 喜び / Joy (no blink image" in readme
    assert "key 3: 激怒 / Anger (no mouth-open image" in readme
    manifest = json.loads(pack.read("manifest.json"))
    anger = next(c for c in manifest["costumes"] if c["expression"] == "anger")
    assert anger["talking_sprite"] is False and anger["missing"] == ["mouth_open"]


def test_vtube_studio_items_are_within_limits(sample) -> None:
    pack = _pack("pngtuber", sample)
    items = [n for n in pack.namelist() if n.startswith("vtube-studio-items/")]
    assert len(items) == 1 + len(sample[0].items)
    for name in items:
        data = pack.read(name)
        assert len(data) < VTS_MAX_BYTES
        assert max(Image.open(io.BytesIO(data)).size) <= VTS_MAX_SIDE


def test_vts_item_png_downscales_large_or_heavy_images() -> None:
    noisy = Image.effect_noise((2600, 1300), 120).convert("RGBA")
    data = vts_item_png(noisy)
    img = Image.open(io.BytesIO(data))
    assert max(img.size) <= VTS_MAX_SIDE and len(data) < VTS_MAX_BYTES
    assert abs(img.width / img.height - 2.0) < 0.01


# ---------------------------------------------------------------- SillyTavern


def test_sillytavern_pack_is_flat_with_valid_labels(sample) -> None:
    _, store = sample
    pack = _pack("sillytavern", sample)
    names = pack.namelist()
    assert all("/" not in n for n in names)
    pngs = sorted(n[:-4] for n in names if n.endswith(".png"))
    # joy and anger are labels themselves; happy would map to joy, which joy fills: kept as a custom label
    assert pngs == ["anger", "happy", "joy"]
    assert pack.read("joy.png") == store["joy/face.png"] and pack.read("happy.png") == store["happy/face.png"]
    missing = pack.read("missing.txt").decode("utf-8")
    assert "covered: 2 of 28" in missing and "admiration" in missing
    assert "happy.png  <- happy (笑顔 / Happy)  [custom label]" in missing
    assert "happy" in missing.split("Custom labels", 1)[1].split("Missing labels", 1)[0]


@pytest.mark.parametrize(
    ("preset", "files"),
    [("basic", {"neutral": "neutral", "joy": "happy", "anger": "angry", "sadness": "sad", "surprise": "surprised"}),
     ("visual_novel", {"neutral": "neutral", "joy": "happy", "anger": "angry", "sadness": "sad",
                       "surprise": "surprised", "embarrassment": "embarrassed", "pride": "smug",
                       "nervousness": "worried", "grief": "crying", "amusement": "laughing",
                       "thinking": "thinking", "sleepy": "sleepy"})],
)
def test_sillytavern_maps_every_expression_of_a_preset(preset: str, files: dict[str, str]) -> None:
    keys = PRESETS[preset]
    export_set, store = sample_set(size=(64, 80), expressions=keys, variants=("mouth_open",))
    pack = _pack("sillytavern", (export_set, store))
    pngs = {n[:-4] for n in pack.namelist() if n.endswith(".png")}
    assert pngs == set(files)
    for label, key in files.items():
        assert pack.read(f"{label}.png") == store[f"{key}/face.png"]
    missing = pack.read("missing.txt").decode("utf-8")
    covered = len(set(files) & set(LABELS))
    assert f"covered: {covered} of 28" in missing
    assert all(f"{label}.png  <- {key} " in missing for label, key in files.items())
    not_mapped = sorted(set(files) - set(LABELS))
    assert all(label in missing.split("Custom labels", 1)[1] for label in not_mapped)
    assert ("Custom labels" in missing) == bool(not_mapped)
    assert set(SILLYTAVERN_LABEL.values()) <= set(LABELS)


def test_pngtuber_packs_every_expression_past_the_tenth() -> None:
    """12 expressions: keys 1-0 in <slug>.save, the last two in <slug>_2.save; every image a VTube Studio item."""
    keys = PRESETS["visual_novel"]
    export_set, store = sample_set(size=(64, 80), expressions=keys, variants=("blink",))
    pack = _pack("pngtuber", (export_set, store))
    first, second = json.loads(pack.read("miyabi.save")), json.loads(pack.read("miyabi_2.save"))
    assert len(first) == 1 + 10 * 2 and len(second) == 1 + 2 * 2
    second_paths = {s["path"] for s in second.values() if s["parentId"] is not None}
    assert second_paths == {f"miyabi_{k}_{role}.png" for k in keys[10:] for role in ("expression", "blink")}
    items = {n for n in pack.namelist() if n.startswith("vtube-studio-items/")}
    assert items == {"vtube-studio-items/miyabi_base.png"} | {
        f"vtube-studio-items/miyabi_{k}{suffix}.png" for k in keys for suffix in ("", "_blink")}
    readme = pack.read("README.txt").decode("utf-8")
    assert "miyabi_2.save:" in readme and "key 2: 眠い / Sleepy" in readme.split("miyabi_2.save:")[1]
    assert "64x80 px (as generated)" in readme and f"The {len(items)} PNGs" in readme
    manifest = json.loads(pack.read("manifest.json"))
    assert [c["save"] for c in manifest["costumes"]] == ["miyabi.save"] * 10 + ["miyabi_2.save"] * 2
    assert manifest["not_included"] == []


def test_renpy_keeps_the_body_only_attribute_for_itself(sample) -> None:
    export_set, store = sample
    items = [dataclasses.replace(i, expression_key="body_only") if i.expression_key == "joy" else i
             for i in export_set.items]
    pack = _pack("renpy", (dataclasses.replace(export_set, items=items), store))
    script = pack.read("game/miyabi_layeredimage.rpy").decode("utf-8")
    assert "attribute body_only_expression if_not" in script and "miyabi_face_body_only_expression" in script
