"""The layered PSD, read back by psd-tools and, independently, by ImageMagick: names, channels, and the stack
(body + one shown layer) against every finished image, on a drawn base and on real artwork."""

from __future__ import annotations

import io
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from psd_tools import PSDImage
from psd_tools.constants import ChannelID, Compression

from devtools.export_sample import sample_set
from lib.exports.psd import layer_names, write_psd
from tests.export_support import layered_sets, load_set, max_difference, paste, rgba, straight_over

if shutil.which("identify") is None:  # `make test` installs ImageMagick; CI must never skip this reader
    raise RuntimeError("ImageMagick is needed for the PSD tests: apt-get install imagemagick (make test does it)")


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    export_set, store = sample_set(expressions=("happy", "angry", "sad"))
    path: Path = tmp_path_factory.mktemp("psd") / "miyabi.psd"
    with path.open("wb") as out:
        write_psd(export_set, store.__getitem__, out)
    return export_set, store, path


def _rgba(data: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(data)).convert("RGBA"))


def _pixels(store: dict[str, bytes], key: str) -> np.ndarray:
    return _rgba(store[key])


def _magick_layer(path: Path, index: int) -> tuple[np.ndarray, tuple[int, int]]:
    png = subprocess.run(["convert", f"{path}[{index}]", "png:-"], capture_output=True, check=True).stdout
    geometry = subprocess.run(["identify", "-format", "%X %Y", f"{path}[{index}]"], capture_output=True,
                              check=True, text=True).stdout.split()
    return _rgba(png), (int(geometry[0].lstrip("+")), int(geometry[1].lstrip("+")))


def _expression_layers(psd: PSDImage) -> list:
    return [layer for layer in psd.descendants() if layer.kind == "pixel" and layer.parent is not psd]


def test_structure_names_and_visibility(exported) -> None:
    export_set, _, path = exported
    psd = PSDImage.open(path)
    assert psd.size == export_set.size
    assert [layer.name for layer in psd] == ["素体 (body)", "表情 (expressions)"]
    subgroups = list(psd[1])
    assert [g.name for g in subgroups] == ["*悲しみ (sad)", "*怒り (angry)", "*笑顔 (happy)"]
    assert [layer.name for layer in subgroups[-1]] == [
        "*笑顔 表情 (happy)", "*笑顔 口開け (happy mouth_open)", "*笑顔 目閉じ (happy blink)"]
    assert all(layer.name.startswith("*") for layer in _expression_layers(psd))
    visible = [(layer.parent.name, layer.name) for layer in _expression_layers(psd) if layer.is_visible()]
    assert visible == [("*笑顔 (happy)", "*笑顔 表情 (happy)")]


def test_every_name_is_unique_and_readable(exported) -> None:
    """GIMP renames repeated names to "... #N"; each name says its expression and role."""
    export_set, _, path = exported
    names = [layer.name for layer in PSDImage.open(path).descendants()]
    assert len(names) == len(set(names)) == 2 + 3 + len(export_set.items)
    for item in export_set.items:
        assert layer_names(item)[1] in names and item.expression_key in layer_names(item)[1]


def test_every_channel_is_rle_and_layers_keep_real_transparency(exported) -> None:
    _, _, path = exported
    psd = PSDImage.open(path)
    assert psd._record.image_data.compression == Compression.RLE
    for layer in psd.descendants():
        if layer.kind == "pixel":
            assert {c.compression for c in layer._channels} == {Compression.RLE}
            ids = [info.id for info in layer._record.channel_info]
            assert ChannelID.TRANSPARENCY_MASK in ids and ChannelID.USER_LAYER_MASK not in ids


def test_merged_image_has_no_alpha_channel_for_clip_studio(exported) -> None:
    """psd-tools #585: a 4th merged channel becomes a stray selection layer in CLIP STUDIO PAINT."""
    _, _, path = exported
    psd = PSDImage.open(path)
    assert psd.channels == 3
    assert psd.composite().getpixel((0, 0))[:3] == (255, 255, 255)


def test_two_readers_agree_on_every_layer_and_offset(exported) -> None:
    export_set, store, path = exported
    psd = PSDImage.open(path)
    np.testing.assert_array_equal(np.asarray(psd[0].topil().convert("RGBA")), _pixels(store, export_set.base_key))
    pixel_layers = [layer for layer in psd.descendants() if layer.kind == "pixel"]
    assert len(pixel_layers) == 1 + len(export_set.items)
    for magick_index, layer in enumerate(pixel_layers, start=1):
        magick, (left, top) = _magick_layer(path, magick_index)
        assert (left, top) == (layer.left, layer.top)
        ours = np.asarray(layer.topil().convert("RGBA"))
        np.testing.assert_array_equal(magick[..., 3], ours[..., 3])
        seen = ours[..., 3] > 0
        np.testing.assert_array_equal(magick[..., :3][seen], ours[..., :3][seen])


def test_expression_layers_are_cropped_to_the_change(exported) -> None:
    export_set, _, path = exported
    psd = PSDImage.open(path)
    for layer in _expression_layers(psd):
        assert layer.width * layer.height < export_set.width * export_set.height / 4


def test_composite_shows_the_first_expression_over_the_base(exported) -> None:
    _, store, path = exported
    png = subprocess.run(["convert", f"{path}[0]", "png:-"], capture_output=True, check=True).stdout
    merged = _rgba(png)[..., :3].astype(int)
    happy = _pixels(store, "happy/face.png").astype(float) / 255
    expected = happy[..., :3] * happy[..., 3:] + (1 - happy[..., 3:])  # over white
    assert np.abs(merged - np.round(expected * 255)).max() <= 2


# ---------------------------------------------------------------- the stack, as the tools draw it


@pytest.fixture(scope="module", params=layered_sets())
def layered(request, tmp_path_factory):
    export_set, store = load_set(request.param)
    path: Path = tmp_path_factory.mktemp("stack") / f"{request.param}.psd"
    with path.open("wb") as out:
        write_psd(export_set, store.__getitem__, out)
    return request.param, export_set, store, path


def _composite(psd: PSDImage, *layers) -> np.ndarray:
    """psd-tools' composite on a transparent backdrop with only `layers` (and their parents) shown."""
    shown = {id(psd[0]), id(psd[1]), *(id(layer) for layer in layers), *(id(layer.parent) for layer in layers)}
    image = psd.composite(layer_filter=lambda lyr: id(lyr) in shown, ignore_preview=True, color=0.0, alpha=0.0)
    return np.asarray(image.convert("RGBA"))


def _item_layer(psd: PSDImage, item) -> object:
    (layer,) = [layer for layer in psd.descendants() if layer.name == layer_names(item)[1]]
    return layer


def test_body_with_one_layer_shown_is_the_finished_image(layered) -> None:
    """psd-tools' own composite of the body with exactly one expression or variant layer shown."""
    name, export_set, store, path = layered
    psd = PSDImage.open(path)
    worst = {}
    for item in export_set.items:
        result = _composite(psd, _item_layer(psd, item))
        worst[(item.expression_key, item.role)] = max_difference(result, rgba(store[item.image_key]))
    assert max(worst.values()) <= 1, (name, worst)


def test_body_only_shows_the_base(layered) -> None:
    """The body, plus the base face when the body had to be cut, is the base image."""
    _, export_set, store, path = layered
    psd = PSDImage.open(path)
    patch = [layer for layer in psd.descendants() if layer.name == "*素体の顔 (base face)"]
    result = _composite(psd, *patch)
    assert max_difference(result, rgba(store[export_set.base_key])) <= 1


def test_real_artwork_needs_and_gets_a_cut_body(layered) -> None:
    """Soft edges that the finished image makes more transparent cannot be drawn over the full base."""
    name, export_set, store, path = layered
    psd = PSDImage.open(path)
    body_alpha = np.asarray(psd[0].topil().convert("RGBA"))[..., 3]
    base_alpha = rgba(store[export_set.base_key])[..., 3]
    cut = int(((base_alpha > 0) & (body_alpha == 0)).sum())
    if name == "drawn":
        assert cut == 0  # the renderer's images equal the base outside an opaque face
    else:
        assert cut > 0 and any(layer.name == "*素体のまま (body only)" for layer in psd.descendants())


def test_imagemagick_stacks_the_same_layers(layered) -> None:
    """A reader nobody on the project wrote: ImageMagick reads each layer with its offset and merges them."""
    _, export_set, store, path = layered
    psd = PSDImage.open(path)
    pixel_layers = [layer for layer in psd.descendants() if layer.kind == "pixel"]
    for item in export_set.items:
        index = 1 + pixel_layers.index(_item_layer(psd, item))  # ImageMagick's [0] is the merged image
        # a hidden layer reads with compose "none": "-compose over" is ImageMagick's way of showing it
        png = subprocess.run(["convert", f"{path}[1]", f"{path}[{index}]", "-background", "none",
                              "-compose", "over", "-layers", "merge", "png32:-"], capture_output=True,
                             check=True).stdout
        result = rgba(png)
        assert result.shape[:2] == (export_set.height, export_set.width)
        assert max_difference(result, rgba(store[item.image_key])) <= 1, (item.expression_key, item.role)


def test_layer_pixels_over_the_body_reproduce_the_finished_image_in_numpy(layered) -> None:
    """The same check without any PSD reader's compositing: the stored layer pixels, blended by formula."""
    _, export_set, store, path = layered
    psd = PSDImage.open(path)
    body = np.asarray(psd[0].topil().convert("RGBA"))
    for item in export_set.items:
        layer = _item_layer(psd, item)
        top = paste(layer.topil(), layer.left, layer.top, export_set.size)
        assert max_difference(straight_over(top, body), rgba(store[item.image_key])) <= 1
