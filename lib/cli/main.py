"""`python -m lib …`: the studio's command line for staff automation.

Every command takes `--json` and then prints exactly one JSON document on stdout. Errors exit
non-zero with a one-line reason on stderr; an unexpected one prints only an incident id, and its
traceback goes to `STUDIO_HOME/logs/cli.log` under that id. Commands act as a user given by `--as EMAIL`, with
the same access rules as the pages.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence
from typing import Any

from lib.cli import (
    billing,
    characters,
    credits,
    db,
    exports,
    generate,
    jobs,
    ops,
    reports,
    run,
    score,
    storage,
    tokens,
    users,
    worker,
)
from lib.cli._common import Handler
from lib.core import incidents, logs
from lib.core.errors import StudioError
from lib.core.settings import Settings, get_settings

# In `--help` order; each module adds its command group with `register(subparsers, leaf)`.
GROUPS = (db, users, tokens, characters, generate, credits, jobs, exports, score, worker, billing, reports, ops,
          storage, run)


def build_parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--json", action="store_true", help="print one JSON document on stdout")
    parser = argparse.ArgumentParser(prog="python -m lib", description=__doc__.splitlines()[0], parents=[common])
    sub = parser.add_subparsers(dest="command", required=True)

    def leaf(group: Any, name: str, handler: Handler, help_text: str) -> argparse.ArgumentParser:
        """A command that takes `--json` and runs `handler(args, settings)`."""
        p = group.add_parser(name, parents=[common], help=help_text)
        p.set_defaults(handler=handler)
        return p

    for group in GROUPS:
        group.register(sub, leaf)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; the exit code is 0, 1 for an error (one line on stderr) or 130 on Ctrl-C."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:2] == ["credits", "grant"]:  # `credits EMAIL` and `credits grant EMAIL N` share a name
        argv = ["credits-grant", *argv[2:]]
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    args = build_parser().parse_args(argv)
    settings: Settings | None = None
    try:
        settings = get_settings()
        logs.configure(settings, level=logging.WARNING)
        args.handler(args, settings)
    except StudioError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    except Exception as exc:  # noqa: BLE001 - the command's error boundary
        print(f"error: {_incident(exc, args.command, settings)}", file=sys.stderr)
        return 1
    return 0


def _incident(exc: Exception, command: str, settings: Settings | None) -> str:
    """Log an unexpected error with its traceback to the CLI log (not the terminal); the line to print."""
    log_file = _incident_log(settings)
    handler = logging.FileHandler(log_file, encoding="utf-8") if log_file else logging.StreamHandler()
    handler.setFormatter(logs.formatter(settings) if settings else logging.Formatter("%(levelname)s: %(message)s"))
    if settings is not None:
        handler.addFilter(logs.ids_filter())
    logger = logging.getLogger(incidents.__name__)
    logger.addHandler(handler)
    logger.propagate = False  # the traceback goes to the file, not to the person's terminal
    try:
        incident = incidents.record(exc, where=f"python -m lib {command}")
    finally:
        logger.removeHandler(handler)
        logger.propagate = True
        handler.close()
    what = "the database is not reachable" if incident.database_down else "unexpected failure"
    return f"{what} (incident {incident.id}); see the log" + (f" {log_file}" if log_file else "")


def _incident_log(settings: Settings | None) -> str | None:
    """`STUDIO_HOME/logs/cli.log`, created if needed; None when there is no writable home (log to stderr)."""
    if settings is None:
        return None
    try:
        folder = settings.studio_home / "logs"
        folder.mkdir(parents=True, exist_ok=True)
    except OSError:
        return None
    return str(folder / "cli.log")
