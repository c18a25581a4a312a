"""One process for the studio and its Stripe webhook: `streamlit run studio_app.py` (Streamlit 1.67 st.App).

Streamlit serves app.py exactly as `streamlit run app.py` would, plus on the same port: the routes of
lib/api/webhook.py (`POST /api/v1/stripe/webhook`, `GET /healthz`), lib/api/files.py (`GET /files/{token}`:
the images and exports pages link to), lib/api/metrics.py (`GET /metrics`) and the REST API of
lib/api/rest.py (`/api/v1/…`). st.App is experimental: if it changes, serve the same routes as a second
process instead (`python -m lib billing webhook` does so for the webhook).
"""

import streamlit as st
from starlette.routing import Mount

from lib.api import files, metrics, rest
from lib.api import webhook as webhook_app
from lib.core import db, logs, service_calls
from lib.core.settings import get_settings

settings = get_settings()
logs.configure(settings)  # LOG_FORMAT, secrets scrubbed (Streamlit's own loggers keep their handler)
service_calls.start_flushing(lambda: db.get_engine(settings))  # API requests and storage operations, counted
app = st.App("app.py", routes=[*webhook_app.routes(settings), *files.routes(settings), *metrics.routes(settings),
                               Mount(rest.PREFIX, app=rest.create_api(settings))])
