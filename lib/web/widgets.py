"""Small shared widgets: confirmations and errors, labels for choices, stored images, user text in Markdown."""

from __future__ import annotations

import streamlit as st

from lib.core import thumbnails
from lib.core.errors import StudioError
from lib.core.markdown import escape_markdown
from lib.design import expressions
from lib.web import resources, state


def flash(message: str) -> None:
    """Confirm an action across the st.rerun that follows it (a toast alone is easy to miss)."""
    state.FLASH.set(message)


def show_flash() -> None:
    """Show, once, the confirmation the previous run left."""
    if message := state.FLASH.pop():
        st.success(message, icon=":material/check_circle:")


def show_error(exc: StudioError) -> None:
    """Show an expected error as a message the user can act on; messages may quote what the user typed."""
    st.error(escape_markdown(exc))


def words(key: str) -> str:
    """A snake_case key as words for a label: "twin_tails" → "twin tails"."""
    return key.replace("_", " ")


def expression_label(key: str) -> str:
    """"Happy 笑顔" for built-ins, the key for a character's own expressions."""
    found = expressions.LIBRARY.get(key)
    return f"{found.label_en} {found.label_ja}" if found else key.replace("_", " ")


@st.cache_data(ttl=600, max_entries=256, show_spinner=False)
def _object_bytes(key: str) -> bytes:
    return resources.store().get(key)


def object_image(key: str) -> str | bytes:
    """What st.image needs for a stored object: a presigned URL (S3) or the bytes (local disk).

    Callers pass keys of rows they already read with an access check; keys embed the owner's id.
    """
    return resources.store().download_url(key) or _object_bytes(key)


@st.cache_data(ttl=3600, max_entries=8192, show_spinner=False)
def _thumbnail_key(key: str) -> str:
    return thumbnails.ensure_thumbnail(resources.store(), key)


def thumbnail_image(key: str) -> str | bytes:
    """What st.image needs for the thumbnail of a stored PNG (made once, stored beside it)."""
    return object_image(_thumbnail_key(key))


@st.cache_data(ttl=3600, max_entries=1024, show_spinner=False)
def _loop_key(frames: tuple[tuple[str, int], ...]) -> str:
    return thumbnails.ensure_animation(resources.store(), [(_thumbnail_key(k), ms) for k, ms in frames])


def loop_image(frames: list[tuple[str, int]]) -> str | bytes:
    """What st.image needs for an animated loop of stored PNGs (key, milliseconds), at thumbnail size."""
    return object_image(_loop_key(tuple(frames)))
