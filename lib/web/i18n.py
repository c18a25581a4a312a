"""The words the studio shows, in the reader's language (English or Japanese).

Every user-visible string in pages/ and lib/web goes through `_()`: `_("Generate {n} images", n=3)`. The
message id is the English text; values are filled in after translation, so a translation may move them.
Translations live in a gettext catalogue, `lib/web/locales/<lang>/LC_MESSAGES/studio.po`, read with Babel
(no compile step, so `make run` needs nothing more). The language is the one the reader chose with the
switch at the sidebar's foot, remembered for the browser session, else the browser's own (`st.context.locale`).
tests/test_i18n.py keeps the catalogue complete.
"""

from __future__ import annotations

import functools
from pathlib import Path

import streamlit as st
from babel.messages.pofile import read_po

from lib.web import state

LANGUAGES = {"en": "English", "ja": "日本語"}
LOCALES = Path(__file__).parent / "locales"
_SWITCH_KEY = "studio-language-switch"


@functools.cache
def catalogue(language: str) -> dict[str, str]:
    """Message id → translation for a language (English is the ids themselves: an empty catalogue)."""
    path = LOCALES / language / "LC_MESSAGES" / "studio.po"
    if language == "en" or not path.exists():
        return {}
    with path.open("rb") as f:
        read = read_po(f, locale=language)
    return {m.id: m.string for m in read if isinstance(m.id, str) and m.id and m.string and not m.fuzzy}


def browser_language() -> str:
    """The browser's language when the studio speaks it, else English."""
    try:
        locale = st.context.locale or ""
    except Exception:  # noqa: BLE001 - no script run (a notebook, a test calling a helper): nobody to ask
        locale = ""
    return "ja" if locale.lower().startswith("ja") else "en"


def language() -> str:
    """The reader's language: their choice in this browser session, else the browser's."""
    try:
        chosen = state.LANGUAGE.get()
    except Exception:  # noqa: BLE001 - no session (bare mode)
        chosen = None
    return chosen if chosen in LANGUAGES else browser_language()


def _(message: str, /, **values: object) -> str:
    """The message in the reader's language, with `values` filled in (`str.format` names)."""
    text = catalogue(language()).get(message, message)
    return text.format(**values) if values else text


def _n(one: str, many: str, n: int, /, **values: object) -> str:
    """`_()` of `one` when n is 1, else of `many`; `n` is filled in too (Japanese uses the same words for both)."""
    return _(one if n == 1 else many, n=n, **values)


def _remember_choice() -> None:
    """The switch's on_change: keep the reader's choice for this browser session.

    Streamlit can call it in a run after it dropped the switch's key (the frontend still reported the widget,
    seen after a sign-out's rerun); there is no new choice then, so the one held stays.
    """
    chosen = st.session_state.get(_SWITCH_KEY)
    if chosen in LANGUAGES:
        state.LANGUAGE.set(chosen)


def language_switch() -> None:
    """English / 日本語 at the sidebar's foot; the choice holds for this browser session."""
    st.sidebar.segmented_control("Language / 言語", list(LANGUAGES), default=language(), format_func=LANGUAGES.get,
                                 key=_SWITCH_KEY, on_change=_remember_choice, required=True)
