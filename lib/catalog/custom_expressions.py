"""Expressions a user adds to one character, next to the built-in library."""

from __future__ import annotations

from uuid import UUID

from sqlalchemy import Connection
from sqlalchemy.exc import IntegrityError

from lib.accounts.users import User
from lib.catalog.characters import get_character
from lib.core.errors import InvalidInput, NotFound
from lib.core.queries import q
from lib.design import expressions
from lib.design.expressions import Expression


def add(
    conn: Connection, *, actor: User, character_id: str | UUID, key: str, label_en: str, label_ja: str,
    prompt: str, intensity: int, face: str,
) -> Expression:
    """Add a custom expression to the actor's character (validated like the built-ins)."""
    character = get_character(conn, actor=actor, character_id=character_id)
    expression = expressions.custom_expression(key=key, label_en=label_en, label_ja=label_ja, prompt=prompt,
                                               intensity=intensity, face=face)
    params = {"character_id": str(character.id), **{f: getattr(expression, f) for f in
                                                     ("key", "label_en", "label_ja", "prompt", "intensity", "face")}}
    try:
        with conn.begin_nested():
            conn.execute(q("insert_custom_expression"), params)
    except IntegrityError:
        raise InvalidInput(f"{character.name} already has an expression called {expression.key!r}") from None
    return expression


def of_character(conn: Connection, *, actor: User, character_id: str | UUID) -> list[Expression]:
    character = get_character(conn, actor=actor, character_id=character_id)
    rows = conn.execute(q("custom_expressions_of_character"), {"character_id": str(character.id)})
    return [Expression(key=r.key, label_en=r.label_en, label_ja=r.label_ja, prompt=r.prompt,
                       intensity=r.intensity, face=r.face) for r in rows]


def face_of(conn: Connection, *, character_id: UUID, key: str) -> str | None:
    """The built-in face a custom expression borrows (for workers, which act for the item's owner)."""
    return conn.execute(q("custom_expression_face"), {"character_id": str(character_id), "key": key}).scalar()


def remove(conn: Connection, *, actor: User, character_id: str | UUID, key: str) -> None:
    character = get_character(conn, actor=actor, character_id=character_id)
    if conn.execute(q("delete_custom_expression"), {"character_id": str(character.id), "key": key}).first() is None:
        raise NotFound(f"{character.name} has no custom expression {key!r}")


def resolve(
    conn: Connection, *, actor: User, character_id: str | UUID, keys: list[str] | None = None,
    preset: str | None = None,
) -> list[Expression]:
    """The expressions to generate: a preset, explicit keys (built-in or this character's own), or both."""
    own = {e.key: e for e in of_character(conn, actor=actor, character_id=character_id)}
    chosen: dict[str, Expression] = {}
    if preset:
        chosen |= {e.key: e for e in expressions.preset(preset)}
    for key in keys or []:
        key = key.strip()
        if key:
            chosen[key] = own[key] if key in own else expressions.get(key)
    if not chosen:
        raise InvalidInput("choose at least one expression (a preset or expression keys)")
    return list(chosen.values())
