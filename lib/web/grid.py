"""The review grid as ONE browser element: rows of expressions × columns (the expression, then its variants).

Streamlit draws every st.image, button and popover as its own element; a 117-image set made hundreds of
them and took seconds to appear. Here Python sends one small JSON description (thumbnail links, captions,
which buttons) and the component's JavaScript draws the grid; a click comes back as one `action` event
(`{"do": "approve"|"reject"|"again"|"compare", "id": …}`). Thumbnails are signed /files links, stable for
a window, so the browser caches them across reruns. Keys on a focused card: A approve, X reject, R again,
C or Enter compare, arrows move between cards.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any
from uuid import UUID

import streamlit as st

_HERE = Path(__file__).parent
_COMPONENT = st.components.v2.component("studio_review_grid", css=(_HERE / "grid.css").read_text(encoding="utf-8"),
                                        js=(_HERE / "grid.js").read_text(encoding="utf-8"), isolate_styles=False)


@dataclass(frozen=True)
class Action:
    """What the reviewer clicked: `do` is approve, reject, again or compare; `id` the image's."""

    do: str
    id: UUID


def review_grid(description: dict[str, Any], *, key: str) -> Action | None:
    """Draw the grid `description` (see lib/web/review.py) and return the click of this run, if any."""
    result = _COMPONENT(key=key, data=description, on_action_change=lambda: None)
    event = result.action
    if not isinstance(event, dict) or event.get("do") not in ("approve", "reject", "again", "compare"):
        return None
    try:
        return Action(do=str(event["do"]), id=UUID(str(event["id"])))
    except (KeyError, ValueError):
        return None
