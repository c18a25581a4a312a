"""The face-region editor: the region drawn over the base, and a form for its owner to correct it."""

from __future__ import annotations

import io

import streamlit as st
from PIL import Image

from lib.accounts.users import User
from lib.catalog import characters
from lib.catalog.characters import Character
from lib.consistency import face_region
from lib.core.errors import StudioError
from lib.design.face_box import FaceBox
from lib.web.resources import store, transaction
from lib.web.widgets import inline_image, show_error


def face_region_editor(character: Character, *, user: User) -> None:
    """Show the face region over the base and let the owner correct it."""
    box = character.face_box or FaceBox(0, 0, character.base_width, character.base_height)
    with Image.open(io.BytesIO(characters.load_base(store(), character))) as base:
        st.image(inline_image(face_region.overlay(base, box)), width=260,
                 caption="Outside the pink box every variant stays identical to the base.")
    with st.form(f"face-{character.id}"):
        cols = st.columns(4)
        limits = (character.base_width, character.base_height, character.base_width, character.base_height)
        values = [col.number_input(name, min_value=0, max_value=limit, value=int(value), step=4)
                  for col, name, limit, value in zip(cols, ("x", "y", "width", "height"), limits, box, strict=True)]
        if st.form_submit_button("Save face region"):
            try:
                with transaction() as conn:
                    characters.set_face_box(conn, actor=user, character_id=character.id, face_box=tuple(values))
                st.rerun()
            except StudioError as exc:
                show_error(exc)
