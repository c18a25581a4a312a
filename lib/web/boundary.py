"""The pages' error boundary: an unexpected error shows a short message with an incident id, never a traceback.

app.py runs the sign-in gate and the chosen page (`st.navigation(...).run()` executes the page script in
the entrypoint's run, so the page's exceptions pass through here) inside `with boundary():`. Expected
errors (`StudioError`) show their own message, as pages show them; anything else is logged with its
traceback under the incident id. Streamlit's own `client.showErrorDetails = "none"` covers what escapes
(a fragment's rerun, which does not pass through the entrypoint).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import streamlit as st

from lib.core import incidents
from lib.core.errors import StudioError


@contextmanager
def boundary(where: str = "web page") -> Iterator[None]:
    """Show errors raised inside as one short message (st.stop/st.rerun pass through: they are not Exceptions)."""
    try:
        yield
    except StudioError as exc:
        st.error(str(exc))
    except Exception as exc:  # noqa: BLE001 - the page's error boundary
        st.error(incidents.record(exc, where=where).message())
