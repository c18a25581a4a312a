"""A character's batches as history: pick any batch, watch it fill in, cancel what has not started, review it."""

from __future__ import annotations

import streamlit as st

from lib.accounts.users import User
from lib.catalog.characters import Character
from lib.core.settings import Settings
from lib.generation import batches, jobs, workspace
from lib.generation.workspace import BatchSummary
from lib.web import economy, review, state, widgets
from lib.web.i18n import _, _n
from lib.web.resources import transaction
from lib.web.widgets import rerun_here


def batch_label(b: BatchSummary) -> str:
    """The batch picker's line in the reader's language, e.g. "01 Dec 04:16 · basic + Blink 目閉じ · offline ·
    5/5 made · 5 cr · done"."""
    counts = [_("{done}/{items} made", done=b.done, items=b.items)]
    counts += [_("{n} failed", n=b.failed)] * bool(b.failed) + [_("{n} cancelled", n=b.cancelled)] * bool(b.cancelled)
    what = " + ".join([b.preset, *(widgets.variant_label(v) for v in b.variants)])
    size = "" if b.model == "offline" else f" {b.image_size}"
    status = {"queued": _("queued"), "running": _("running"), "done": _("done"), "failed": _("failed"),
              "cancelled": _("cancelled")}.get(b.status, b.status)
    return _("{when} · {what} · {model} · {counts} · {credits} cr · {status}", when=f"{b.created_at:%d %b %H:%M}",
             what=what, model=f"{b.model}{size}", counts=", ".join(counts), credits=b.credits, status=status)


def batch_section(*, user: User, character: Character, settings: Settings) -> None:
    """The batch picker (newest first, the one just submitted selected) and the chosen batch's review."""
    with transaction() as conn:
        history = workspace.batch_history(conn, actor=user, character_id=character.id)
    if not history:
        st.info(_("No batches for this character yet: choose expressions above and press Generate."))
        return
    st.subheader(_("Batches"))
    watched = state.watched_batch(character.id)
    index = next((i for i, b in enumerate(history) if b.job_id == watched), 0)
    chosen: BatchSummary = st.selectbox(
        _("{n} batches of {name}, newest first", n=len(history), name=character.name) if len(history) != 1
        else _("1 batch of {name}", name=character.name), history,
        index=index, format_func=batch_label,
        help=_("Every batch keeps its images and reviews; pick one to see it."))
    if chosen.job_id != watched:
        state.watch_batch(job_id=chosen.job_id, character_id=character.id)
    _batch_view(user=user, character=character, settings=settings, summary=chosen)


def _undo(user: User) -> None:
    last = state.LAST_REVIEW.get()
    if last is not None and st.button(_("↶ Undo: {label}", label=last.label), key="undo-review", shortcut="U"):
        with transaction() as conn:
            jobs.undo_review(conn, actor=user, changes=last.changes)
        state.LAST_REVIEW.set(None)
        rerun_here()


def _progress_text(now: batches.Progress) -> str:
    parts = [_("{done} of {total} made", done=now.done, total=now.total)]
    if now.open:
        parts.append(_("{n} in progress", n=now.open))
    if now.failed:
        parts.append(_("{n} failed (refunded)", n=now.failed))
    if now.cancelled:
        parts.append(_("{n} cancelled (refunded)", n=now.cancelled))
    return " · ".join(parts)


def _cancel(user: User, summary: BatchSummary) -> None:
    with transaction() as conn:
        done = batches.cancel(conn, actor=user, job_id=summary.job_id)
    running = (" " + _("{n} already at the model will finish and be charged.", n=done.still_running)
               if done.still_running else "")
    state.FLASH.set(_n("Cancelled {n} image that had not been made;", "Cancelled {n} images that had not been made;",
                       done.images) + " " + _n("{n} credit refunded.", "{n} credits refunded.", done.credits)
                    + running)
    st.rerun()


def _batch_view(*, user: User, character: Character, settings: Settings, summary: BatchSummary) -> None:
    @st.fragment(run_every=1.0 if summary.open else None)
    def view() -> None:
        with transaction() as conn:
            shown = workspace.batch_view(conn, actor=user, job_id=summary.job_id)
        now = shown.progress
        _undo(user)
        st.progress(now.done / max(now.total - now.cancelled, 1), text=_progress_text(now))
        economy.waiting_line(shown)
        if now.open:
            st.caption(_("This updates by itself every second. You can leave the page: the workers carry on."))
            if st.button(_("Cancel the rest"), help=_("Images not made yet are cancelled and their credits refunded")):
                _cancel(user, summary)
        else:
            st.caption(_("✓ approve (picks that attempt for exports), ✗ reject (never exported), ↻ make it again "
                       "(a new attempt beside it), ⇆ compare full size with the base (keys: A, X, ←, →, Esc)."))
        review.review_grid(shown.differences, character=character, user=user, settings=settings,
                           inline=not now.open)
        if summary.open and not now.open:
            st.rerun()  # stop polling once everything has ended

    view()
