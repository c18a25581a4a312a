"""Characters: create one from a base image and its features, then rename or delete it."""

import streamlit as st
from streamlit.delta_generator import DeltaGenerator

from lib.catalog import characters
from lib.core.errors import StudioError
from lib.design.features import Features
from lib.generation import jobs
from lib.web import auth, face_editor, features_form, resources, review, state, widgets
from lib.web.i18n import _

user = auth.require_user()
settings = resources.settings()
st.title(_("Characters"))
widgets.show_flash()

show_all = user.is_admin and st.toggle(_("Show every user's characters"), help=_("Admins only"))
with resources.transaction() as conn:
    rows = characters.list_characters(conn, actor=user, any_owner=show_all)

if not rows:
    st.info(_("No characters yet. Create your first one below: give it a name, upload the approved base image "
            "and describe what must never change."))


def latest_variants_and_face_region(column: DeltaGenerator, character: characters.Character) -> None:
    with column.expander(_("Latest variants")):
        with resources.transaction() as conn:
            made = jobs.character_differences(conn, actor=user, character_id=character.id, limit=20)
        if made:
            review.difference_grid(made, character=character, columns=4)
        else:
            st.caption(_("None yet: open the Generate page."))
    with column.expander(_("Face region (what may change between expressions)")):
        face_editor.face_region_editor(character, user=user)


for character in rows:
    with st.container(border=True):
        left, right = st.columns([1, 3])
        broken = characters.base_problem(character, settings=settings)
        try:
            if not broken:
                left.image(widgets.object_image(character.base_key), width=160)
        except StudioError as exc:
            left.warning(_("Base image unavailable: {why}", why=widgets.escape_markdown(exc)))
        f = character.features
        right.subheader(widgets.escape_markdown(character.name))
        right.caption(f"{character.base_width}×{character.base_height} · {character.base_source} · "
                      f"created {character.created_at:%Y-%m-%d %H:%M}"
                      + (f" · owner {widgets.escape_markdown(character.owner_email)}" if show_all else ""))
        given = f.given()
        right.write(" · ".join(part for part in (
            "Hair " + " ".join(widgets.words(getattr(f, k)) for k in ("hair_length", "hair_style") if k in given)
            if {"hair_length", "hair_style"} & given else "",
            f"outfit: {widgets.escape_markdown(f.outfit)}" if "outfit" in given else "",
            widgets.escape_markdown(", ".join(map(widgets.words, f.accessories))) if f.accessories else "",
        ) if part) or "No features stated yet.")
        if character.face_unsure and not broken:
            right.warning(_("Confirm its face region (below) before the first batch."))
        if broken:
            right.warning(broken)
        if character.user_id != user.id:
            continue
        if not broken:
            latest_variants_and_face_region(right, character)
        with right.expander(_("Rename or delete")):
            with st.form(f"rename-{character.id}"):
                new_name = st.text_input(_("Name"), value=character.name)
                if st.form_submit_button(_("Rename")):
                    try:
                        with resources.transaction() as conn:
                            characters.rename_character(conn, actor=user, character_id=character.id, name=new_name)
                        st.rerun()
                    except StudioError as exc:
                        widgets.show_error(exc)
            sure = st.checkbox(_("I understand this deletes the character and all its variants"),
                               key=f"sure-{character.id}")
            if st.button(_("Delete"), key=f"delete-{character.id}", disabled=not sure, type="primary"):
                with resources.transaction() as conn:
                    deleted = characters.delete_character(conn, actor=user, character_id=character.id)
                characters.remove_objects(resources.store(), deleted)
                released = (f" Its unfinished images were cancelled and {deleted.released_credits} held credits "
                            "released." if deleted.released_credits else "")
                widgets.flash(f"Deleted {widgets.escape_markdown(character.name)}.{released}")
                st.rerun()

st.header(_("New character"))
version = state.NEW_CHARACTER_FORM.get()  # bumped after a success: a fresh, empty form


def key(name: str) -> str:
    return f"new-character-{name}-{version}"


st.caption(_("Give the base in one of two ways: upload the approved image, **or** tick the box below to draw one."))
upload = st.file_uploader(_("Approved base image (PNG, JPEG or WebP; up to 20 MB, 40 megapixels; at least {side} px a "
                            "side, at most {aspect:g} to 1)", side=settings.min_upload_side,
                            aspect=settings.max_upload_aspect),
                          type=["png", "jpg", "jpeg", "webp"], key=key("upload"))
inspected, face_box, refused, prefill = None, None, False, Features()
if upload is not None:
    try:
        inspected = face_editor.inspect(upload.getvalue(), settings)
    except StudioError as exc:
        widgets.show_error(exc)
        refused = True
    else:
        face_box = face_editor.proposed_face(inspected, key=key(f"face-{upload.file_id}"))
        prefill = face_editor.described(upload.file_id) or inspected.features
        face_editor.describe_button(inspected, upload.file_id, user=user, settings=settings)
source = f"{upload.file_id}-{face_editor.described_version(upload.file_id)}" if inspected and upload else "none"

with st.form("create-character", clear_on_submit=False):
    name = st.text_input(_("Name"), max_chars=100, placeholder=_("e.g. Sakura"), key=key("name"))
    draw_base = st.checkbox(_("No image yet: draw the base from the features below (offline renderer)"),
                            key=key("draw"))
    st.markdown("**Features** · what must never change between expressions"
                + (" · read from the picture: check them" if inspected else ""))
    chosen = features_form.features_inputs(prefill, lambda field: key(f"{field}-{source}"))
    submitted = st.form_submit_button(_("Create character"), type="primary")

if submitted and not (refused and not draw_base):  # a refused upload already says why
    try:
        with resources.transaction() as conn:
            created = characters.create_with_base(
                conn, resources.store(), actor=user, name=name, upload=None if upload is None else upload.getvalue(),
                draw_base=draw_base, settings=settings, features=chosen, face_box=face_box)
    except StudioError as exc:
        widgets.show_error(exc)
    else:
        state.NEW_CHARACTER_FORM.set(version + 1)
        then = (_("Next: confirm its face region below, then open the Generate page.") if created.face_unsure
                else _("Next: open the Generate page to make its expressions."))
        widgets.flash(_("Created {name}. {then}", name=widgets.escape_markdown(created.name), then=then))
        st.rerun()
