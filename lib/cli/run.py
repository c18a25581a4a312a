"""`python -m lib run` (what `make run` runs): one process that owns the embedded database and supervises the web app.

Start-up order: validate settings, start (or attach to) the database, migrate, seed the first admin
(printing a generated password once), then serve Streamlit on 127.0.0.1:PORT and run one worker
beside it until interrupted.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import subprocess
import sys
import time
from types import FrameType
from typing import Any

from lib.accounts import bootstrap
from lib.cli._common import Leaf
from lib.core import db
from lib.core.settings import PROJECT_ROOT, Settings

log = logging.getLogger(__name__)


def worker_command() -> list[str]:
    return [sys.executable, "-m", "lib", "worker"]


def streamlit_command(port: int, address: str = "127.0.0.1") -> list[str]:
    return [
        # studio_app.py serves app.py plus the studio's HTTP routes on the same port (st.App).
        sys.executable, "-m", "streamlit", "run", str(PROJECT_ROOT / "studio_app.py"),
        "--server.address", address, "--server.port", str(port), "--server.headless", "true",
        "--browser.gatherUsageStats", "false",
    ]


def web_environment() -> dict[str, str]:
    """The web server's environment: uvicorn must not take client addresses from X-Forwarded-For itself.

    By default it believes that header from loopback peers, and every client of 127.0.0.1 is one; the sign-in
    gate reads the header itself and believes only TRUSTED_PROXIES (lib.accounts.signin.client_address).
    """
    return os.environ | {"FORWARDED_ALLOW_IPS": ""}


def announce(line: str) -> None:
    print(line, flush=True)


def _interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt  # unwinds like Ctrl-C, so exit handlers stop the database this process started


def run(settings: Settings, *, port: int | None = None, address: str = "127.0.0.1", worker: bool = True) -> None:
    # Until the children run, SIGTERM unwinds too: its default would end the process without exit handlers.
    signal.signal(signal.SIGTERM, _interrupt)
    settings.validate_for_startup()
    engine = bootstrap.prepare_database(settings)
    seeded = bootstrap.seed_admin(engine, settings)
    if seeded and seeded.password:
        announce(f"Created the studio admin {seeded.email} with password: {seeded.password}")
        announce("  (shown once; set STUDIO_ADMIN_PASSWORD to choose it)")
    elif seeded:
        announce(f"Created the studio admin {seeded.email} (password from STUDIO_ADMIN_PASSWORD)")
    port = port or settings.port
    # Children get their own sessions: a Ctrl-C or a signal to the group reaches only this process,
    # which then stops each child exactly once (a second signal would cut a worker's shutdown short).
    web = subprocess.Popen(streamlit_command(port, address), cwd=PROJECT_ROOT, env=web_environment(),
                           start_new_session=True)
    children = [web]
    if worker:
        children.append(subprocess.Popen(worker_command(), cwd=PROJECT_ROOT, start_new_session=True))
    announce(f"Miyabi Character Studio: http://{address}:{port}  (Ctrl-C stops)")

    stopping = False

    def stop(signum: int, frame: FrameType | None) -> None:
        nonlocal stopping
        if not stopping:
            stopping = True
            for child in children:
                child.terminate()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    while web.poll() is None and not stopping:
        if worker and children[1].poll() is not None:
            announce(f"The worker exited with code {children[1].returncode}; starting another.")
            children[1] = subprocess.Popen(worker_command(), cwd=PROJECT_ROOT, start_new_session=True)
        time.sleep(0.5)
    stop(signal.SIGTERM, None)
    for child in children:
        try:
            child.wait(timeout=30)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()
    if settings.embedded:
        # Streamlit exits on SIGTERM without detaching from the embedded server; drop the children that
        # are gone, so this process is the last user and its exit handler stops the database.
        db.forget_dead_handles(settings.pgdata_dir)


def cmd_run(args: argparse.Namespace, settings: Settings) -> None:
    run(settings, port=args.port, address=args.address, worker=not args.no_worker)


def register(subparsers: Any, leaf: Leaf) -> None:
    """Add the `run` command to the studio's parser."""
    p = leaf(subparsers, "run", cmd_run, "start the whole studio (database, workers, web app)")
    p.add_argument("--port", type=int, default=None, help="web port (default: PORT or 8501)")
    p.add_argument("--address", default="127.0.0.1", help="address to listen on (0.0.0.0 in a container)")
    p.add_argument("--no-worker", action="store_true",
                   help="serve the web app only (workers run elsewhere: `python -m lib worker`)")
