"""`python -m lib score …`: the consistency score of a generated image against its base, from two files."""

from __future__ import annotations

import argparse
from typing import Any

from lib.cli._common import Leaf, emit, read_file
from lib.consistency import score as consistency
from lib.core.errors import InvalidInput
from lib.core.settings import Settings
from lib.design.face_box import FaceBox


def _face_box(text: str) -> FaceBox:
    try:
        return FaceBox.parse(text)
    except InvalidInput as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def cmd_score(args: argparse.Namespace, settings: Settings) -> None:
    for path in (args.base, args.image):
        read_file(path)  # a clear error for a missing file
    result = consistency.score_files(args.base, args.image, face_box=args.face)
    data = result.to_json()
    parts = ", ".join(f"{k} {v:.0f}" for k, v in data["parts"].items())
    emit(args, data, f"score {data['total']:.1f} ({'passed' if data['passed'] else 'flagged'}): {parts}"
                     + (f"; flags: {', '.join(data['flags'])}" if data["flags"] else ""))


def register(subparsers: Any, leaf: Leaf) -> None:
    """Add the `score` command to the studio's parser."""
    p = leaf(subparsers, "score", cmd_score, "consistency score (0-100) of an image against its base")
    p.add_argument("base", metavar="BASE.png")
    p.add_argument("image", metavar="IMAGE.png")
    p.add_argument("--face", type=_face_box, metavar="x,y,w,h", help="face region (default: estimated)")
