"""Paste-back: the base outside the face box, byte for byte; the variant's face inside."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from lib.consistency.align import align_to_base
from lib.consistency.composite import face_mask, paste_back
from lib.design.expressions import LIBRARY
from lib.design.features import Features
from lib.lab.calibration import Drift, apply_drift
from lib.render.portrait import face_box, render_portrait

SIZE = (320, 400)
FEATURES = Features(hair_color="#f2c35b", hair_style="twin_tails", outfit_color="#b8324a", accessories=["hat"])


def test_mask_is_zero_on_and_outside_the_box_border() -> None:
    box = (40, 50, 100, 80)
    mask = face_mask((200, 200), box, feather_px=10)
    assert mask.dtype == np.float32
    inside = np.zeros(mask.shape, bool)
    inside[51:129, 41:139] = True
    assert (mask[~inside] == 0).all()
    assert mask[90, 90] == 1.0 and 0 < mask[55, 90] < 1


@pytest.mark.parametrize(
    "drift",
    [
        Drift(shift=(0.03, -0.02)),
        Drift(scale=1.05, rotation=1.5, out_size=(480, 600)),
        Drift(gain=(1.08, 1.0, 0.9), offset=(10, 0, -10), jpeg=80, background=(240, 250, 230)),
    ],
    ids=["shifted", "scaled", "colour_cast"],
)
def test_outside_the_mask_is_identical_to_the_base(drift: Drift) -> None:
    base, box = render_portrait(FEATURES, size=SIZE), face_box(SIZE)
    variant = apply_drift(render_portrait(FEATURES, size=SIZE, expression=LIBRARY["angry"]), drift)
    out = paste_back(base, align_to_base(base, variant, face_box=box).image, face_box=box)
    b, o = np.asarray(base), np.asarray(out)
    outside = face_mask(SIZE, box, feather_px=6) == 0
    assert out.mode == "RGBA" and out.size == base.size
    assert (b[outside] == o[outside]).all()  # all four channels
    assert (b[..., 3] == o[..., 3]).all()  # the base's alpha everywhere
    changed = np.abs(b[..., :3].astype(int) - o[..., :3]).max(axis=2) > 40
    assert changed[~outside].mean() > 0.02  # the angry face did arrive


def test_opaque_background_does_not_leak_into_transparent_pixels() -> None:
    base = Image.new("RGBA", (100, 100), (0, 0, 0, 0))
    base.paste((200, 100, 50, 255), (30, 30, 70, 70))
    aligned = Image.new("RGBA", (100, 100), (10, 250, 10, 255))
    out = np.asarray(paste_back(base, aligned, face_box=(20, 20, 60, 60)))
    assert (out[..., 3] == np.asarray(base)[..., 3]).all()


def test_mismatched_sizes_are_refused() -> None:
    with pytest.raises(ValueError, match="align it first"):
        paste_back(Image.new("RGBA", (64, 64)), Image.new("RGBA", (32, 32)), face_box=(8, 8, 32, 32))
