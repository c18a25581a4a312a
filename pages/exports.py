"""Exports: download a character's set as ZIP, layered PSD, Ren'Py, PNGtuber or SillyTavern."""


import streamlit as st

from lib.catalog import characters
from lib.core.errors import StudioError
from lib.exports import FORMATS
from lib.exports import sets as export_sets
from lib.web import auth, resources, widgets
from lib.web.i18n import _

user = auth.require_user()
st.title(_("Exports"))

with resources.transaction() as conn:
    mine = characters.list_characters(conn, actor=user)
if not mine:
    st.info(_("No characters yet. Create one on the Characters page, generate its expressions, then export here."))
    st.stop()

character = st.selectbox(_("Character"), mine, format_func=lambda c: c.name)
approved_only = st.toggle(_("Approved images only"), help=_("Approve images in the review grid on the Generate page"))
try:
    with resources.transaction() as conn:
        preview = export_sets.preview(conn, actor=user, character_id=character.id, approved_only=approved_only)
except StudioError as exc:
    widgets.show_error(exc)
    st.stop()

st.caption(_("{images} images: {expressions} expressions ({mouth} with mouth open, {blink} with blink). The newest "
             "image of each is used; approved images win over newer unreviewed ones, rejected images never ship.",
             images=len(preview.items), expressions=preview.expressions, mouth=preview.count("mouth_open"),
             blink=preview.count("blink")))


for fmt, spec in FORMATS.items():
    left, right = st.columns([3, 1], vertical_alignment="center")
    left.markdown(_("**{fmt}** · {description}", fmt=fmt, description=spec.description))
    # A plain link: the studio builds the file when it is opened, so the first click downloads it.
    right.html(widgets.download_link(
        _("Download {fmt}", fmt=fmt), what={"export": {"character": str(character.id), "format": fmt,
                                           "approved_only": approved_only,
                                           "filename": f"{preview.slug}{spec.suffix}"}}))
