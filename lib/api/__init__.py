"""API: the studio's HTTP routes beside the Streamlit app (the Stripe webhook, a health check, signed file links).

Starlette routes that `studio_app.py` mounts on the studio's own port and `python -m lib billing
webhook` serves alone; `bodies` reads their request bodies as bounded streams and each runs
inside `boundary.guarded` (unexpected errors answer with an incident id). A face: may import the
domain packages and below; never Streamlit.
"""
