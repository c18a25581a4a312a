"""Alarms: health checks over a sliding window, evaluated by a periodic worker task, admins told per transition.

Each check reads Postgres and compares one value with its threshold (settings). The state of every check
is kept in `alarm_states` (ok, or firing since when); a check that turns (ok → firing, firing → ok) is
written to `alarm_events` and told to every active admin once — by email when SMTP_URL is set, else in the
log (and on the Health page either way). Checks:

- `gemini_error_rate`: share of Gemini images that ended in the window failing for the service's or the
  model's reasons (rate limits, server errors, timeouts, no image, …; content refusals are the user's
  business), once at least ALARM_MIN_IMAGES ended; fires above ALARM_GEMINI_ERROR_RATE.
- `database_connections`: connections open against the server's max_connections; above ALARM_DB_CONNECTIONS.
- `queue_waiting`: the oldest waiting image has waited longer than ALARM_QUEUE_WAIT_SECONDS (no worker, or
  too few for the work).
- `api_error_rate`: share of REST API requests answered with a server error (5xx), once at least
  ALARM_MIN_CALLS were made in the window; fires above ALARM_API_ERROR_RATE.
- `api_latency`: share of REST API requests slower than ALARM_API_SLOW_SECONDS; fires above 5 % (the 95th
  percentile is slower than that).
- `storage_error_rate`: share of object-storage operations that failed (a missing object is an answer);
  fires above ALARM_STORAGE_ERROR_RATE.

The API and storage counts come from `service_calls`, which every process adds to (lib/core/service_calls.py).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from email.message import EmailMessage

from sqlalchemy import Connection, Engine, Row

from lib.core.queries import q
from lib.core.settings import Settings
from lib.notifications.delivery import send_email

log = logging.getLogger(__name__)
SLOW_SHARE = 0.05  # more than this share slower than ALARM_API_SLOW_SECONDS: the 95th percentile is slower
GEMINI_ERROR_KINDS = ["rate_limited", "server_error", "timeout", "client_error", "no_image", "corrupt_image",
                      "text_only"]


@dataclass(frozen=True)
class Reading:
    name: str
    value: float | None  # None: not enough data to judge (counts as ok)
    threshold: float
    firing: bool
    says: str  # the reading in words


@dataclass(frozen=True)
class Transition:
    reading: Reading
    notified: str  # "email" or "log"


def _gemini(conn: Connection, settings: Settings) -> Reading:
    row = conn.execute(q("alarm_gemini_errors"), {"kinds": GEMINI_ERROR_KINDS,
                                                   "window_seconds": settings.alarm_window_seconds}).one()
    limit = settings.alarm_gemini_error_rate
    if row.ended < settings.alarm_min_images:
        return Reading("gemini_error_rate", None, limit, False,
                       f"{row.ended} Gemini images ended in the window (too few to judge)")
    rate = row.errors / row.ended
    return Reading("gemini_error_rate", rate, limit, rate > limit,
                   f"{row.errors} of {row.ended} Gemini images failed ({rate:.0%}; alarm above {limit:.0%})")


def _connections(conn: Connection, settings: Settings) -> Reading:
    row = conn.execute(q("alarm_connections")).one()
    share, limit = row.used / row.max, settings.alarm_db_connections
    return Reading("database_connections", share, limit, share > limit,
                   f"{row.used} of {row.max} connections open ({share:.0%}; alarm above {limit:.0%})")


def _queue(conn: Connection, settings: Settings) -> Reading:
    waited, limit = float(conn.execute(q("alarm_oldest_waiting")).scalar_one()), settings.alarm_queue_wait_seconds
    return Reading("queue_waiting", waited, limit, waited > limit,
                   f"the oldest waiting image has waited {waited:.0f} s (alarm above {limit:.0f} s)")


def _service_calls(conn: Connection, settings: Settings, service: str) -> Row:
    return conn.execute(q("service_calls_window"), {"service": service,
                                                    "window_seconds": settings.alarm_window_seconds}).one()


def _share(name: str, row: Row, part: int, limit: float, settings: Settings, what: str,
           says: Callable[[float], str]) -> Reading:
    """`part` of a service's calls in the window against `limit`, once enough calls were made to judge."""
    if row.calls < settings.alarm_min_calls:
        return Reading(name, None, limit, False, f"{row.calls} {what} in the window (too few to judge)")
    share = part / row.calls
    return Reading(name, share, limit, share > limit, says(share))


def _services(conn: Connection, settings: Settings) -> list[Reading]:
    """The REST API's server errors and slow answers, and failed storage operations (one read per service)."""
    api, store = _service_calls(conn, settings, "api"), _service_calls(conn, settings, "storage")
    errors, slow = settings.alarm_api_error_rate, settings.alarm_api_slow_seconds
    failed = settings.alarm_storage_error_rate
    return [
        _share("api_error_rate", api, api.errors, errors, settings, "API requests", lambda r: (
            f"{api.errors} of {api.calls} API requests failed with a server error ({r:.0%}; "
            f"alarm above {errors:.0%})")),
        _share("api_latency", api, api.slow, SLOW_SHARE, settings, "API requests", lambda r: (
            f"{api.slow} of {api.calls} API requests took longer than {slow:g} s ({r:.0%}; alarm when the 95th "
            f"percentile passes {slow:g} s, i.e. above {SLOW_SHARE:.0%})")),
        _share("storage_error_rate", store, store.errors, failed, settings, "storage operations", lambda r: (
            f"{store.errors} of {store.calls} storage operations failed ({r:.1%}; alarm above {failed:.1%})")),
    ]


CHECKS: tuple[Callable[[Connection, Settings], Reading], ...] = (_gemini, _connections, _queue)
Mailer = Callable[[Settings, EmailMessage], None]


def read(conn: Connection, settings: Settings) -> list[Reading]:
    """Every check's reading now, without recording anything (the Health page)."""
    return [check(conn, settings) for check in CHECKS] + _services(conn, settings)


def evaluate(engine: Engine, settings: Settings, *, mailer: Mailer = send_email) -> list[Transition]:
    """Read every check, record the states, and tell admins about each check that turned."""
    transitions = []
    with engine.begin() as conn:
        readings = read(conn, settings)
        admins = list(conn.execute(q("active_admin_emails")).scalars())
        for reading in readings:
            before = conn.execute(q("upsert_alarm_state"), {"name": reading.name, "firing": reading.firing,
                                                             "value": reading.value}).scalar()
            unchanged = reading.firing is False if before is None else before == reading.firing
            if unchanged:  # a first reading that is ok, or no change
                continue
            notified = _tell(settings, mailer, admins, reading)
            conn.execute(q("insert_alarm_event"), {"name": reading.name, "firing": reading.firing,
                                                   "value": reading.value, "notified": notified})
            transitions.append(Transition(reading, notified))
    return transitions


def _tell(settings: Settings, mailer: Mailer, admins: list[str], reading: Reading) -> str:
    state = "FIRING" if reading.firing else "resolved"
    log.warning("alarm %s %s: %s", reading.name, state, reading.says)
    if settings.smtp_url is None or not admins:
        return "log"
    message = EmailMessage()
    message["From"], message["To"] = settings.smtp_from, ", ".join(admins)
    message["Subject"] = f"Miyabi Character Studio alarm {state}: {reading.name}"
    message.set_content(f"{reading.name} is {state}: {reading.says}.\n\n"
                        f"Health page: {settings.studio_public_url.rstrip('/')}/admin_health\n")
    try:
        mailer(settings, message)
    except Exception as exc:  # noqa: BLE001 - an alarm that cannot be mailed is still recorded and logged
        log.error("alarm email for %s not sent: %s", reading.name, exc)
        return "log"
    return "email"
