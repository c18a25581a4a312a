"""Generate: pick a character, expressions and variants, run them, review the results."""

import streamlit as st

from lib import characters, custom_expressions, expressions, generation, ui
from lib.errors import StudioError

user = ui.require_user()
settings = ui.settings()
st.title("Generate")

with ui.transaction() as conn:
    mine = characters.list_characters(conn, actor=user)
if not mine:
    st.info("No characters yet. Create one on the Characters page first.")
    st.stop()

character = st.selectbox("Character", mine, format_func=lambda c: c.name)
with ui.transaction() as conn:
    own = custom_expressions.of_character(conn, actor=user, character_id=character.id)
left, right = st.columns([1, 3])
left.image(ui.object_image(character.base_key), caption="Approved base", width=180)
with right:
    preset = st.selectbox("Preset", list(expressions.PRESETS), format_func=lambda p: p.replace("_", " "))
    choices = [*expressions.LIBRARY, *(e.key for e in own)]
    keys = st.multiselect("Expressions", choices, default=list(expressions.PRESETS[preset]),
                          format_func=ui.expression_label)
    variants = st.multiselect("Variants of each expression", list(expressions.VARIANTS),
                              format_func=lambda v: v.replace("_", " "))
    gemini_ready = settings.gemini_api_key is not None
    backend_name = st.radio("Image backend", ["offline", "gemini"], horizontal=True,
                            index=["offline", "gemini"].index(settings.image_backend if gemini_ready else "offline"),
                            captions=["free, local drawing", settings.gemini_model if gemini_ready
                                      else "not configured (set GEMINI_API_KEY)"])
    total = len(keys) * (1 + len(variants))
    go = st.button(f"Generate {total} image{'s' if total != 1 else ''}", type="primary", disabled=total == 0
                   or (backend_name == "gemini" and not gemini_ready))

if go:
    try:
        with ui.transaction() as conn:
            chosen = custom_expressions.resolve(conn, actor=user, character_id=character.id, keys=keys)
            request = generation.JobRequest(
                expressions=chosen, variants=variants, backend=backend_name,
                model="offline" if backend_name == "offline" else settings.gemini_model,
                image_size=settings.gemini_image_size)
            job_id, item_ids = generation.create_job(conn, actor=user, character=character, request=request)
        progress = st.progress(0.0, text="Starting…")
        for done, status in generation.run_job_items(ui.engine(), ui.store(), ui.backend(backend_name),
                                                     item_ids=item_ids):
            progress.progress(done / len(item_ids), text=f"{done} of {len(item_ids)} finished (last: {status})")
        st.session_state["last_job"] = (str(job_id), character.id)
    except StudioError as exc:
        ui.show_error(exc)

last = st.session_state.get("last_job")
if last and last[1] == character.id:
    with ui.transaction() as conn:
        items = generation.job_items(conn, actor=user, job_id=last[0])
    failed = sum(i.status == "failed" for i in items)
    st.subheader("Latest batch")
    if failed:
        st.warning(f"{failed} of {len(items)} images failed; the reasons are shown on each.")
    ui.variant_grid(items, character=character)
