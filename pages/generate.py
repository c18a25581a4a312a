"""Generate: pick expressions, see the cost, submit a batch to the workers, watch it fill in, review."""

import streamlit as st

from lib.catalog import characters
from lib.core.errors import StudioError
from lib.design import expressions
from lib.generation import batches, workspace
from lib.web import auth, resources, review, state, widgets

user = auth.require_user()
settings = resources.settings()
st.title("Generate")

with resources.transaction() as conn:
    context = workspace.generate_context(conn, actor=user, settings=settings)
if not context.characters:
    st.info("No characters yet. Create one on the Characters page first.")
    st.stop()
if not context.workers_alive:
    st.warning("No worker is running, so batches wait in the queue. `make run` starts one; "
               "staff can start more with `python -m lib worker`.")

balance = context.balance
character = st.selectbox("Character", context.characters, format_func=lambda c: c.name)
with resources.transaction() as conn:
    choices = workspace.expression_choices(conn, actor=user, character_id=character.id)
if broken := characters.base_problem(character, settings=settings):
    st.warning(broken)
    st.stop()
left, right = st.columns([1, 3])
left.image(widgets.object_image(character.base_key), caption="Approved base", width=180)
with right:
    preset = st.selectbox("Preset", list(expressions.PRESETS), format_func=widgets.words)
    keys = st.multiselect("Expressions", choices, default=list(expressions.PRESETS[preset]),
                          format_func=widgets.expression_label)
    variants = st.multiselect("Variants of each expression", list(expressions.VARIANTS),
                              format_func=widgets.words)
    model = st.selectbox("Model", context.models, help="Gemini models need GEMINI_API_KEY; "
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

with resources.transaction() as conn:
    quote = workspace.quote(conn, actor=user, character_id=character.id, keys=keys, variants=variants, model=model,
                            size=size, paste_back=paste, best_of=best_of, settings=settings)
if quote.error:
    widgets.show_error(quote.error)
images = quote.images
right.caption(f"**{images}** images · **{quote.credits}** credits · you have **{balance.available}** available "
              f"({balance.held} held by running batches, {balance.plan} plan)")
if right.button(f"Generate {images} image{'s' if images != 1 else ''}", type="primary",
                disabled=images == 0 or quote.request is None):
    try:
        with resources.transaction() as conn:
            submitted = batches.submit(conn, actor=user, character=character, request=quote.request,
                                       settings=settings)
        state.watch_batch(job_id=submitted.job_id, character_id=character.id)
        st.toast(f"Submitted {images} images ({submitted.credits_held} credits held)")
    except StudioError as exc:
        widgets.show_error(exc)

with resources.transaction() as conn:
    shown = workspace.latest_job(conn, actor=user, character_id=character.id,
                                 submitted=state.watched_batch(character.id))
if shown is None:
    st.info("No batches for this character yet: choose expressions above and press Generate.")
    st.stop()


@st.fragment(run_every=1.0 if shown.open else None)
def batch_view() -> None:
    with resources.transaction() as conn:
        view = workspace.batch_view(conn, actor=user, job_id=shown.job_id)
    now = view.progress
    st.subheader("Latest batch")
    st.progress(view.finished / max(now.total, 1), text=f"{view.finished} of {now.total} finished · {now.status}")
    if now.open:
        st.caption("This updates by itself every second. You can leave the page: the workers carry on.")
    elif now.done:
        st.caption("Review each image: ✓ approve (approved images win in exports), ✗ reject (never exported), "
                   "↻ make it again in a new batch.")
    if now.open and st.button("Cancel the rest", help="Items not started yet are cancelled and refunded"):
        with resources.transaction() as conn:
            batches.cancel(conn, actor=user, job_id=shown.job_id)
        st.rerun()
    if now.failed:
        st.warning(f"{now.failed} of {now.total} images failed and were refunded; the reasons are shown on each.")
    review.review_grid(view.differences, character=character, user=user, settings=settings)
    if shown.open and not now.open:
        st.rerun()  # stop polling once everything has ended


batch_view()
