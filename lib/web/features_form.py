"""The features part of the new-character form: prefilled from the picture, every field editable, and only
the ones the user keeps ticked (or chooses) are given, so a default never reaches a prompt unseen."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import streamlit as st

from lib.design.features import HAIR_LENGTHS, HAIR_STYLES, KNOWN_ACCESSORIES, Features
from lib.web.i18n import _
from lib.web.widgets import words

NOT_STATED = "(not stated)"
COLOURS = (("hair_color", "Hair colour"), ("eye_color", "Eye colour"), ("skin_tone", "Skin tone"),
           ("outfit_color", "Outfit colour"))


def _choice(where: Any, label: str, options: tuple[str, ...], given: bool, value: str, key: str) -> str:
    choices = (NOT_STATED, *options)
    return where.selectbox(label, choices, index=choices.index(value) if given else 0, key=key,
                        format_func=lambda v: v if v == NOT_STATED else words(v))


def features_inputs(prefill: Features, key: Callable[[str], str]) -> dict[str, Any]:
    """The features widgets, prefilled from `prefill`; returns only what the user gave (a features dict)."""
    given = prefill.given()
    chosen: dict[str, Any] = {}
    for col, (name, label) in zip(st.columns(4), COLOURS, strict=True):
        colour = col.color_picker(label, getattr(prefill, name), key=key(name))
        if col.checkbox(_("state it in prompts"), value=name in given, key=key(f"{name}-on"),
                        help=_("Unticked: prompts only say “the same” and never name a colour.")):
            chosen[name] = colour
    c1, c2, c3 = st.columns(3)
    style = _choice(c1, "Hair style", HAIR_STYLES, "hair_style" in given, prefill.hair_style, key("hair_style"))
    length = _choice(c2, "Hair length", HAIR_LENGTHS, "hair_length" in given, prefill.hair_length, key("hair_length"))
    outfit = c3.text_input(_("Outfit"), value=prefill.outfit if "outfit" in given else "", max_chars=200,
                           key=key("outfit"), placeholder=_("e.g. sailor uniform (empty: not stated)"))
    chosen |= {k: v for k, v in (("hair_style", style), ("hair_length", length)) if v != NOT_STATED}
    if outfit.strip():
        chosen["outfit"] = outfit
    offered = [*KNOWN_ACCESSORIES, *(a for a in prefill.accessories if a not in KNOWN_ACCESSORIES)]
    accessories = st.multiselect(_("Accessories"), offered, default=prefill.accessories, accept_new_options=True,
                                 key=key("accessories"), format_func=words,
                                 placeholder=_("None, or type your own"))
    if accessories:
        chosen["accessories"] = accessories
    notes = st.text_area(_("Notes for prompts (anything else that must stay the same)"), value=prefill.notes,
                         max_chars=2000, key=key("notes"))
    if notes.strip():
        chosen["notes"] = notes
    return chosen
