"""Time the offline renderer and write a contact sheet of every built-in expression and variant.

Run from the repository root: `python benchmarks/bench_offline_render.py`. Prints median render times
(cold = the cached figure is cleared first; warm = only the face box is redrawn) and the sheet's path.
"""

from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from lib.design.expressions import LIBRARY, PRESETS, Expression
from lib.design.features import Features
from lib.render.portrait import _figure, face_box, render_portrait

CHARACTERS = (
    Features(),
    Features(
        hair_color="#f2c35b",
        hair_style="twin_tails",
        hair_length="long",
        eye_color="#3aa37a",
        skin_tone="#fbe1cf",
        outfit_color="#b8324a",
        accessories=["hair_ribbon", "choker"],
    ),
)
CELL = (300, 375)
LABEL_H = 18
COLUMNS = 6  # expressions per row; each cell shows the expression, mouth_open and blink


def _median_seconds(size: tuple[int, int], *, cold: bool, runs: int = 5) -> float:
    expression = LIBRARY["happy"]
    times = []
    for _ in range(runs):
        if cold:
            _figure.cache_clear()  # measure the full figure render too
        start = time.perf_counter()
        render_portrait(CHARACTERS[0], expression=expression, size=size)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def _ordered_keys() -> list[str]:
    keys: list[str] = []
    for name in ("basic", "visual_novel", "sillytavern"):
        keys += [key for key in PRESETS[name] if key not in keys]
    return keys


def _head(features: Features, expression: Expression, variant: str | None) -> Image.Image:
    """The portrait cropped to head and shoulders, on a light backdrop so transparency shows."""
    portrait = render_portrait(features, expression=expression, variant=variant, size=CELL)
    x, y, w, h = face_box(CELL)
    pad = w // 4
    crop = portrait.crop((x - pad, max(0, y - pad), x + w + pad, y + h + pad // 2))
    backdrop = Image.new("RGBA", crop.size, (232, 234, 242, 255))
    backdrop.alpha_composite(crop)
    return backdrop


def _section(features: Features, font: ImageFont.ImageFont) -> Image.Image:
    keys = _ordered_keys()
    sample = _head(features, LIBRARY["neutral"], None)
    tw, th = sample.size
    cell_w, cell_h = tw * 3 + 12, th + LABEL_H + 8
    rows = -(-len(keys) // COLUMNS)
    header = 26
    sheet = Image.new("RGBA", (cell_w * COLUMNS, header + cell_h * rows), (255, 255, 255, 255))
    draw = ImageDraw.Draw(sheet)
    title = (f"hair {features.hair_color} {features.hair_style}/{features.hair_length}, eyes {features.eye_color}, "
             f"outfit {features.outfit_color}, accessories: {', '.join(features.accessories) or 'none'}   "
             "[B]=basic [V]=visual_novel [S]=sillytavern")
    draw.text((6, 5), title, fill=(20, 20, 30), font=font)
    for index, key in enumerate(keys):
        ox, oy = (index % COLUMNS) * cell_w, header + (index // COLUMNS) * cell_h
        for slot, variant in enumerate((None, "mouth_open", "blink")):
            sheet.alpha_composite(_head(features, LIBRARY[key], variant), (ox + slot * tw, oy))
        presets = "/".join(name[0].upper() for name, members in PRESETS.items() if key in members)
        draw.text((ox + 4, oy + th + 2), f"{key} [{presets}]  (+mouth_open, blink)", fill=(20, 20, 30), font=font)
    return sheet


def contact_sheet(path: Path) -> Path:
    """Every expression of every preset with both variants, for each test character, stacked."""
    font = ImageFont.load_default(14)
    sections = [_section(features, font) for features in CHARACTERS]
    width = max(s.width for s in sections)
    sheet = Image.new("RGB", (width, sum(s.height + 10 for s in sections)), (60, 60, 70))
    y = 0
    for section in sections:
        sheet.paste(section, (0, y))
        y += section.height + 10
    path.parent.mkdir(parents=True, exist_ok=True)
    sheet.save(path)
    return path


def main() -> None:
    for size in ((2048, 2048), (768, 1024)):
        cold = _median_seconds(size, cold=True)
        warm = _median_seconds(size, cold=False)
        print(f"{size[0]}x{size[1]}: median {cold * 1000:.0f} ms cold (figure + face), "
              f"{warm * 1000:.0f} ms warm (figure cached, face box redrawn)")
    start = time.perf_counter()
    path = contact_sheet(ROOT / "out" / "contact_sheet.png")
    print(f"contact sheet ({time.perf_counter() - start:.1f} s): {path}")


if __name__ == "__main__":
    main()
