"""The review grid: rows of expressions × columns (the expression, then its variants), attempts side by side.

Cards show thumbnails (the full PNG only in the compare view), a label, cost and consistency, and
✓ approve (picks that attempt), ✗ reject, ↻ make it again (another attempt in the same slot), ⇆ compare.
The grid is one browser element (lib/web/grid.py) inside the batch's fragment, so a review reruns only that.
The compare view shows base and result side by side or one at a time, with keyboard shortcuts.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
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
from lib.generation.workspace import GridRow, review_rows
from lib.web import grid, state
from lib.web.i18n import _, _n
from lib.web.resources import transaction
from lib.web.widgets import (
    expression_label,
    inline_thumbnail,
    object_image,
    rerun_here,
    show_error,
    thumbnail_image,
    variant_label,
)

# Mouth flaps twice, then a blink: the loop a PNGtuber or a visual novel would play.
_LOOP = (("closed", 500), ("mouth_open", 160), ("closed", 140), ("mouth_open", 160), ("closed", 700),
         ("blink", 130), ("closed", 900))


def difference_grid(items: list[Difference], *, character: Character, columns: int = 5) -> None:
    """Generated variants as a flowing grid of thumbnails (image or failure reason, label, status, cost)."""
    cells = st.columns(columns)
    for index, item in enumerate(items):
        _difference_cell(cells[index % columns].container(border=True), item, character=character)


def review_grid(items: list[Difference], *, character: Character, user: User, settings: Settings,
                inline: bool = True) -> None:
    """A batch as rows of expressions with their variants beside them, each slot's attempts side by side.

    Drawn as one element (lib/web/grid.py); a click on it reruns only the fragment the grid sits in.
    `inline` sends the thumbnails inside the grid's one message (a 117-image set is about 0.6 MB and appears
    at once); a batch still being made polls every second, so it sends links the browser caches instead.
    """
    picture = inline_thumbnail if inline else thumbnail_image
    columns, rows = review_rows(items)
    focused = state.COMPARE.get()
    ordered = [d for row in rows for slot in row.slots if slot for d in slot.attempts if d.status == "done"]
    if focused is not None and any(d.id == focused for d in ordered):
        _compare(ordered, focused, character=character, user=user, settings=settings)
    preview = character.base_source == "upload"
    description = {
        "columns": [_("Expression"), *(variant_label(v) for v in columns[1:] if v)],
        "rows": [_row(row, preview=preview, picture=picture) for row in rows],
        "texts": {"approve": _("Approve (A) — picks this attempt for exports"),
                  "reject": _("Reject (X) — never exported"),
                  "again": _("Make it again (R) — a new attempt beside this one"),
                  "compare": _("Compare full size with the base (C)"), "approved": _("✓ approved"),
                  "rejected": _("✗ rejected"), "loop": _("▶ preview"),
                  "loop_help": _("Mouth flaps and a blink, as an app plays them")},
    }
    action = grid.review_grid(description, key="review-grid")
    if action is not None:
        _act(action, items, user=user, settings=settings)


def _act(action: grid.Action, items: list[Difference], *, user: User, settings: Settings) -> None:
    item = next((d for d in items if d.id == action.id), None)
    if item is None:
        return
    if action.do == "again":
        regenerate(item, user=user, settings=settings)
    elif action.do == "compare":
        state.COMPARE.set(item.id)
        rerun_here()
    elif item.status == "done":
        wanted = "approved" if action.do == "approve" else "rejected"
        set_review(item, "pending" if item.review == wanted else wanted, user=user)


def _row(row: GridRow, *, preview: bool, picture: Callable[[str], str]) -> dict[str, Any]:
    """One expression: its label, its loop's frames, a card per column and a strip per slot with attempts."""
    name = expression_label(row.expression_key)
    slots, strips = [], []
    for slot in row.slots:
        if slot is None:
            slots.append(None)
            continue
        if len(slot.attempts) == 1:
            slots.append({"shown": _card(slot.attempts[0], preview=preview, picture=picture, buttons=True)})
            continue
        shown = slot.chosen or slot.attempts[-1]
        slots.append({"shown": _card(shown, preview=preview, picture=picture, head=(
            _("Attempt {n} of {count}", n=shown.attempt, count=len(slot.attempts)), " " + _("(all below)")))})
        chosen = slot.chosen
        title = name + (f" · {variant_label(slot.variant)}" if slot.variant else "")
        strips.append({
            "title": _("{name}: {count} attempts", name=title, count=len(slot.attempts)),
            "attempts": [_card(d, preview=preview, picture=picture, buttons=True, head=(
                _("Attempt {n}", n=d.attempt), " ★ " + _("used") if chosen is not None and chosen.id == d.id else ""))
                for d in slot.attempts],
        })
    return {"label": name, "loop": _loop(row, picture=picture), "slots": slots, "strips": strips}


def _loop(row: GridRow, *, picture: Callable[[str], str]) -> list[tuple[str, int]] | None:
    """Frames (thumbnail link, ms) of a mouth-flap/blink loop of the chosen images, when the row has those variants.

    The browser plays them by swapping thumbnails it already has: nothing is encoded on the server."""
    chosen = {slot.variant or "closed": slot.chosen for slot in row.slots if slot is not None}
    if not chosen.get("closed") or not (chosen.get("mouth_open") or chosen.get("blink")):
        return None
    return [(picture(chosen[name].image_key), ms) for name, ms in _LOOP if chosen.get(name)]


def _card(item: Difference, *, preview: bool, picture: Callable[[str], str], buttons: bool = False,
          head: tuple[str, str] | None = None) -> dict[str, Any]:
    """What one card of the grid shows: a thumbnail or a note, a caption, the score and which buttons."""
    card: dict[str, Any] = {"id": str(item.id), "status": item.status, "review": item.review, "alt": _plain(item),
                            "head": {"bold": head[0], "rest": head[1]} if head else None,
                            "buttons": buttons and item.status in ("done", "failed")}
    if item.status == "done" and item.image_key:
        note = _("offline preview") if preview and item.backend == "offline" else item.model
        cost = (" · " + _("{n} cr", n=item.cost_credits)) if item.cost_credits else " · " + _("free")
        card |= {"img": picture(item.image_key), "caption": note + cost, "score": _score(item)}
    elif item.status == "failed":
        card["note"] = f"{_plain(item)}: {item.failure_reason or _('it could not be made')}"
    elif item.status == "cancelled":
        card["note"] = _("{label}: cancelled before it was made (refunded)", label=_plain(item))
    else:
        what = {"queued": _("waiting for a worker"), "running": _("being made")}.get(item.status, item.status)
        card["note"] = f"{_plain(item)} — {what}…"
    return card


def _score(item: Difference) -> dict[str, Any] | None:
    if item.score is None:
        return None
    r = wording.read({"total": item.score, **(item.score_parts or {})})
    parts = [f"{name}: {value:.0f}" for name, value in r.parts]
    if r.flags:
        parts.append(_("Flags: {flags}", flags="; ".join(r.flags)))
    if r.notes:
        parts.append(f"{wording.RESTORED.capitalize()}: " + ", ".join(f"{k} {v:.0f}" for k, v in r.restored))
    return {"title": _("{mark} consistency {total} · {verdict}", mark="✔" if r.passed else "⚠",
                       total=f"{r.total:.0f}", verdict=_verdict(r.verdict)),
            "help": _("How consistent the image you get is with the base (0–100): total, parts and flags."),
            "parts": parts}


def set_review(item: Difference, review: str, *, user: User) -> None:
    """Record a review (keeping what it replaced, for undo) and show the grid again."""
    with transaction() as conn:
        changes = jobs.set_review(conn, actor=user, difference_id=item.id, review=review)
    said = {"approved": _("Approved {label}", label=_label(item)),
            "rejected": _("Rejected {label}", label=_label(item)),
            "pending": _("Cleared the review of {label}", label=_label(item))}
    label = said[review]
    state.LAST_REVIEW.set(state.ReviewUndo(changes=changes, label=label))
    rerun_here()


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
    what = _("Submitted {n} images as {batches} batches;", n=images, batches=len(made)) if len(made) > 1 else \
        _n("Submitted {n} image;", "Submitted {n} images;", images)
    state.FLASH.set(what + " " + _("{n} credits held until each image is made.", n=credits))
    st.rerun()


def regenerate(item: Difference, *, user: User, settings: Settings) -> None:
    try:
        with transaction() as conn:
            made = batches.regenerate(conn, actor=user, difference_id=item.id, settings=settings)
    except StudioError as exc:
        show_error(exc)
        return
    state.FLASH.set(_("Making {label} again ({n} credits held): the new attempt appears beside the first.",
                      label=_label(item), n=made.credits_held))
    st.rerun()


def _compare(ordered: list[Difference], focused: UUID, *, character: Character, user: User,
             settings: Settings) -> None:
    index = next(i for i, d in enumerate(ordered) if d.id == focused)
    item = ordered[index]
    with st.container(border=True, key="compare-view"):
        title, mode_col = st.columns([3, 2])
        title.markdown(_("**Compare: {label}** · {n} of {count}", label=_label(item), n=index + 1, count=len(ordered)))
        mode = mode_col.segmented_control(_("Show"), ["Side by side", "Base", "Result"], default="Side by side",
                                          format_func=_, key="compare-mode",
                                          label_visibility="collapsed") or "Side by side"
        if mode == "Side by side":
            base, result = st.columns(2)
            base.image(object_image(character.base_key), caption=_("Approved base"), width="stretch")
            result.image(object_image(item.image_key), caption=_label(item), width="stretch")
        else:
            key, caption = (character.base_key, "Approved base") if mode == "Base" else (item.image_key, _label(item))
            st.image(object_image(key), caption=caption, width="stretch")
        buttons = st.columns(5)
        if buttons[0].button(_("✓ Approve"), key="cmp-ok", shortcut="A", width="stretch"):
            set_review(item, "approved", user=user)
        if buttons[1].button(_("✗ Reject"), key="cmp-no", shortcut="X", width="stretch"):
            set_review(item, "rejected", user=user)
        if buttons[2].button(_("← Previous"), key="cmp-prev", shortcut="Left", width="stretch", disabled=index == 0):
            state.COMPARE.set(ordered[index - 1].id)
            rerun_here()
        if buttons[3].button(_("Next →"), key="cmp-next", shortcut="Right", width="stretch",
                             disabled=index == len(ordered) - 1):
            state.COMPARE.set(ordered[index + 1].id)
            rerun_here()
        if buttons[4].button(_("Close"), key="cmp-close", shortcut="Esc", width="stretch"):
            state.COMPARE.set(None)
            rerun_here()


def _plain(item: Difference) -> str:
    """The item's expression and variant as plain text."""
    return expression_label(item.expression_key) + (f" · {variant_label(item.variant)}" if item.variant else "")


def _verdict(verdict: str) -> str:
    return {"passed": _("passed"), "flagged": _("flagged")}.get(verdict, verdict)


def _label(item: Difference) -> str:
    """The item's expression (a character's own expressions are named by their owner) and variant, as Markdown."""
    return escape_markdown(_plain(item))


def _caption(item: Difference, *, preview: bool, head: str | None = None) -> str:
    """Model, cost and review of an image after `head` (its label unless the grid's row and column say it)."""
    note = _("offline preview") if preview and item.backend == "offline" else escape_markdown(item.model)
    cost = " · " + _("{n} cr", n=item.cost_credits) if item.cost_credits else (
        " · " + _("free") if item.status == "done" else "")
    # Plain ✓/✗ rather than colour emoji: machines without an emoji font draw those as empty boxes.
    review = {"approved": f" · **{_('✓ approved')}**", "rejected": f" · **{_('✗ rejected')}**"}.get(item.review, "")
    head = f"**{_label(item)}**" if head is None else head
    return " · ".join(p for p in (head, f"{note}{cost}{review}") if p)


def _score_badge(cell: DeltaGenerator, item: Difference) -> None:
    if item.score is None:
        return
    r = wording.read({"total": item.score, **(item.score_parts or {})})
    with cell.popover(_("{mark} consistency {total} · {verdict}", mark="✔" if r.passed else "⚠",
                        total=f"{r.total:.0f}", verdict=_verdict(r.verdict)), width="stretch"):
        st.caption(_("How consistent the image you get is with the base (0–100): total, parts and flags."))
        for name, value in r.parts:
            st.progress(min(max(value / 100, 0.0), 1.0), text=_("{name}: {value:.0f}", name=name, value=value))
        if r.flags:
            st.warning(_("Flags: {flags}", flags="; ".join(r.flags)))
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
        cell.error(_("**{label}**: {why}", label=_label(item), why=escape_markdown(item.failure_reason)),
                   icon=":material/block:")
    elif item.status == "cancelled":
        cell.caption(_("**{label}**: cancelled before it was made (refunded)", label=_label(item)))
    else:
        what = {"queued": _("waiting for a worker"), "running": _("being made")}.get(item.status, item.status)
        cell.info(_("**{label}**  \n{what}…", label=_label(item), what=what), icon=":material/hourglass_empty:")
