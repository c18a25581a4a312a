"""Small shared widgets: confirmations and errors, labels for choices, stored images, user text in Markdown."""

from __future__ import annotations

import base64
import html
import io
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

import streamlit as st
from PIL import Image
from streamlit.runtime.scriptrunner import get_script_run_ctx

from lib.accounts import links
from lib.core import thumbnails
from lib.core.errors import PermissionDenied, StudioError
from lib.core.markdown import escape_markdown
from lib.design import expressions
from lib.web import resources, state


def flash(message: str) -> None:
    """Confirm an action across the st.rerun that follows it (a toast alone is easy to miss)."""
    state.FLASH.set(message)


def rerun_here() -> None:
    """Run again only the fragment this runs in when this is the fragment's own rerun, else the whole page.

    st.rerun refuses the fragment scope during a full run (a page load, or a click AppTest sends).
    """
    ctx = get_script_run_ctx()
    st.rerun(scope="fragment" if ctx is not None and ctx.fragment_ids_this_run else "app")


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
    return f"{found.label_en} {found.label_ja}" if found else words(key)


def variant_label(key: str) -> str:
    """"Mouth open 口開け": a variant named in both languages, as the built-in expressions are."""
    found = expressions.VARIANTS.get(key)
    return f"{found.label_en} {found.label_ja}" if found else words(key)


def _origin() -> str:
    """Where the browser reaches the studio (scheme and host of the page's URL)."""
    url = urlsplit(st.context.url or "")
    if url.scheme and url.netloc:
        return f"{url.scheme}://{url.netloc}"
    return f"http://127.0.0.1:{resources.settings().port}"  # no browser (AppTest): the default address


def file_link(what: Mapping[str, Any]) -> str:
    """A URL of `GET /files/{token}` for the signed-in user (lib/accounts/links.py), never a /media URL.

    Callers pass things of rows they already read with an access check (storage keys embed the owner's id).
    """
    viewer, authenticated_at = state.VIEWER.get(), state.AUTHENTICATED_AT.get()
    if viewer is None or authenticated_at is None:
        raise PermissionDenied("Sign in to see this.")
    s = resources.settings()
    token = links.sign(s.cookie_key(), user_id=viewer, authenticated_at=authenticated_at, what=what,
                       now=datetime.now(UTC), window_seconds=s.file_link_seconds)
    return _origin() + links.PATH.format(token=token)


def object_image(key: str) -> str:
    """What st.image needs for a stored object: its signed link."""
    return file_link({"key": key})


def download_link(label: str, *, what: Mapping[str, Any]) -> str:
    """HTML for st.html: a button-like link that downloads `what` through its signed link on the first click."""
    return (f'<a href="{html.escape(file_link(what))}" download role="button" style="{_BUTTON_STYLE}">'
            f"{html.escape(label)}</a>")


_BUTTON_STYLE = ("display:block;text-align:center;padding:0.4rem 0.75rem;border-radius:0.5rem;"
                 "border:1px solid rgba(128,128,128,0.4);text-decoration:none;color:inherit;font-weight:400")


def inline_image(image: Image.Image, *, max_side: int = 640) -> str:
    """A picture made on the page (not stored) as a data: URL, so it never gets a /media URL either."""
    copy = image.copy()
    copy.thumbnail((max_side, max_side))
    buffer = io.BytesIO()
    copy.save(buffer, format="WEBP", quality=90)
    return "data:image/webp;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


@st.cache_data(ttl=3600, max_entries=8192, show_spinner=False)
def _thumbnail_key(key: str) -> str:
    return thumbnails.ensure_thumbnail(resources.store(), key)


def thumbnail_image(key: str) -> str:
    """What st.image needs for the thumbnail of a stored PNG (made once, stored beside it): its signed link."""
    return object_image(_thumbnail_key(key))


@st.cache_data(ttl=3600, max_entries=4096, show_spinner=False)
def _thumbnail_data(key: str) -> str:
    data = resources.store().get(_thumbnail_key(key))
    return "data:image/webp;base64," + base64.b64encode(data).decode("ascii")


def inline_thumbnail(key: str) -> str:
    """The thumbnail of a stored PNG as a data: URL (a few kB), for a grid that should appear in one message.

    The caller must have read `key` from a row the viewer may see, as for `file_link`.
    """
    return _thumbnail_data(key)


@st.cache_data(ttl=3600, max_entries=1024, show_spinner=False)
def _loop_key(frames: tuple[tuple[str, int], ...]) -> str:
    return thumbnails.ensure_animation(resources.store(), [(_thumbnail_key(k), ms) for k, ms in frames])


def loop_image(frames: list[tuple[str, int]]) -> str:
    """What st.image needs for an animated loop of stored PNGs (key, milliseconds), at thumbnail size."""
    return object_image(_loop_key(tuple(frames)))
