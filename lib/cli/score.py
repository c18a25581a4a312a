"""`python -m lib score …`: the consistency score of a generated image against its base, from two files."""

from __future__ import annotations

import argparse
from typing import Any

from lib.cli._common import Leaf, emit, read_file
from lib.consistency import score as consistency
from lib.consistency import wording
from lib.consistency.face_parts import FaceParts
from lib.core.errors import InvalidInput
from lib.core.settings import Settings
from lib.design import expressions
from lib.design.face_box import FaceBox


def _face_box(text: str) -> FaceBox:
    try:
        return FaceBox.parse(text)
    except InvalidInput as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _expression(text: str) -> str:
    if text not in expressions.LIBRARY:
        raise argparse.ArgumentTypeError(f"unknown expression {text!r}; choose one of {', '.join(expressions.LIBRARY)}")
    return text


def _parts(args: argparse.Namespace) -> FaceParts | None:
    if args.eyes is None and args.mouth is None:
        return None
    if args.eyes is None or args.mouth is None or args.face is None or len(args.eyes) != 2:
        raise InvalidInput("give --face, --eyes (two boxes, left;right) and --mouth together")
    return FaceParts(left_eye=tuple(args.eyes[0]), right_eye=tuple(args.eyes[1]), mouth=tuple(args.mouth))


def _boxes(text: str) -> list[FaceBox]:
    return [_face_box(part) for part in text.split(";")]


def cmd_score(args: argparse.Namespace, settings: Settings) -> None:
    for path in (args.base, args.image):
        read_file(path)  # a clear error for a missing file
    result = consistency.score_files(args.base, args.image, face_box=args.face, parts=_parts(args),
                                     expression=args.expression,
                                     variant=args.variant, paste_back=not args.no_paste_back,
                                     threshold=settings.consistency_threshold)
    data = result.to_json()
    emit(args, data, wording.one_line(data))


def register(subparsers: Any, leaf: Leaf) -> None:
    """Add the `score` command to the studio's parser."""
    p = leaf(subparsers, "score", cmd_score, "consistency score (0-100) of an image against its base")
    p.add_argument("base", metavar="BASE.png")
    p.add_argument("image", metavar="IMAGE.png")
    p.add_argument("--face", type=_face_box, metavar="x,y,w,h", help="face region (default: estimated)")
    p.add_argument("--eyes", type=_boxes, metavar="x,y,w,h;x,y,w,h",
                   help="the two eye boxes, with --face and --mouth (default: a bust-up face's proportions)")
    p.add_argument("--mouth", type=_face_box, metavar="x,y,w,h", help="the mouth box (with --eyes)")
    p.add_argument("--expression", type=_expression, metavar="KEY",
                   help="the expression asked for (default: any change of the face counts)")
    p.add_argument("--variant", choices=sorted(expressions.VARIANTS), help="the variant asked for")
    p.add_argument("--no-paste-back", action="store_true",
                   help="judge the raw image (drift outside the face fails) instead of the pasted-back one")
