"""Generate: pick expressions, see the cost, submit a batch to the workers, watch it fill in, review."""

import streamlit as st

from lib.catalog import characters
from lib.design import expressions
from lib.generation import batches, workspace
from lib.web import auth, economy, history, resources, review, widgets
from lib.web.i18n import _, _n

user = auth.require_user()
settings = resources.settings()
st.title(_("Generate"))
widgets.show_flash()

with resources.transaction() as conn:
    context = workspace.generate_context(conn, actor=user, settings=settings)
if not context.characters:
    st.info(_("No characters yet. Create one on the Characters page first."))
    st.stop()
if not context.workers_alive:
    st.warning(_("No worker is running, so batches wait in the queue. `make run` starts one; "
               "staff can start more with `python -m lib worker`."))

balance = context.balance
character = st.selectbox(_("Character"), context.characters, format_func=lambda c: c.name)
with resources.transaction() as conn:
    choices = workspace.expression_choices(conn, actor=user, character_id=character.id)
if broken := characters.base_problem(character, settings=settings):
    st.warning(broken)
    st.stop()
left, right = st.columns([1, 3])
left.image(widgets.thumbnail_image(character.base_key), caption=_("Approved base"), width=180)
with right:
    preset = st.selectbox(_("Preset"), list(expressions.PRESETS), format_func=widgets.words)
    keys = st.multiselect(_("Expressions"), choices, default=list(expressions.PRESETS[preset]),
                          format_func=widgets.expression_label, placeholder=_("Choose expressions"))
    variants = st.multiselect(_("Variants of each expression"), list(expressions.VARIANTS),
                              format_func=widgets.variant_label, placeholder=_("None: expressions only"))
    model = st.selectbox(_("Model"), context.models, help=_("Gemini models need GEMINI_API_KEY; "
                         "your plan decides which ones you can use."))
    size = st.selectbox(_("Size"), balance.allowed_sizes, index=len(balance.allowed_sizes) - 1,
                        disabled=model == "offline")
    tier = economy.tier_choice(model=model, settings=settings)
    paste_col, best_col = st.columns(2)
    paste = paste_col.toggle(_("Paste the new face back into the base"), value=True,
                             help=_("Everything outside the face region stays pixel-identical to the base, so the "
                                  "set stacks as layers. The raw model output is kept as well."))
    best_of = best_col.number_input(_("Attempts while the score is low (best of)"), min_value=1, max_value=5,
                                    value=1, help=_("Regenerate an image scoring below {threshold:.0f}; every "
                                                    "attempt is charged and shown.",
                                                    threshold=settings.consistency_threshold))

with resources.transaction() as conn:
    quote = workspace.quote(conn, actor=user, character_id=character.id, keys=keys, variants=variants, model=model,
                            size=size, paste_back=paste, best_of=best_of, settings=settings, tier=tier)
held = _(", {n} held by running batches", n=balance.held) if balance.held else ""
right.caption(_("**{images}** images · **{credits}** credits · you have **{available}** available{held} · the {plan} "
                "plan makes up to {most} images per batch", images=quote.images, credits=quote.credits,
                available=balance.available, held=held, plan=balance.plan, most=balance.max_batch_size))
go, split = right.columns([1, 2], vertical_alignment="center")
if quote.blocked:  # beside the disabled button, or under the split button that gets past it
    (right if quote.parts else split).warning(quote.blocked, icon=":material/block:")
if go.button(_n("Generate {n} image", "Generate {n} images", quote.images), type="primary",
             disabled=quote.blocked is not None, key="generate"):
    review.submit(lambda conn: [batches.submit(conn, actor=user, character=character, request=quote.request,
                                               settings=settings)], character=character)
if quote.parts and split.button(_("Generate as {n} batches ({sizes})", n=len(quote.parts),
                                  sizes=" + ".join(map(str, quote.parts))), key="generate-split"):
    review.submit(lambda conn: batches.submit_split(conn, actor=user, character=character, request=quote.request,
                                                    settings=settings), character=character)
history.batch_section(user=user, character=character, settings=settings)
