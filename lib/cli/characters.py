"""`python -m lib characters …`: add a character (from an image or generated offline), list and delete them."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from lib.accounts import bootstrap
from lib.catalog import characters
from lib.cli._common import CliError, Leaf, actor, add_actor, emit, read_file
from lib.core.settings import Settings
from lib.core.storage import make_store
from lib.design.face_box import FaceBox


def _character_json(c: characters.Character) -> dict[str, Any]:
    return {
        "id": str(c.id), "name": c.name, "owner": c.owner_email, "base_key": c.base_key,
        "width": c.base_width, "height": c.base_height, "source": c.base_source,
        "features": c.features.model_dump(include=set(c.features.given())), "created_at": c.created_at.isoformat(),
        "face_box": list(c.face_box) if c.face_box else None, "face_source": c.face_source,
        "face_points": c.face_points.to_json() if c.face_points else None,
        "face_unsure": c.face_unsure, "face_note": c.face_note,
    }


def _report_face(c: characters.Character) -> None:
    """Where the new character's face box came from, and whether a person must confirm it (on stderr: stdout
    stays the id alone, for scripts)."""
    box = ",".join(map(str, c.face_box)) if c.face_box else "none"
    print(f"face box {box} ({c.face_source})", file=sys.stderr)
    if c.face_unsure:
        print(f"unsure: {c.face_note or 'confirm the face region.'} Confirm or correct it before the first batch: "
              f"python -m lib characters face {c.id} [--box x,y,w,h] --as EMAIL", file=sys.stderr)


def cmd_characters_add(args: argparse.Namespace, settings: Settings) -> None:
    features = characters.features_from_json(read_file(args.features).decode()) if args.features else None
    if args.generate_base == bool(args.image):
        raise CliError("give either --image PATH or --generate-base (with --features FILE)")
    engine = bootstrap.prepare_database(settings)
    with engine.begin() as conn:
        character = characters.create_with_base(
            conn, make_store(settings), actor=actor(conn, args.as_email), name=args.name, features=features,
            upload=read_file(args.image) if args.image else None, draw_base=args.generate_base, settings=settings,
        )
    emit(args, _character_json(character), str(character.id))
    if not args.json:
        _report_face(character)


def cmd_characters_list(args: argparse.Namespace, settings: Settings) -> None:
    engine = bootstrap.prepare_database(settings)
    with engine.begin() as conn:
        rows = characters.list_characters(conn, actor=actor(conn, args.as_email), any_owner=args.all)
    emit(args, [_character_json(c) for c in rows],
         "\n".join(f"{c.id}\t{c.name}\t{c.base_width}x{c.base_height}\t{c.owner_email}" for c in rows)
         or "no characters")


def cmd_characters_delete(args: argparse.Namespace, settings: Settings) -> None:
    engine = bootstrap.prepare_database(settings)
    with engine.begin() as conn:
        deleted = characters.delete_character(conn, actor=actor(conn, args.as_email), character_id=args.id)
    characters.remove_objects(make_store(settings), deleted)
    released = f"; {deleted.released_credits} held credits released" if deleted.released_credits else ""
    emit(args, {"deleted": args.id}, f"deleted {args.id}{released}")


def cmd_characters_face(args: argparse.Namespace, settings: Settings) -> None:
    engine = bootstrap.prepare_database(settings)
    with engine.begin() as conn:
        user = actor(conn, args.as_email)
        current = characters.get_character(conn, actor=user, character_id=args.id)
        box = FaceBox.parse(args.box) if args.box else current.face_box
        if box is None:
            raise CliError("this character has no face box yet: give one with --box x,y,w,h")
        characters.set_face_box(conn, actor=user, character_id=current.id, face_box=box)
        character = characters.get_character(conn, actor=user, character_id=current.id)
    emit(args, _character_json(character), f"face box {','.join(map(str, character.face_box or ()))} (user)")


def register(subparsers: Any, leaf: Leaf) -> None:
    """Add the `characters` command group to the studio's parser."""
    group = subparsers.add_parser("characters", help="manage characters").add_subparsers(
        dest="characters_command", required=True)
    p = leaf(group, "add", cmd_characters_add, "create a character from a base image; prints its id")
    add_actor(p)
    p.add_argument("--name", required=True)
    p.add_argument("--image", metavar="PATH", help="PNG, JPEG or WebP base image")
    p.add_argument("--generate-base", action="store_true", help="draw the base from the features (offline)")
    p.add_argument("--features", metavar="FILE", help="JSON file of features (hair_color, eye_color, ...)")
    p = leaf(group, "face", cmd_characters_face, "confirm a character's face box, or correct it with --box")
    p.add_argument("id")
    p.add_argument("--box", metavar="x,y,w,h", help="the corrected face box (default: confirm the current one)")
    add_actor(p)
    p = leaf(group, "list", cmd_characters_list, "list your characters")
    add_actor(p)
    p.add_argument("--all", action="store_true", help="every user's characters (admins)")
    p = leaf(group, "delete", cmd_characters_delete, "delete one of your characters")
    p.add_argument("id")
    add_actor(p)
