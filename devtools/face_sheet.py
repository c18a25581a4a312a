"""`python -m devtools face-sheet OUT_DIR [FOLDER …]`: contact sheets of face finding and offline previews on
real sprites (../shared/real-dev/ by default), one PNG per folder, to look at after changing either.

Each row is one picture: the proposed face box (pink) with the eyes and mouth (blue rings at the found centres,
blue boxes where the score judges them, `FaceParts.from_points`) and its source,
then the offline previews of the `basic` preset (neutral, happy, angry, sad, surprised), cropped around the face.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from PIL import Image, ImageDraw

from lib.consistency.face_finder import find_face
from lib.consistency.face_parts import FaceParts
from lib.consistency.face_region import overlay
from lib.consistency.picture_features import read_features
from lib.design import expressions
from lib.render.preview import edit_face

REAL = Path(__file__).resolve().parents[1].parent / "shared" / "real-dev"
CELL = 150


def _row(path: Path) -> tuple[str, list[Image.Image]]:
    with Image.open(path) as opened:
        picture = opened.convert("RGBA")
    found = find_face(picture)
    features = read_features(picture, found)
    x, y, w, h = found.box
    crop = (max(0, x - w // 4), max(0, y - h // 4), min(picture.width, x + w + w // 4),
            min(picture.height, y + h + h // 4))

    def cell(image: Image.Image) -> Image.Image:
        flat = Image.new("RGB", image.size, "white")
        flat.paste(image, mask=image.getchannel("A"))
        part = flat.crop(crop)
        return part.resize((CELL, max(1, round(CELL * part.height / part.width))))

    boxed = overlay(picture, found.box)
    draw, r = ImageDraw.Draw(boxed), max(2, w // 30)
    for px, py in found.points:
        draw.ellipse((px - r, py - r, px + r, py + r), outline=(40, 90, 255, 255), width=max(1, r // 2))
    parts = FaceParts.from_points(found.box, *found.points)
    for bx, by, bw, bh in (parts.left_eye, parts.right_eye, parts.mouth):
        draw.rectangle((bx, by, bx + bw, by + bh), outline=(40, 90, 255, 255), width=max(1, r // 3))
    previews = [edit_face(picture, box=found.box, expression=e, points=found.points, features=features)
                for e in expressions.preset("basic")]
    return f"{path.parent.name}/{path.stem} [{found.source}]", [cell(boxed), *map(cell, previews)]


def sheet(paths: list[Path]) -> Image.Image:
    rows = [_row(p) for p in paths]
    height = max(c.height for _, cells in rows for c in cells) + 14
    out = Image.new("RGB", (CELL * 6, height * len(rows)), "white")
    draw = ImageDraw.Draw(out)
    for j, (label, cells) in enumerate(rows):
        draw.text((2, j * height), label, fill="black")
        for i, c in enumerate(cells):
            out.paste(c, (i * CELL, j * height + 14))
    return out


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m devtools face-sheet", description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path, help="folder for the sheets (one PNG per source folder)")
    parser.add_argument("folders", nargs="*", type=Path, help=f"folders of pictures (default: those in {REAL})")
    args = parser.parse_args(argv)
    folders = args.folders or sorted(p for p in REAL.iterdir() if p.is_dir())
    args.out.mkdir(parents=True, exist_ok=True)
    for folder in folders:
        paths = sorted(folder.glob("*.png"))
        if paths:
            target = args.out / f"faces_{folder.name}.png"
            sheet(paths).save(target)
            print(f"{target}: {len(paths)} pictures")  # noqa: T201
    return 0
