"""Generated images as a grid: image or failure reason, label, cost, consistency; approve, reject, regenerate."""

from __future__ import annotations

import streamlit as st
from streamlit.delta_generator import DeltaGenerator

from lib.accounts.users import User
from lib.catalog.characters import Character
from lib.consistency import wording
from lib.core.errors import StudioError
from lib.core.markdown import escape_markdown
from lib.core.settings import Settings
from lib.generation import batches, jobs
from lib.generation.jobs import Difference
from lib.web import state
from lib.web.resources import transaction
from lib.web.widgets import expression_label, object_image, show_error


def difference_grid(items: list[Difference], *, character: Character, columns: int = 5) -> None:
    """Generated variants as a grid: image (or failure reason), label, status and cost."""
    cells = st.columns(columns)
    for index, item in enumerate(items):
        _difference_cell(cells[index % columns].container(border=True), item, character=character)


def review_grid(
    items: list[Difference], *, character: Character, user: User, settings: Settings, columns: int = 5
) -> None:
    """The variant grid with approve, reject and regenerate on each item."""
    cells = st.columns(columns)
    for index, item in enumerate(items):
        cell = cells[index % columns].container(border=True)
        _difference_cell(cell, item, character=character)
        if item.status in ("done", "failed"):
            _review_buttons(cell, item, character=character, user=user, settings=settings)


def _review_buttons(
    cell: DeltaGenerator, item: Difference, *, character: Character, user: User, settings: Settings
) -> None:
    approve, reject, again = cell.columns(3)
    review = None
    if item.status == "done" and approve.button("✓", key=f"ok-{item.id}", help="Approve",
                                                type="primary" if item.review == "approved" else "secondary"):
        review = "approved"
    if item.status == "done" and reject.button("✗", key=f"no-{item.id}", help="Reject",
                                               type="primary" if item.review == "rejected" else "secondary"):
        review = "rejected"
    if review:
        with transaction() as conn:
            jobs.set_review(conn, actor=user, difference_id=item.id, review=review)
        st.rerun()
    if again.button("↻", key=f"again-{item.id}", help="Regenerate (a new batch; a variant brings its expression)"):
        try:
            with transaction() as conn:
                submitted = batches.regenerate(conn, actor=user, character=character, difference=item,
                                               settings=settings)
            state.watch_batch(job_id=submitted.job_id, character_id=character.id)
            st.rerun()
        except StudioError as exc:
            show_error(exc)


def _label(item: Difference) -> str:
    """The item's expression (a character's own expressions are named by their owner) and variant, as Markdown."""
    label = expression_label(item.expression_key) + (f" · {item.variant.replace('_', ' ')}" if item.variant else "")
    return escape_markdown(label)


def _caption(item: Difference, *, preview: bool) -> str:
    note = "offline preview" if preview and item.backend == "offline" else escape_markdown(item.model)
    cost = f" · {item.cost_credits} cr" if item.cost_credits else ""
    # Plain ✓/✗ rather than colour emoji: machines without an emoji font draw those as empty boxes.
    review = {"approved": " · **✓ approved**", "rejected": " · **✗ rejected**"}.get(item.review, "")
    return f"**{_label(item)}** · {note}{cost}{review}"


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


def _difference_cell(cell: DeltaGenerator, item: Difference, *, character: Character) -> None:
    if item.status == "done" and item.image_key:
        cell.image(object_image(item.image_key), width="stretch")
        cell.caption(_caption(item, preview=character.base_source == "upload"))
        _score_badge(cell, item)
    elif item.status == "failed":
        cell.error(f"**{_label(item)}**: {escape_markdown(item.failure_reason)}", icon=":material/block:")
    else:
        cell.info(f"**{_label(item)}**  \n{item.status}…", icon=":material/hourglass_empty:")
