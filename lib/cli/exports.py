"""`python -m lib export …`: write a character's set as zip, psd, renpy, pngtuber or sillytavern."""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path
from typing import Any

from lib.accounts import bootstrap
from lib.cli._common import Leaf, actor, add_actor, emit
from lib.core.errors import InvalidInput
from lib.core.settings import Settings
from lib.core.storage import make_store


def cmd_export(args: argparse.Namespace, settings: Settings) -> None:
    # Imported here: the export writers take ~0.3 s to import, which every other command would pay.
    from lib.exports import FORMATS
    from lib.exports import sets as export_sets

    out = Path(args.out)
    if out.is_dir():
        raise InvalidInput(f"{out} is a directory; give a file path")
    _check_writable(out)
    engine = bootstrap.prepare_database(settings)
    with engine.begin() as conn:
        user = actor(conn, args.as_email)
        # Written beside its destination, then renamed: a failed export leaves no file anywhere.
        made = export_sets.write(conn, make_store(settings), actor=user, character_id=args.character_id,
                                 fmt=args.format, approved_only=args.approved_only, directory=out.parent)
    try:
        made.replace(out)
    except OSError as exc:
        made.unlink(missing_ok=True)
        raise InvalidInput(f"cannot write {out}: {exc.strerror}") from None
    emit(args, {"path": str(out), "format": args.format, "bytes": out.stat().st_size,
                "mime": FORMATS[args.format].mime}, f"wrote {out} ({out.stat().st_size} bytes)")


def _check_writable(out: Path) -> None:
    """Refuse an output path whose folder cannot be created or written, before any export work."""
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=out.parent):
            pass
    except OSError as exc:
        raise InvalidInput(f"cannot write {out}: {exc.strerror or exc}") from None


def register(subparsers: Any, leaf: Leaf) -> None:
    """Add the `export` command to the studio's parser."""
    p = leaf(subparsers, "export", cmd_export, "export a character's set: zip, psd, renpy, pngtuber or sillytavern")
    p.add_argument("character_id")
    add_actor(p)
    p.add_argument("--format", required=True, help="zip, psd, renpy, pngtuber or sillytavern")
    p.add_argument("--out", required=True, metavar="PATH")
    p.add_argument("--approved-only", action="store_true", help="only images marked approved")
