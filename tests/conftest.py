"""Shared fixtures: a real Postgres database per test session, a rolled-back transaction per test.

With TEST_DATABASE_URL set (CI: the server at 127.0.0.1:5432) a fresh database is created on that
server; without it an embedded server is started in a temporary directory.
"""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy import Connection, Engine

from lib.accounts import users
from lib.core import db, migrations
from lib.core import settings as settings_module
from lib.core.storage import LocalStore

ROOT = Path(__file__).resolve().parent.parent
COOKIE_KEY = secrets.token_hex(32)
PASSWORD = "correct-horse-battery"
# Report rollup tables without a user column: deleting users leaves their rows, so tests that commit truncate them.
PLAN_LEVEL_TABLES = ("usage_daily_plan, usage_latency_daily_plan, usage_latency_daily_total, usage_monthly_plan, "
                     "usage_latency_monthly_plan, revenue_monthly")


def _server_url() -> str:
    if os.environ.get("TEST_DATABASE_URL"):
        return db.sqlalchemy_url(os.environ["TEST_DATABASE_URL"])
    home = Path(tempfile.mkdtemp(prefix="studio-test-pg-"))
    return db.sqlalchemy_url(db.embedded_server(home / "pgdata").get_uri())


def create_database(server_url: str, name: str) -> str:
    """Create an empty database on the server and return its URL."""
    admin = sa.create_engine(server_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    admin.dispose()
    return sa.make_url(server_url).set(database=name).render_as_string(hide_password=False)


def drop_database(server_url: str, name: str) -> None:
    admin = sa.create_engine(server_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    admin.dispose()


@pytest.fixture(scope="session")
def server_url() -> str:
    return _server_url()


@pytest.fixture(scope="session")
def database_url(server_url: str) -> Iterator[str]:
    name = f"studio_test_{uuid.uuid4().hex[:10]}"
    url = create_database(server_url, name)
    yield url
    db.dispose_engines()
    drop_database(server_url, name)


@pytest.fixture(scope="session")
def engine(database_url: str) -> Iterator[Engine]:
    eng = sa.create_engine(database_url)
    migrations.upgrade(eng)
    yield eng
    eng.dispose()


@pytest.fixture
def conn(engine: Engine) -> Iterator[Connection]:
    """A connection inside a transaction that is rolled back after the test."""
    with engine.connect() as connection:
        outer = connection.begin()
        yield connection
        outer.rollback()


@pytest.fixture
def store(tmp_path: Path) -> LocalStore:
    return LocalStore(tmp_path / "objects")


@pytest.fixture(autouse=True)
def isolated_settings(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    """No test reads the developer's secrets file or environment."""
    monkeypatch.setattr(settings_module, "SECRETS_FILE", tmp_path / "no-secrets.toml")
    for name in ("DATABASE_URL", "S3_BUCKET", "S3_ENDPOINT_URL", "STUDIO_COOKIE_KEY", "STUDIO_HOME",
                 "STUDIO_ADMIN_PASSWORD", "STUDIO_ADMIN_EMAIL", "PORT", "CONSISTENCY_THRESHOLD"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(users, "BCRYPT_ROUNDS", 4)  # fast hashes; the format is the same
    settings_module.get_settings.cache_clear()
    yield
    settings_module.get_settings.cache_clear()


@pytest.fixture
def make_user(conn: Connection):
    """Create users inside the test transaction."""

    def make(email: str | None = None, *, role: str = "member", plan: str = "free") -> users.User:
        return users.create_user(conn, email=email or f"u{uuid.uuid4().hex[:8]}@example.com", password=PASSWORD,
                                 role=role, plan=plan)

    return make


TABLES = ("credit_transactions", "differences", "generation_jobs", "custom_expressions", "characters",
          "user_credits", "login_failures")


@pytest.fixture
def committed_env(engine: Engine, database_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Path]:
    """Environment for code that opens its own connections (pages, CLI): committed data, wiped after."""
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setenv("STUDIO_HOME", str(tmp_path / "studio"))
    monkeypatch.setenv("STUDIO_COOKIE_KEY", COOKIE_KEY)
    settings_module.get_settings.cache_clear()
    import streamlit as st

    st.cache_resource.clear()  # engines and stores follow this test's settings
    st.cache_data.clear()
    yield tmp_path / "studio"
    wipe(engine)


def wipe(engine: Engine) -> None:
    """Empty every table a test may have committed to, keeping the seeded plans and template 1."""
    with engine.begin() as conn:
        conn.exec_driver_sql(f"TRUNCATE {', '.join(TABLES)} CASCADE")
        # After the jobs are gone: a job keeps the template version it used (foreign key).
        conn.exec_driver_sql("DELETE FROM prompt_templates WHERE version > 1")
        conn.exec_driver_sql("UPDATE prompt_templates SET is_active = (version = 1)")
        conn.exec_driver_sql("DELETE FROM users")  # not TRUNCATE: that would cascade to prompt_templates
        conn.exec_driver_sql("TRUNCATE procrastinate_jobs, procrastinate_workers CASCADE")
        conn.exec_driver_sql("TRUNCATE usage_daily, usage_daily_plan, usage_latency_daily, usage_latency_daily_plan")
        conn.exec_driver_sql("UPDATE usage_rollup_state SET watermark = NULL, refreshed_at = NULL")


@pytest.fixture
def accounts(committed_env: Path, engine: Engine) -> tuple[users.User, users.User]:
    """An admin (boss@example.com) and a member (mei@example.com), committed, for page tests."""
    with engine.begin() as conn:
        admin = users.create_user(conn, email="boss@example.com", password=PASSWORD, role="admin")
        member = users.create_user(conn, email="mei@example.com", password=PASSWORD)
    return admin, member


@pytest.fixture
def studio(engine: Engine, database_url: str, tmp_path: Path) -> Iterator[Studio]:
    """Committed data plus a way to start real worker processes on the test database; wiped afterwards."""
    home = tmp_path / "studio"
    env = {k: v for k, v in os.environ.items() if k not in ("TEST_DATABASE_URL",)}
    env |= {"DATABASE_URL": database_url, "STUDIO_HOME": str(home), "STUDIO_COOKIE_KEY": COOKIE_KEY,
            "WORKER_HEARTBEAT_SECONDS": "1", "WORKER_STALL_SECONDS": "4", "WORKER_CONCURRENCY": "4",
            "GEMINI_BACKOFF_INITIAL_SECONDS": "0.05", "GEMINI_BACKOFF_MAX_SECONDS": "0.2"}
    running = Studio(engine=engine, store=LocalStore(home / "objects"), env=env, home=home)
    yield running
    running.stop_workers()
    wipe(engine)


class Studio:
    """The pieces a test of background work needs."""

    def __init__(self, *, engine: Engine, store: LocalStore, env: dict[str, str], home: Path) -> None:
        self.engine, self.store, self.env, self.home = engine, store, env, home
        self.workers: list[subprocess.Popen] = []
        self.settings = settings_module.load_settings(
            database_url=env["DATABASE_URL"], studio_home=home, worker_stall_seconds=4.0)

    def start_worker(self, **extra_env: str) -> subprocess.Popen:
        self.home.mkdir(parents=True, exist_ok=True)
        log = (self.home / f"worker-{len(self.workers)}.log").open("w")
        process = subprocess.Popen([sys.executable, "-m", "lib", "worker"], cwd=ROOT, env=self.env | extra_env,
                                   stdout=log, stderr=subprocess.STDOUT)
        log.close()
        self.workers.append(process)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:  # ready once it has registered its first heartbeat
            with self.engine.connect() as conn:
                seen = conn.exec_driver_sql("SELECT count(*) FROM procrastinate_workers").scalar_one()
            if seen >= sum(p.poll() is None for p in self.workers):
                return process
            assert process.poll() is None, f"the worker exited:\n{self.logs()}"
            time.sleep(0.1)
        raise AssertionError(f"the worker did not register:\n{self.logs()}")

    def stop_workers(self) -> None:
        for process in self.workers:
            if process.poll() is None:
                process.terminate()
        for process in self.workers:
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()

    def logs(self) -> str:
        return "\n".join(p.read_text() for p in sorted(self.home.glob("worker-*.log")))


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo) -> Iterator[pytest.TestReport]:
    """Keep each phase's report on the test item, so fixtures can react to a failure (browser screenshots)."""
    report = yield
    setattr(item, f"rep_{report.when}", report)
    return report
