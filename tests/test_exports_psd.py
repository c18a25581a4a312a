"""The layered PSD, read back by psd-tools and, independently, by ImageMagick."""

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
from lib.exports.psd import write_psd

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
    assert [layer.name for layer in subgroups[-1]] == ["*表情 (expression)", "*口開け (mouth_open)", "*目閉じ (blink)"]
    assert all(layer.name.startswith("*") for layer in _expression_layers(psd))
    visible = [(layer.parent.name, layer.name) for layer in _expression_layers(psd) if layer.is_visible()]
    assert visible == [("*笑顔 (happy)", "*表情 (expression)")]


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


def test_layer_pixels_and_offsets_match_the_sources(exported) -> None:
    export_set, store, path = exported
    psd = PSDImage.open(path)
    base = _pixels(store, export_set.base_key)
    assert (psd[0].numpy("color").shape[:2] == base.shape[:2])
    by_name = {(item.expression_key, item.role): item for item in export_set.items}
    pixel_layers = [layer for layer in psd.descendants() if layer.kind == "pixel"]
    assert len(pixel_layers) == 1 + len(export_set.items)
    for magick_index, layer in enumerate(pixel_layers, start=1):
        magick, (left, top) = _magick_layer(path, magick_index)
        assert (left, top) == (layer.left, layer.top)
        if layer.parent is psd:
            source = base
        else:
            key = layer.parent.name.split("(")[1].rstrip(")")
            role = layer.name.split("(")[1].rstrip(")")
            source = _pixels(store, by_name[(key, role)].image_key)
        crop = source[layer.top : layer.bottom, layer.left : layer.right]
        ours = np.asarray(layer.topil().convert("RGBA"))
        np.testing.assert_array_equal(ours, crop)
        np.testing.assert_array_equal(magick[..., 3], crop[..., 3])
        seen = crop[..., 3] > 0
        np.testing.assert_array_equal(magick[..., :3][seen], crop[..., :3][seen])


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
