"""The face region on the Characters page: the proposed box (with eyes and mouth) over the picture, where it
came from, and the owner's confirmation or correction. An unsure box must be confirmed before the first batch."""

from __future__ import annotations

import hashlib
import io

import streamlit as st
from PIL import Image, ImageDraw

from lib.accounts.users import User
from lib.catalog import characters, describing
from lib.catalog.characters import Character, Upload
from lib.consistency import face_region
from lib.core.errors import StudioError
from lib.core.settings import Settings
from lib.design.face_box import FaceBox, FacePoints
from lib.design.features import Features
from lib.web import state
from lib.web.i18n import _
from lib.web.resources import describer, store, transaction
from lib.web.widgets import escape_markdown, inline_image, show_error

SOURCES = {"detected": "found by the anime-face detector", "estimated": "a guess: please check it",
           "drawn": "exact (the renderer drew this base)", "user": "set or confirmed by a person"}


def picture(image: Image.Image, box: FaceBox, points: FacePoints | None) -> Image.Image:
    """The picture with its face box, and the eyes and mouth as small rings."""
    out = face_region.overlay(image, box)
    if points is not None:
        draw = ImageDraw.Draw(out)
        r = max(3, round(box.w / 25))
        for x, y in points:
            draw.ellipse((x - r, y - r, x + r, y + r), outline=(40, 90, 255, 255), width=max(1, r // 3))
    return out


def _box_inputs(box: FaceBox, size: tuple[int, int], key: str) -> tuple[int, ...]:
    limits = (size[0], size[1], size[0], size[1])
    return tuple(col.number_input(name, min_value=0, max_value=limit, value=int(value), step=4, key=f"{key}-{name}")
                 for col, name, limit, value in zip(st.columns(4), ("x", "y", "width", "height"), limits, box,
                                                    strict=True))


def face_region_editor(character: Character, *, user: User) -> None:
    """Show the face region over the base and let the owner confirm or correct it."""
    box = character.face_box or FaceBox(0, 0, character.base_width, character.base_height)
    with Image.open(io.BytesIO(characters.load_base(store(), character))) as base:
        st.image(inline_image(picture(base, box, character.face_points)), width=260,
                 caption=_("Outside the pink box every variant stays identical to the base."))
    st.caption(f"Face box: {SOURCES.get(character.face_source, character.face_source)}.")
    if character.face_unsure:
        st.warning(f"{escape_markdown(character.face_note or 'The studio is not sure where the face is.')} "
                   "Batches start once the box holds the brows, eyes, mouth and chin.")
    with st.form(f"face-{character.id}"):
        values = _box_inputs(box, (character.base_width, character.base_height), f"face-{character.id}")
        if st.form_submit_button(_("Save face region"), help=_("Saving confirms the box as yours, changed or not.")):
            try:
                with transaction() as conn:
                    characters.set_face_box(conn, actor=user, character_id=character.id, face_box=values)
                st.rerun()
            except StudioError as exc:
                show_error(exc)


@st.cache_data(max_entries=4, show_spinner=False)
def _inspect(data: bytes, digest: str, _settings: Settings) -> Upload:
    del digest  # the cache key: the bytes' hash, so each upload is validated and analysed once
    return characters.inspect_upload(data, settings=_settings)


def inspect(data: bytes, settings: Settings) -> Upload:
    """The upload validated, with its face found and colours read (once per distinct upload)."""
    return _inspect(data, hashlib.sha256(data).hexdigest(), settings)


def proposed_face(upload: Upload, *, key: str) -> FaceBox | None:
    """Show the proposed face box of an upload with its source; returns the box the user confirmed or corrected,
    or None to store the finder's (an unsure one then waits for confirmation before the first batch)."""
    found, size = upload.face, (upload.image.width, upload.image.height)
    whole, near, right = st.columns([1, 1, 2])
    with Image.open(io.BytesIO(upload.image.png)) as image:
        shown = picture(image, found.box, found.points)
    x, y, w, h = found.box
    whole.image(inline_image(shown), width=150, caption=_("The picture"))  # data: URLs, never /media
    near.image(inline_image(shown.crop((max(0, x - w // 2), max(0, y - h // 2), min(shown.width, x + w + w // 2),
                                        min(shown.height, y + h + h // 2)))), width=220,
               caption=_("The face box, closer"))
    with right:
        if found.unsure:
            st.warning(escape_markdown(found.reason))
        else:
            st.success(_("Face found: the pink box holds the brows, eyes, mouth and chin; blue rings mark the eyes and "
                       "mouth."))
        values = FaceBox(*_box_inputs(found.box, size, key))
        changed = values != found.box
        confirmed = found.unsure and st.checkbox(_("I checked it: the box holds the brows, eyes, mouth and chin"),
                                                 key=f"{key}-ok")
    return values if changed or confirmed else None


def described(file_id: str) -> Features | None:
    """The features Gemini described for this upload in this session, if it did."""
    entry = state.DESCRIBED.get().get(file_id)
    return entry[1] if entry else None


def described_version(file_id: str) -> int:
    entry = state.DESCRIBED.get().get(file_id)
    return entry[0] if entry else 0


def describe_button(upload: Upload, file_id: str, *, user: User, settings: Settings) -> None:
    """"Describe with Gemini" (with an API key): one call fills the features; a failure changes nothing."""
    if settings.gemini_api_key is None or not settings.gemini_api_key.get_secret_value().strip():
        return
    if not st.button(_("Describe with Gemini"), key=f"describe-{file_id}",
                     help=_("One Gemini call reads hair, eyes, skin, outfit and accessories from the picture.")):
        return
    with st.spinner(_("Asking Gemini…")):
        outcome = describing.describe_picture(describer(), upload.image.png)
    with transaction() as conn:
        describing.record_call(conn, actor=user, outcome=outcome)
    if outcome.features is None:
        st.error(escape_markdown(outcome.problem))
        return
    found = dict(state.DESCRIBED.get())
    found[file_id] = (described_version(file_id) + 1, outcome.features)
    state.DESCRIBED.set(found)
    st.rerun()
