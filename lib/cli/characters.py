"""`python -m lib characters …`: add a character (from an image or generated offline), list and delete them."""

from __future__ import annotations

import argparse
from typing import Any

from lib.accounts import bootstrap
from lib.catalog import characters
from lib.cli._common import CliError, Leaf, actor, add_actor, emit, read_file
from lib.core.settings import Settings
from lib.core.storage import make_store


def _character_json(c: characters.Character) -> dict[str, Any]:
    return {
        "id": str(c.id), "name": c.name, "owner": c.owner_email, "base_key": c.base_key,
        "width": c.base_width, "height": c.base_height, "source": c.base_source,
        "features": c.features.model_dump(), "created_at": c.created_at.isoformat(),
    }


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
    p = leaf(group, "list", cmd_characters_list, "list your characters")
    add_actor(p)
    p.add_argument("--all", action="store_true", help="every user's characters (admins)")
    p = leaf(group, "delete", cmd_characters_delete, "delete one of your characters")
    p.add_argument("id")
    add_actor(p)
