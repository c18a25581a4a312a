"""Start-up steps shared by `make run`, the CLI and workers: migrate, then seed the first admin."""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass

from sqlalchemy import Engine

from lib.accounts import users
from lib.core import db, migrations
from lib.core.settings import Settings

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SeededAdmin:
    email: str
    password: str | None  # set only when it was generated (shown once)


def prepare_database(settings: Settings) -> Engine:
    """The engine, with every migration applied."""
    engine = db.get_engine(settings)
    migrations.upgrade(engine)
    return engine


def seed_admin(engine: Engine, settings: Settings) -> SeededAdmin | None:
    """Create the demo admin on first run (no admin yet); None when one already exists."""
    with engine.begin() as conn:
        if users.count_admins(conn) > 0:
            return None
        generated = settings.studio_admin_password is None
        password = settings.studio_admin_password or secrets.token_urlsafe(12)
        users.create_user(
            conn, email=settings.studio_admin_email, password=password, role="admin", plan="pro",
            display_name="Studio admin",
        )
    log.info("created the first admin %s", settings.studio_admin_email)
    return SeededAdmin(email=settings.studio_admin_email, password=password if generated else None)
