"""`make run`'s process from nothing: embedded Postgres, migrations, first admin, web app, shared by the CLI."""

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from lib.core import migrations

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_healthy(url: str, process: subprocess.Popen, log: Path, timeout: float = 90) -> float:
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        assert process.poll() is None, f"the studio exited during start-up:\n{log.read_text()}"
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return time.monotonic() - start
        except OSError:
            time.sleep(0.25)
    raise AssertionError(f"{url} not healthy after {timeout} s")


def postgres_running(pgdata: Path) -> bool:
    pid_file = pgdata / "postmaster.pid"
    if not pid_file.exists():
        return False
    try:
        os.kill(int(pid_file.read_text().split()[0]), 0)
    except (ProcessLookupError, ValueError):
        return False
    return True


def stopped_within(pgdata: Path, *, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while postgres_running(pgdata) and time.monotonic() < deadline:
        time.sleep(0.2)
    return not postgres_running(pgdata)


@pytest.fixture
def home() -> Iterator[Path]:
    """A fresh studio home outside pytest's 0700 temp tree (the database runs as another system user)."""
    path = Path(tempfile.mkdtemp(prefix="studio-run-"))
    yield path / "studio"
    shutil.rmtree(path, ignore_errors=True)


@pytest.mark.slow
def test_studio_starts_from_nothing_and_shares_one_database(home: Path, tmp_path: Path) -> None:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "TEST_DATABASE_URL")}
    env |= {"STUDIO_HOME": str(home), "PYTHONUNBUFFERED": "1"}
    log_path = tmp_path / "run.log"
    with log_path.open("w") as log:
        process = subprocess.Popen([sys.executable, "-m", "lib", "run", "--port", str(port)], cwd=ROOT, env=env,
                                   stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        wait_healthy(f"http://127.0.0.1:{port}/_stcore/health", process, log_path)
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=5) as response:
            assert b"<title>Streamlit</title>" in response.read()
        output = log_path.read_text()
        assert "Created the studio admin admin@studio.local with password: " in output
        password = output.split("with password: ")[1].split()[0]
        assert len(password) >= 12

        pgdata = home / "pgdata"
        server_pid = (pgdata / "postmaster.pid").read_text().split()[0]
        listed = subprocess.run([sys.executable, "-m", "lib", "characters", "list", "--as", "admin@studio.local",
                                 "--json"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
        assert listed.returncode == 0, listed.stderr
        assert json.loads(listed.stdout) == []
        cli = [sys.executable, "-m", "lib"]
        made = subprocess.run([*cli, "characters", "add", "--as", "admin@studio.local", "--name", "Run",
                               "--generate-base", "--json"], cwd=ROOT, env=env, capture_output=True, text=True,
                              timeout=60)
        assert made.returncode == 0, made.stderr
        generated = subprocess.run([*cli, "generate", json.loads(made.stdout)["id"], "--as", "admin@studio.local",
                                    "--expressions", "happy", "--wait", "--json"], cwd=ROOT, env=env,
                                   capture_output=True, text=True, timeout=120)
        assert generated.returncode == 0, generated.stderr + log_path.read_text()
        assert json.loads(generated.stdout)["status"] == "done"  # the worker `make run` started made it
        assert (pgdata / "postmaster.pid").read_text().split()[0] == server_pid  # the same server
        assert postgres_running(pgdata)  # the CLI leaving did not stop the app's database
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=30)
    assert stopped_within(home / "pgdata", seconds=20), "the embedded database outlived the studio"
    assert "Traceback" not in log_path.read_text()


def test_cli_alone_starts_and_stops_the_embedded_database(home: Path) -> None:
    """With nothing running, a CLI command brings the database up for itself and leaves none behind."""
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "TEST_DATABASE_URL")}
    env["STUDIO_HOME"] = str(home)
    result = subprocess.run([sys.executable, "-m", "lib", "db", "upgrade", "--json"], cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    names = [f"{m.version:04d}_{m.name}" for m in migrations.available()]
    assert json.loads(result.stdout) == {"version": names[-1], "applied_now": names}
    assert (home / "pgdata" / "PG_VERSION").exists()
    assert stopped_within(home / "pgdata", seconds=20), "the CLI left its embedded database running"



def processes_mentioning(path: Path) -> list[int]:
    """Pids whose command line names `path` (the postmaster runs with `-D <pgdata>`, the app with STUDIO_HOME)."""
    found = []
    for proc in Path("/proc").iterdir():
        try:
            if proc.name.isdigit() and str(path).encode() in (proc / "cmdline").read_bytes() + (
                    proc / "environ").read_bytes():
                found.append(int(proc.name))
        except OSError:
            continue
    return found


@pytest.mark.slow
def open_sign_in_page(url: str) -> None:
    """Load the studio in Chromium until its sign-in form shows (the page's script has read the database)."""
    from playwright.sync_api import expect, sync_playwright

    from tests.test_browser import CHROMIUM, CHROMIUM_ARGS

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page()
            page.goto(url)
            expect(page.get_by_role("button", name="Sign in")).to_be_visible(timeout=60_000)
        finally:
            browser.close()


def test_sigterm_to_make_run_stops_the_web_app_worker_and_database(home: Path, tmp_path: Path) -> None:
    """A service manager stops `make run` with SIGTERM to make; nothing it started may outlive it.

    make forwards SIGTERM to the recipe's process: before the recipe exec'd, that was `/bin/sh -c`, which
    died and left the runner, the web app, the worker and the database running without a parent. Someone
    opens a page first: the web app then holds a handle on the embedded server too, and Streamlit exits on
    SIGTERM without giving it back, which kept the database running after everything else had stopped.
    """
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "TEST_DATABASE_URL", "MAKEFLAGS")}
    env |= {"STUDIO_HOME": str(home), "PYTHONUNBUFFERED": "1"}
    log_path = tmp_path / "run.log"
    with log_path.open("w") as log:
        process = subprocess.Popen(["make", "--no-print-directory", "run", f"PORT={port}"], cwd=ROOT, env=env,
                                   stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        wait_healthy(f"http://127.0.0.1:{port}/_stcore/health", process, log_path)
        assert postgres_running(home / "pgdata")
        open_sign_in_page(f"http://127.0.0.1:{port}")
        os.kill(process.pid, signal.SIGTERM)  # make alone, as `systemctl stop` or `kill` would
        process.wait(timeout=60)
        deadline = time.monotonic() + 60
        while processes_mentioning(home) and time.monotonic() < deadline:
            time.sleep(0.2)
        left = processes_mentioning(home)
    finally:
        for pid in processes_mentioning(home):  # never leave a stray studio behind on failure
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
    assert left == [], f"still running after make stopped: {left}\n{log_path.read_text()}"
    assert not postgres_running(home / "pgdata")
