"""Generate: pick expressions, see the cost, submit a batch to the workers, watch it fill in, review."""

import streamlit as st

from lib.catalog import characters, custom_expressions
from lib.core.errors import StudioError
from lib.credits import ledger
from lib.design import expressions
from lib.generation import batches, jobs
from lib.web import auth, resources, review, state, widgets

user = auth.require_user()
settings = resources.settings()
st.title("Generate")

with resources.transaction() as conn:
    mine = characters.list_characters(conn, actor=user)
    balance = ledger.balance(conn, user_id=user.id)
    workers = batches.workers_alive(conn, within_seconds=settings.worker_stall_seconds)
if not mine:
    st.info("No characters yet. Create one on the Characters page first.")
    st.stop()
if not workers:
    st.warning("No worker is running, so batches wait in the queue. `make run` starts one; "
               "staff can start more with `python -m lib worker`.")

character = st.selectbox("Character", mine, format_func=lambda c: c.name)
with resources.transaction() as conn:
    own = custom_expressions.of_character(conn, actor=user, character_id=character.id)
left, right = st.columns([1, 3])
left.image(widgets.object_image(character.base_key), caption="Approved base", width=180)
with right:
    preset = st.selectbox("Preset", list(expressions.PRESETS), format_func=widgets.words)
    keys = st.multiselect("Expressions", [*expressions.LIBRARY, *(e.key for e in own)],
                          default=list(expressions.PRESETS[preset]), format_func=widgets.expression_label)
    variants = st.multiselect("Variants of each expression", list(expressions.VARIANTS),
                              format_func=widgets.words)
    gemini_models = [m for m in balance.allowed_models if m != "offline"] if settings.gemini_api_key else []
    model = st.selectbox("Model", ["offline", *gemini_models], help="Gemini models need GEMINI_API_KEY; "
                         "your plan decides which ones you can use.")
    size = st.selectbox("Size", balance.allowed_sizes, index=len(balance.allowed_sizes) - 1,
                        disabled=model == "offline")
    paste_col, best_col = st.columns(2)
    paste = paste_col.toggle("Paste the new face back into the base", value=True,
                             help="Everything outside the face region stays pixel-identical to the base, so the "
                                  "set stacks as layers. The raw model output is kept as well.")
    best_of = best_col.number_input("Attempts while the score is low (best of)", min_value=1, max_value=5,
                                    value=1, help=f"Regenerate an image scoring below "
                                    f"{settings.consistency_threshold:.0f}; every attempt is charged and shown.")

request = None
try:
    with resources.transaction() as conn:
        chosen = custom_expressions.resolve(conn, actor=user, character_id=character.id, keys=keys) if keys else []
        request = jobs.JobRequest(expressions=chosen, variants=variants,
                                        backend="offline" if model == "offline" else "gemini", model=model,
                                        image_size=size, paste_back=paste, best_of=int(best_of))
        images, cost = batches.estimate(conn, actor=user, request=request, settings=settings)
except StudioError as exc:
    widgets.show_error(exc)
    images, cost = 0, 0
right.caption(f"**{images}** images · **{cost}** credits · you have **{balance.available}** available "
              f"({balance.held} held by running batches, {balance.plan} plan)")
if right.button(f"Generate {images} image{'s' if images != 1 else ''}", type="primary",
                disabled=images == 0 or request is None):
    try:
        with resources.transaction() as conn:
            submitted = batches.submit(conn, actor=user, character=character, request=request, settings=settings)
        state.watch_batch(job_id=submitted.job_id, character_id=character.id)
        st.toast(f"Submitted {images} images ({submitted.credits_held} credits held)")
    except StudioError as exc:
        widgets.show_error(exc)

job_id = state.watched_batch(character.id)
if job_id is None:
    with resources.transaction() as conn:
        latest = jobs.recent_jobs(conn, actor=user, character_id=character.id, limit=1)
    job_id = latest[0].id if latest else None
if job_id is None:
    st.info("No batches for this character yet: choose expressions above and press Generate.")
    st.stop()

with resources.transaction() as conn:
    still_open = batches.progress(conn, actor=user, job_id=job_id).open > 0


@st.fragment(run_every=1.0 if still_open else None)
def batch_view() -> None:
    with resources.transaction() as conn:
        now = batches.progress(conn, actor=user, job_id=job_id)
        items = jobs.job_differences(conn, actor=user, job_id=job_id)
    st.subheader("Latest batch")
    finished = now.done + now.failed
    st.progress(finished / max(now.total, 1), text=f"{finished} of {now.total} finished · {now.status}")
    if now.open:
        st.caption("This updates by itself every second. You can leave the page: the workers carry on.")
    elif now.done:
        st.caption("Review each image: ✓ approve (approved images win in exports), ✗ reject (never exported), "
                   "↻ make it again in a new batch.")
    if now.open and st.button("Cancel the rest", help="Items not started yet are cancelled and refunded"):
        with resources.transaction() as conn:
            batches.cancel(conn, actor=user, job_id=job_id)
        st.rerun()
    if now.failed:
        st.warning(f"{now.failed} of {now.total} images failed and were refunded; the reasons are shown on each.")
    review.review_grid(items, character=character, user=user, settings=settings)
    if still_open and not now.open:
        st.rerun()  # stop polling once everything has ended


batch_view()
