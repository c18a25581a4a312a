"""Economy batches on the Generate page: the Standard / Economy choice and the "waiting for Gemini" line."""

from __future__ import annotations

import streamlit as st

from lib.core.settings import Settings
from lib.generation.workspace import BatchView
from lib.web.i18n import _

STATES = {"JOB_STATE_QUEUED": "queued", "JOB_STATE_PENDING": "pending",
          "JOB_STATE_RUNNING": "running"}


def tier_choice(*, model: str, settings: Settings) -> str:
    """A "Standard" / "Economy" radio beside the other choices; offline batches are always standard."""
    economy = _("Economy (−{percent} %, ready within 24 h)", percent=100 - settings.economy_credit_percent)
    labels = {"standard": _("Standard"), "economy": economy}
    return st.radio(_("Speed"), list(labels), format_func=labels.__getitem__, horizontal=True, key="tier",
                    disabled=model == "offline",
                    help=_("Economy sends the whole batch to Gemini's Batch API at half Gemini's price: fewer "
                           "credits, and the images arrive when Gemini has run the batch (usually well within a day). "
                           "A best-of retry of an economy image is made at once, at the standard price."))


def waiting_line(view: BatchView) -> None:
    """While an economy batch waits for Gemini: since when, in which state, and progress when Gemini reports it."""
    for batch in view.waiting:
        if batch.resolved:
            continue
        state = _(STATES.get(batch.state, batch.state.removeprefix("JOB_STATE_").lower()))
        if batch.submitted_at is None:
            text = _("sending {n} images to Gemini as one batch…", n=batch.items)
        else:
            text = _("waiting for Gemini's batch (submitted {since}) · {n} images · {state}",
                     since=batch.submitted_at.strftime("%H:%M"), n=batch.items, state=state)
        progress = batch.progress or {}
        finished = int(progress.get("successful_count") or 0) + int(progress.get("failed_count") or 0)
        total = finished + max(int(progress.get("incomplete_count") or 0), 0)
        if total:
            st.progress(min(finished / total, 1.0), text=text)
        else:
            st.caption(":material/hourglass_top: " + text)
