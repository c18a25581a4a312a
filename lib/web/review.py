"""The review grid: rows of expressions × columns (the expression, then its variants), attempts side by side.

Cards show thumbnails (the full PNG only in the compare view), a label, cost and consistency, and
✓ approve (picks that attempt), ✗ reject, ↻ make it again (another attempt in the same slot), ⇆ compare.
The compare view shows base and result side by side or one at a time, with keyboard shortcuts.
"""

from __future__ import annotations

from collections.abc import Callable
from uuid import UUID

import streamlit as st
from sqlalchemy import Connection
from streamlit.delta_generator import DeltaGenerator

from lib.accounts.users import User
from lib.catalog.characters import Character
from lib.consistency import wording
from lib.core.errors import StudioError
from lib.core.markdown import escape_markdown
from lib.core.settings import Settings
from lib.generation import batches, jobs
from lib.generation.jobs import Difference
from lib.generation.workspace import GridRow, Slot, review_rows
from lib.web import state
from lib.web.resources import transaction
from lib.web.widgets import expression_label, loop_image, object_image, show_error, thumbnail_image, words

# Mouth flaps twice, then a blink: the loop a PNGtuber or a visual novel would play.
_LOOP = (("closed", 500), ("mouth_open", 160), ("closed", 140), ("mouth_open", 160), ("closed", 700),
         ("blink", 130), ("closed", 900))


def difference_grid(items: list[Difference], *, character: Character, columns: int = 5) -> None:
    """Generated variants as a flowing grid of thumbnails (image or failure reason, label, status, cost)."""
    cells = st.columns(columns)
    for index, item in enumerate(items):
        _difference_cell(cells[index % columns].container(border=True), item, character=character)


def review_grid(items: list[Difference], *, character: Character, user: User, settings: Settings) -> None:
    """A batch as rows of expressions with their variants beside them, each slot's attempts side by side."""
    columns, rows = review_rows(items)
    focused = state.COMPARE.get()
    ordered = [d for row in rows for slot in row.slots if slot for d in slot.attempts if d.status == "done"]
    if focused is not None and any(d.id == focused for d in ordered):
        _compare(ordered, focused, character=character, user=user, settings=settings)
    widths = [2] + [3] * len(columns)
    header = st.columns(widths)
    for cell, variant in zip(header[1:], columns, strict=True):
        cell.markdown(f"**{words(variant) if variant else 'Expression'}**")
    for row in rows:
        _row(row, widths, character=character, user=user, settings=settings)


def _row(row: GridRow, widths: list[int], *, character: Character, user: User, settings: Settings) -> None:
    cells = st.columns(widths, vertical_alignment="top")
    with cells[0]:
        st.markdown(f"**{escape_markdown(expression_label(row.expression_key))}**")
        _loop(row)
    several = []
    for cell, slot in zip(cells[1:], row.slots, strict=True):
        if slot is None:
            continue
        card = cell.container(border=True)
        if len(slot.attempts) == 1:
            _difference_cell(card, slot.attempts[0], character=character, head="")
            if slot.attempts[0].status in ("done", "failed"):
                _review_buttons(card, slot.attempts[0], user=user, settings=settings)
            continue
        several.append(slot)
        shown = slot.chosen or slot.attempts[-1]
        _difference_cell(card, shown, character=character,
                         head=f"**Attempt {shown.attempt} of {len(slot.attempts)}** (all below)")
    for slot in several:
        _attempts(row, slot, character=character, user=user, settings=settings)


def _attempts(row: GridRow, slot: Slot, *, character: Character, user: User, settings: Settings) -> None:
    """Every attempt at one slot side by side, four to a line, each with its own review buttons."""
    name = expression_label(row.expression_key) + (f" · {words(slot.variant)}" if slot.variant else "")
    with st.container(border=True):
        st.markdown(f"**{escape_markdown(name)}: {len(slot.attempts)} attempts**")
        chosen = slot.chosen
        per_line = 4
        for start in range(0, len(slot.attempts), per_line):
            places = st.columns(per_line)
            for place, item in zip(places, slot.attempts[start:start + per_line], strict=False):
                card = place.container(border=True)
                used = " ★ used" if chosen is not None and chosen.id == item.id else ""
                _difference_cell(card, item, character=character, head=f"**Attempt {item.attempt}**{used}")
                if item.status in ("done", "failed"):
                    _review_buttons(card, item, user=user, settings=settings)


def _loop(row: GridRow) -> None:
    """An animated mouth-flap/blink preview of the expression's chosen images, when it has those variants."""
    chosen = {slot.variant or "closed": slot.chosen for slot in row.slots if slot is not None}
    if not chosen.get("closed") or not (chosen.get("mouth_open") or chosen.get("blink")):
        return
    if st.toggle("▶ preview", key=f"loop-{chosen['closed'].id}", help="Mouth flaps and a blink, as an app plays them"):
        frames = [(chosen[name].image_key, ms) for name, ms in _LOOP if chosen.get(name)]
        st.image(loop_image(frames), width="stretch")


def _review_buttons(cell: DeltaGenerator, item: Difference, *, user: User, settings: Settings) -> None:
    """✓ ✗ ↻ ⇆ in one row (no tooltips: the caption above the grid says what they do; a 117-image grid
    renders hundreds of these)."""
    row = cell.container(horizontal=True, gap="small")
    review = None
    if item.status == "done" and row.button("✓", key=f"ok-{item.id}",
                                            type="primary" if item.review == "approved" else "secondary"):
        review = "pending" if item.review == "approved" else "approved"
    if item.status == "done" and row.button("✗", key=f"no-{item.id}",
                                            type="primary" if item.review == "rejected" else "secondary"):
        review = "pending" if item.review == "rejected" else "rejected"
    if review:
        set_review(item, review, user=user)
    if row.button("↻", key=f"again-{item.id}"):
        regenerate(item, user=user, settings=settings)
    if item.status == "done" and row.button("⇆", key=f"cmp-{item.id}"):
        state.COMPARE.set(item.id)
        st.rerun()


def set_review(item: Difference, review: str, *, user: User) -> None:
    """Record a review (keeping what it replaced, for undo) and show the grid again."""
    with transaction() as conn:
        changes = jobs.set_review(conn, actor=user, difference_id=item.id, review=review)
    verb = {"approved": "Approved", "rejected": "Rejected", "pending": "Cleared the review of"}[review]
    state.LAST_REVIEW.set(state.ReviewUndo(changes=changes, label=f"{verb} {_label(item)}"))
    st.rerun()


def submit(make: Callable[[Connection], list[batches.Submitted]], *, character: Character) -> None:
    """Submit one or more batches in one transaction, then show the page again with the new balance."""
    try:
        with transaction() as conn:
            made = make(conn)
    except StudioError as exc:
        show_error(exc)
        return
    images, credits = sum(len(m.difference_ids) for m in made), sum(m.credits_held for m in made)
    state.watch_batch(job_id=made[0].job_id, character_id=character.id)
    many = f" as {len(made)} batches" if len(made) > 1 else ""
    state.FLASH.set(f"Submitted {images} image{'s' if images != 1 else ''}{many}; {credits} credits held "
                    "until each image is made.")
    st.rerun()


def regenerate(item: Difference, *, user: User, settings: Settings) -> None:
    try:
        with transaction() as conn:
            made = batches.regenerate(conn, actor=user, difference_id=item.id, settings=settings)
    except StudioError as exc:
        show_error(exc)
        return
    state.FLASH.set(f"Making {_label(item)} again ({made.credits_held} credits held): the new attempt "
                    "appears beside the first.")
    st.rerun()


def _compare(ordered: list[Difference], focused: UUID, *, character: Character, user: User,
             settings: Settings) -> None:
    index = next(i for i, d in enumerate(ordered) if d.id == focused)
    item = ordered[index]
    with st.container(border=True, key="compare-view"):
        title, mode_col = st.columns([3, 2])
        title.markdown(f"**Compare: {_label(item)}** · {index + 1} of {len(ordered)}")
        mode = mode_col.segmented_control("Show", ["Side by side", "Base", "Result"], default="Side by side",
                                          key="compare-mode", label_visibility="collapsed") or "Side by side"
        if mode == "Side by side":
            base, result = st.columns(2)
            base.image(object_image(character.base_key), caption="Approved base", width="stretch")
            result.image(object_image(item.image_key), caption=_label(item), width="stretch")
        else:
            key, caption = (character.base_key, "Approved base") if mode == "Base" else (item.image_key, _label(item))
            st.image(object_image(key), caption=caption, width="stretch")
        buttons = st.columns(5)
        if buttons[0].button("✓ Approve", key="cmp-ok", shortcut="A", width="stretch"):
            set_review(item, "approved", user=user)
        if buttons[1].button("✗ Reject", key="cmp-no", shortcut="X", width="stretch"):
            set_review(item, "rejected", user=user)
        if buttons[2].button("← Previous", key="cmp-prev", shortcut="Left", width="stretch", disabled=index == 0):
            state.COMPARE.set(ordered[index - 1].id)
            st.rerun()
        if buttons[3].button("Next →", key="cmp-next", shortcut="Right", width="stretch",
                             disabled=index == len(ordered) - 1):
            state.COMPARE.set(ordered[index + 1].id)
            st.rerun()
        if buttons[4].button("Close", key="cmp-close", shortcut="Esc", width="stretch"):
            state.COMPARE.set(None)
            st.rerun()


def _label(item: Difference) -> str:
    """The item's expression (a character's own expressions are named by their owner) and variant, as Markdown."""
    label = expression_label(item.expression_key) + (f" · {item.variant.replace('_', ' ')}" if item.variant else "")
    return escape_markdown(label)


def _caption(item: Difference, *, preview: bool, head: str | None = None) -> str:
    """Model, cost and review of an image after `head` (its label unless the grid's row and column say it)."""
    note = "offline preview" if preview and item.backend == "offline" else escape_markdown(item.model)
    cost = f" · {item.cost_credits} cr" if item.cost_credits else (" · free" if item.status == "done" else "")
    # Plain ✓/✗ rather than colour emoji: machines without an emoji font draw those as empty boxes.
    review = {"approved": " · **✓ approved**", "rejected": " · **✗ rejected**"}.get(item.review, "")
    head = f"**{_label(item)}**" if head is None else head
    return " · ".join(p for p in (head, f"{note}{cost}{review}") if p)


def _score_badge(cell: DeltaGenerator, item: Difference) -> None:
    if item.score is None:
        return
    r = wording.read({"total": item.score, **(item.score_parts or {})})
    with cell.popover(f"{'✔' if r.passed else '⚠'} consistency {r.total:.0f} · {r.verdict}", width="stretch"):
        st.caption("How consistent the image you get is with the base (0–100): total, parts and flags.")
        for name, value in r.parts:
            st.progress(min(max(value / 100, 0.0), 1.0), text=f"{name}: {value:.0f}")
        if r.flags:
            st.warning("Flags: " + "; ".join(r.flags))
        if r.notes:
            st.caption(f"{wording.RESTORED.capitalize()}: " + ", ".join(f"{k} {v:.0f}" for k, v in r.restored))


def _difference_cell(
    cell: DeltaGenerator, item: Difference, *, character: Character, head: str | None = None
) -> None:
    if item.status == "done" and item.image_key:
        cell.image(thumbnail_image(item.image_key), width="stretch")
        cell.caption(_caption(item, preview=character.base_source == "upload", head=head))
        _score_badge(cell, item)
    elif item.status == "failed":
        cell.error(f"**{_label(item)}**: {escape_markdown(item.failure_reason)}", icon=":material/block:")
    elif item.status == "cancelled":
        cell.caption(f"**{_label(item)}**: cancelled before it was made (refunded)")
    else:
        what = {"queued": "waiting for a worker", "running": "being made"}.get(item.status, item.status)
        cell.info(f"**{_label(item)}**  \n{what}…", icon=":material/hourglass_empty:")
