"""The web package: the only part of lib/ that imports Streamlit.

It owns what the Streamlit pages share: cached resources (`resources`: settings, engine, object store,
image backends, one transaction per action), the sign-in gate (`auth`), typed session state (`state`),
and shared widgets (`widgets`, the review grid in `review`, the face-region editor in `face_editor`).
It may import any lib package; nothing imports it except app.py, studio_app.py and pages/. Business
rules live in the domain packages: a widget here calls one lib function per user action.
"""
