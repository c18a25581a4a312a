"""Characters: a name, structured features and an approved base image, owned by one user.

Every function takes the acting user and only ever sees that user's rows; admins see other
users' characters only when they ask with `any_owner=True`. Another user's id reads as not found.
"""

from __future__ import annotations

import io
import json
import unicodedata
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal
from uuid import UUID

from PIL import Image
from pydantic import ValidationError
from sqlalchemy import Connection

from lib.accounts.users import User
from lib.consistency.face_finder import FoundFace
from lib.core import storage
from lib.core.errors import InvalidInput, NotFound, PermissionDenied
from lib.core.images import CleanImage, clean_upload_picture, shape_problem
from lib.core.queries import q
from lib.core.settings import Settings
from lib.core.storage import ObjectStore
from lib.credits import ledger
from lib.design.face_box import MIN_SIDE, UNSURE_SOURCES, FaceBox, FacePoints, FaceSource, proportional_points
from lib.design.features import Features

BaseSource = Literal["upload", "generated"]


@dataclass(frozen=True)
class Character:
    id: UUID
    user_id: UUID
    owner_email: str
    name: str
    features: Features
    base_key: str
    base_width: int
    base_height: int
    base_source: str
    face_box: FaceBox | None
    created_at: datetime
    updated_at: datetime
    face_source: str = "estimated"
    face_points: FacePoints | None = None
    face_note: str = ""

    @property
    def face_unsure(self) -> bool:
        """True while a person still has to confirm or correct the face box (before the first batch)."""
        return self.face_source in UNSURE_SOURCES or self.face_box is None


def _character(row: Any, owner_email: str | None = None) -> Character:
    return Character(
        id=row.id, user_id=row.user_id, owner_email=owner_email or row.owner_email, name=row.name,
        features=Features.model_validate(row.features), base_key=row.base_key, base_width=row.base_width,
        base_height=row.base_height, base_source=row.base_source,
        face_box=FaceBox(*row.face_box) if row.face_box else None, created_at=row.created_at,
        updated_at=row.updated_at, face_source=row.face_source, face_points=FacePoints.from_json(row.face_points),
        face_note=row.face_note,
    )


def parse_id(value: str | UUID) -> UUID:
    """A character id from user input; malformed ids read as not found, like another user's."""
    try:
        return value if isinstance(value, UUID) else UUID(str(value).strip())
    except ValueError:
        raise NotFound(f"character {value} not found") from None


def clean_name(name: str) -> str:
    """A name with runs of whitespace made single spaces; control characters (NUL, …) are refused."""
    cleaned = " ".join(name.split())
    if not 1 <= len(cleaned) <= 100:
        raise InvalidInput("a character name needs 1 to 100 characters")
    if any(unicodedata.category(c) == "Cc" for c in cleaned):
        raise InvalidInput("a character name cannot contain control characters (such as NUL)")
    return cleaned


def parse_features(data: dict[str, Any] | Features | None) -> Features:
    """Features from a dict (form, JSON file), with every problem in one readable message."""
    if isinstance(data, Features):
        return data
    try:
        return Features.model_validate(data or {})
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc'])) or 'features'}: {e['msg']}" for e in exc.errors())
        raise InvalidInput(f"invalid features: {problems}") from None


@dataclass(frozen=True)
class Upload:
    """A cleaned upload with what was read from it: its face (box, eyes, mouth, source) and its colours."""

    image: CleanImage
    face: FoundFace
    features: Features


def inspect_upload(upload: bytes, *, settings: Settings) -> Upload:
    """Validate and re-encode an upload, find its face and read its colours (nothing is stored)."""
    image, picture = clean_upload_picture(
        upload, max_bytes=settings.max_upload_bytes, max_pixels=settings.max_upload_pixels,
        min_side=settings.min_upload_side, max_aspect=settings.max_upload_aspect)
    return analyse(image, picture)


def analyse(image: CleanImage, picture: Image.Image | None = None) -> Upload:
    """The face and colours of an already cleaned picture (`picture`: its decoded pixels, when at hand)."""
    from lib.consistency.face_finder import find_face
    from lib.consistency.picture_features import read_features

    if picture is None:
        with Image.open(io.BytesIO(image.png)) as opened:
            picture = opened.convert("RGBA")
    rgba = picture if picture.mode == "RGBA" else picture.convert("RGBA")
    face = find_face(rgba)
    return Upload(image=image, face=face, features=read_features(rgba, face))


def create_character(
    conn: Connection, store: ObjectStore, *, actor: User, name: str, image: CleanImage,
    features: Features | dict[str, Any] | None = None, source: BaseSource = "upload",
    face_box: FaceBox | None = None, face_source: FaceSource | None = None, face_points: FacePoints | None = None,
    face_note: str = "",
) -> Character:
    """Store the (already cleaned) base image and create the character row.

    An upload without a face box gets the face finder's; a box given by the caller counts as the user's
    (or, for a drawn base, as drawn) unless `face_source` says otherwise.
    """
    if face_box is None and source == "upload":
        found = analyse(image).face
        face_box, face_points, face_source, face_note = found.box, found.points, found.source, found.reason
    box = FaceBox.checked(face_box, (image.width, image.height)) if face_box else None
    if face_source is None:
        face_source = "drawn" if source == "generated" else "user"
    if box is not None and (face_points is None or not face_points.inside(box)):
        face_points = proportional_points(box)
    parsed = parse_features(features)  # a drawn base shows every feature it was drawn with: all are given
    character_id = uuid.uuid4()
    key = storage.base_key(user_id=actor.id, character_id=character_id, name=f"base-{uuid.uuid4().hex[:12]}.png")
    params = {
        "id": str(character_id), "user_id": str(actor.id), "name": clean_name(name),
        "features": (parsed.drawn() if source == "generated" else parsed).stored_json(), "base_key": key,
        "base_width": image.width, "base_height": image.height, "base_source": source,
        "face_box": list(box) if box else None, "face_source": face_source if box else "estimated",
        "face_points": json.dumps(face_points.to_json()) if box and face_points else None,
        "face_note": face_note[:300],
    }
    row = conn.execute(q("insert_character"), params).one()
    store.put(key, image.png)
    return _character(row, owner_email=actor.email)


def create_with_base(
    conn: Connection, store: ObjectStore, *, actor: User, name: str, features: Features | dict[str, Any] | None,
    upload: bytes | None = None, draw_base: bool = False, settings: Settings, face_box: FaceBox | None = None,
) -> Character:
    """Create a character from an uploaded base, or from one drawn from its features: exactly one of the two.

    An upload without features gets the colours read from the picture (never defaults); `face_box` is a box
    the user confirmed or drew (without it, the face finder's box is stored with its source).
    """
    if upload is not None and draw_base:
        raise InvalidInput("Upload a base image or tick “draw the base from the features”, not both.")
    if upload is None and not draw_base:
        raise InvalidInput("Choose a base image to upload, or tick “draw the base from the features”.")
    parsed = parse_features(features)
    if upload is None:
        image, box = generate_base(parsed, size=settings.offline_base_size)
        from lib.render.portrait import face_points

        return create_character(conn, store, actor=actor, name=name, image=image, features=parsed,
                                face_box=box, source="generated", face_points=face_points(settings.offline_base_size))
    inspected = inspect_upload(upload, settings=settings)
    found = inspected.face
    if face_box is not None:
        return create_character(conn, store, actor=actor, name=name, image=inspected.image, source="upload",
                                features=parsed if features is not None else inspected.features, face_box=face_box,
                                face_source="user", face_points=found.points)
    return create_character(conn, store, actor=actor, name=name, image=inspected.image, source="upload",
                            features=parsed if features is not None else inspected.features, face_box=found.box,
                            face_source=found.source, face_points=found.points, face_note=found.reason)


def require_confirmed_face(character: Character) -> None:
    """Refuse a batch for a character whose face box a person has not confirmed yet."""
    if character.face_unsure:
        raise InvalidInput(
            f"Confirm the face region of {character.name} first (Characters page, “Face region”): "
            + (character.face_note or "the studio is not sure where its face is."))


def base_problem(character: Character, *, settings: Settings) -> str | None:
    """Why this character's stored base cannot be shown or used, else None.

    Bases stored before the shape rule may be strips or specks. A small base that still holds a face box
    keeps working, so the floor here is the face box's, not the (stricter) one for new uploads.
    """
    problem = shape_problem(character.base_width, character.base_height, min_side=MIN_SIDE,
                            max_aspect=settings.max_upload_aspect)
    return f"{problem} It cannot be used: delete this character and create it again from a new base." \
        if problem else None


def estimate_upload_face_box(image: CleanImage) -> FaceBox:
    """Where the face of an uploaded base is, by the face finder (users confirm it when it is unsure)."""
    return analyse(image).face.box


def set_face_box(
    conn: Connection, *, actor: User, character_id: str | UUID, face_box: FaceBox
) -> None:
    """Set, correct or confirm the region that may change between expressions; it becomes the user's box.

    The eyes and mouth found before stay where they were when they are still inside the new box.
    """
    character = get_character(conn, actor=actor, character_id=character_id)
    box = FaceBox.checked(face_box, (character.base_width, character.base_height))
    points = character.face_points if character.face_points and character.face_points.inside(box) \
        else proportional_points(box)
    params = {"character_id": str(character.id), "user_id": str(actor.id), "face_box": list(box),
              "face_points": json.dumps(points.to_json())}
    conn.execute(q("set_face_box"), params)


def generate_base(features: Features, *, size: tuple[int, int]) -> tuple[CleanImage, FaceBox]:
    """An offline-rendered base portrait from features alone, and its exact face region."""
    from lib.core.images import png_bytes
    from lib.render.portrait import face_box, render_portrait

    image = render_portrait(features, size=size)
    clean = CleanImage(png=png_bytes(image), width=image.width, height=image.height, has_alpha=True)
    return clean, face_box(size)


def list_characters(conn: Connection, *, actor: User, any_owner: bool = False) -> list[Character]:
    """The actor's characters; every user's only for an admin asking with any_owner=True."""
    if any_owner:
        if not actor.is_admin:
            raise PermissionDenied("only admins can list every user's characters")
        return [_character(r) for r in conn.execute(q("all_characters"))]
    return [_character(r) for r in conn.execute(q("characters_of_user"), {"user_id": str(actor.id)})]


def get_character(conn: Connection, *, actor: User, character_id: str | UUID, any_owner: bool = False) -> Character:
    """One character of the actor (or of anyone, for an admin with any_owner=True), else NotFound."""
    cid = parse_id(character_id)
    params = {"character_id": str(cid), "user_id": str(actor.id), "any_owner": bool(any_owner and actor.is_admin)}
    row = conn.execute(q("character_for_user"), params).one_or_none()
    if row is None:
        raise NotFound(f"character {cid} not found")
    return _character(row)


def rename_character(conn: Connection, *, actor: User, character_id: str | UUID, name: str) -> None:
    cid = parse_id(character_id)
    params = {"character_id": str(cid), "user_id": str(actor.id), "name": clean_name(name)}
    if conn.execute(q("rename_character"), params).first() is None:
        raise NotFound(f"character {cid} not found")


def update_features(
    conn: Connection, *, actor: User, character_id: str | UUID, features: Features | dict[str, Any]
) -> None:
    cid = parse_id(character_id)
    features_json = parse_features(features).stored_json()
    params = {"character_id": str(cid), "user_id": str(actor.id), "features": features_json}
    if conn.execute(q("update_features"), params).first() is None:
        raise NotFound(f"character {cid} not found")


@dataclass(frozen=True)
class DeletedCharacter:
    """A deleted character: what to tell the user and where its stored objects were."""

    id: UUID
    name: str
    prefix: str
    released_credits: int


def delete_character(conn: Connection, *, actor: User, character_id: str | UUID) -> DeletedCharacter:
    """Delete the actor's character with its variants, cancelling its unfinished work and releasing its holds.

    Nothing waits for a running item: its worker finds the item gone, stores nothing and charges nothing.
    The caller removes the stored objects after commit (`remove_objects`), so a rolled-back delete keeps them.
    """
    cid = parse_id(character_id)
    params = {"character_id": str(cid), "user_id": str(actor.id)}
    row = conn.execute(q("lock_character_of_user"), params).one_or_none()
    if row is None:
        raise NotFound(f"character {cid} not found")
    conn.execute(q("cancel_work_of_character"), {"character_id": str(cid)})
    released = sum(ledger.release(conn, difference_id=held)
                   for held in conn.execute(q("open_holds_of_character"), {"character_id": str(cid)}).scalars().all())
    conn.execute(q("delete_character"), params).one()
    return DeletedCharacter(id=row.id, name=row.name, released_credits=released,
                            prefix=storage.character_prefix(user_id=row.user_id, character_id=row.id))


def remove_objects(store: ObjectStore, deleted: DeletedCharacter) -> int:
    """Remove every stored object of a deleted character (after its delete committed); returns how many."""
    return store.delete_prefix(deleted.prefix)


def load_base(store: ObjectStore, character: Character) -> bytes:
    """The base PNG of a character (already access-checked by get_character)."""
    return store.get(character.base_key)


def features_from_json(text: str) -> Features:
    """Features from a JSON document (the CLI's --features FILE)."""
    if _nesting(text) > MAX_FEATURES_NESTING:
        raise InvalidInput(f"features file is nested more than {MAX_FEATURES_NESTING} levels deep")
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InvalidInput(f"features file is not valid JSON: {exc}") from None
    if not isinstance(data, dict):
        raise InvalidInput("features file must hold a JSON object")
    return parse_features(data)


MAX_FEATURES_NESTING = 10  # features are an object of strings and one list; the parser recurses per level


def _nesting(text: str) -> int:
    """The deepest bracket nesting in a JSON text, ignoring brackets inside strings (checked before parsing)."""
    depth = deepest = 0
    in_string = escaped = False
    for char in text:
        if in_string:
            escaped, in_string = (False, True) if escaped else (char == "\\", char != '"')
        elif char == '"':
            in_string = True
        elif char in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif char in "]}":
            depth -= 1
    return deepest
