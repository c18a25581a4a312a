"""Incidents: an unexpected error becomes a short id for the person and a full traceback in the log.

Every face (a page, an API route, a CLI command) has one boundary that calls `record` for anything
that is not a `StudioError`, shows only the incident id, and logs the traceback under that id, so a
person never sees SQL, file paths or stack frames, and staff can still find the details.
"""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass

import psycopg
import sqlalchemy.exc

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Incident:
    id: str
    database_down: bool

    def message(self) -> str:
        """One sentence for a person: what happened in their words, and the id to quote."""
        if self.database_down:
            return f"The database is not reachable right now; try again in a moment (incident {self.id})."
        return f"Something went wrong (incident {self.id}). The details are in the studio's log."


def database_unreachable(exc: BaseException) -> bool:
    """True when the error means the database server cannot be reached (not a failed statement)."""
    if isinstance(exc, sqlalchemy.exc.DBAPIError):
        if exc.connection_invalidated:
            return True
        exc = exc.orig if exc.orig is not None else exc
    # psycopg raises the base OperationalError for refused or lost connections; its subclasses
    # (QueryCanceled, LockNotAvailable, ...) are statements that failed on a live server.
    return type(exc) is psycopg.OperationalError


def record(exc: BaseException, *, where: str) -> Incident:
    """Log `exc` with its traceback under a new incident id (8 hex characters) and return the incident."""
    incident = Incident(id=secrets.token_hex(4), database_down=database_unreachable(exc))
    log.error("incident %s in %s: %s", incident.id, where, type(exc).__name__, exc_info=exc)
    return incident
