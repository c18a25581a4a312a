"""Prompts for single-turn edits: "baseline plus delta".

A prompt restates, from the character's features, everything that must not change, then names the
one change (the expression, or a variant of it). Templates are versioned rows in `prompt_templates`
using `$name`, `$keep`, `$notes` and `$change` placeholders; exactly one version is active.
"""

from __future__ import annotations

import string
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection
from sqlalchemy.exc import IntegrityError

from lib.accounts.users import User, require_admin
from lib.core.errors import InvalidInput, NotFound
from lib.core.queries import q
from lib.design.expressions import Expression, Variant
from lib.design.features import Features

PLACEHOLDERS = frozenset({"name", "keep", "notes", "change"})
REQUIRED = frozenset({"keep", "change"})

# A small named palette: prompts read better with "dark plum hair" than with "#3b2a4a hair".
_NAMED_COLOURS: dict[str, tuple[int, int, int]] = {
    "black": (20, 20, 24), "charcoal": (60, 60, 66), "grey": (128, 128, 128), "silver": (192, 192, 200),
    "white": (245, 245, 245), "dark brown": (70, 45, 30), "brown": (120, 80, 50), "chestnut": (150, 75, 40),
    "light brown": (180, 140, 100), "blonde": (235, 205, 120), "golden": (220, 170, 40),
    "orange": (240, 140, 40), "red": (200, 40, 40), "crimson": (160, 20, 50), "pink": (240, 160, 190),
    "pastel pink": (250, 200, 215), "magenta": (200, 50, 150), "purple": (130, 70, 170),
    "dark plum": (60, 40, 75), "lavender": (190, 160, 220), "navy": (35, 50, 100), "blue": (60, 110, 210),
    "sky blue": (130, 190, 240), "teal": (40, 140, 140), "turquoise": (60, 200, 200), "green": (50, 150, 80),
    "emerald": (30, 120, 80), "mint": (160, 230, 190), "olive": (120, 120, 50), "yellow": (240, 220, 60),
    "amber": (230, 150, 30), "fair": (255, 228, 212), "light tan": (235, 200, 170), "tan": (210, 160, 120),
    "brown skin": (150, 100, 70), "dark brown skin": (95, 60, 40),
}


@dataclass(frozen=True)
class Template:
    version: int
    body: str
    notes: str
    is_active: bool
    created_at: datetime


def colour_name(hex_colour: str) -> str:
    """The nearest name in a small palette for a #rrggbb colour."""
    rgb = tuple(int(hex_colour[i : i + 2], 16) for i in (1, 3, 5))
    return min(_NAMED_COLOURS, key=lambda n: sum((a - b) ** 2 for a, b in zip(_NAMED_COLOURS[n], rgb, strict=True)))


def restate_features(features: Features) -> str:
    """What must not change, as one phrase: the given features by name, the rest only as "the same …".

    A feature nobody gave is never named: a default such as "dark plum hair" stated for a blonde would be an
    instruction to change her.
    """
    given = features.given()
    hair = [features.hair_length if "hair_length" in given else "",
            features.hair_style.replace("_", " ") if "hair_style" in given else "",
            colour_name(features.hair_color) if "hair_color" in given else ""]
    hair_words = " ".join(word for word in hair if word)
    outfit = " ".join(word for word in (colour_name(features.outfit_color) if "outfit_color" in given else "",
                                        features.outfit if "outfit" in given else "") if word)
    parts = [
        f"{hair_words} hair with the same hairstyle, strands and bangs" if hair_words
        else "the same hair, hairstyle, strands and bangs",
        f"{colour_name(features.eye_color)} eyes with the same eye shape and highlights" if "eye_color" in given
        else "the same eye colour, eye shape and highlights",
        f"{colour_name(features.skin_tone).removesuffix(' skin')} skin" if "skin_tone" in given
        else "the same skin tone",
        f"the same {outfit}" if outfit else "the same outfit",
    ]
    if features.accessories:
        parts.append("the same accessories (" + ", ".join(a.replace("_", " ") for a in features.accessories) + ")")
    return "; ".join(parts)


def describe_change(expression: Expression, variant: Variant | None = None) -> str:
    """The one change: an expression, or a variant of it made from that expression's image."""
    if variant is None:
        return f"{expression.label_en.lower()}, {expression.prompt}"
    return f"keep the {expression.label_en.lower()} expression and only change this: {variant.prompt}"


def check_template(body: str) -> str:
    """Refuse templates with unknown placeholders or without the required ones."""
    found = list(string.Template.pattern.finditer(body))
    if any(m.group("invalid") is not None for m in found):
        raise InvalidInput("template has a malformed placeholder (a lone $; write $$ for a dollar sign)")
    names = {m.group("named") or m.group("braced") for m in found} - {None}
    unknown = names - PLACEHOLDERS
    if unknown:
        raise InvalidInput(f"unknown placeholders {sorted(unknown)}; use ${', $'.join(sorted(PLACEHOLDERS))}")
    missing = REQUIRED - names
    if missing:
        raise InvalidInput(f"a template must contain ${' and $'.join(sorted(missing))}")
    return body.strip()


def build_prompt(
    body: str, *, character_name: str, features: Features, expression: Expression, variant: Variant | None = None
) -> str:
    """Fill a template for one edit of the approved base (or of its expression image, for a variant)."""
    notes = f" Also keep: {features.notes.strip()}." if features.notes.strip() else ""
    return string.Template(check_template(body)).substitute(
        name=character_name, keep=restate_features(features), notes=notes,
        change=describe_change(expression, variant),
    )


def _template(row: Any) -> Template:
    return Template(version=row.version, body=row.body, notes=row.notes, is_active=row.is_active,
                    created_at=row.created_at)


def active_template(conn: Connection) -> Template:
    row = conn.execute(q("active_template")).one_or_none()
    if row is None:
        raise NotFound("no prompt template is active")
    return _template(row)


def list_templates(conn: Connection) -> list[Template]:
    return [_template(r) for r in conn.execute(q("list_templates"))]


def add_template(conn: Connection, *, actor: User, body: str, notes: str = "", activate: bool = False) -> Template:
    """Save a new template version (admins, e.g. prompt engineers in notebooks); optionally make it active."""
    require_admin(actor)
    params = {"body": check_template(body), "notes": notes.strip(), "created_by": str(actor.id)}
    try:
        with conn.begin_nested():
            row = conn.execute(q("insert_template"), params).one()
    except IntegrityError:
        raise InvalidInput("another template version was saved at the same time; try again") from None
    if activate:
        activate_template(conn, actor=actor, version=row.version)
    return _template(conn.execute(q("template_by_version"), {"version": row.version}).one())


def activate_template(conn: Connection, *, actor: User, version: int) -> None:
    """Make one version the active template for every new batch."""
    require_admin(actor)
    if conn.execute(q("template_by_version"), {"version": version}).one_or_none() is None:
        raise NotFound(f"no prompt template version {version}")
    conn.execute(q("deactivate_templates"))
    conn.execute(q("activate_template"), {"version": version})
