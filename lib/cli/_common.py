"""What every command group shares: the handler and `leaf` types, printing a result, the acting user, files."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from lib.accounts import users
from lib.core.errors import InvalidInput, StudioError
from lib.core.settings import Settings

Handler = Callable[[argparse.Namespace, Settings], Any]
Leaf = Callable[[Any, str, Handler, str], argparse.ArgumentParser]


class CliError(StudioError):
    """A usage problem found after parsing (e.g. a missing password on stdin)."""


def emit(args: argparse.Namespace, result: Any, human: str) -> None:
    """Print the result: one JSON document with --json, else the human line(s)."""
    if args.json:
        json.dump(result, sys.stdout, ensure_ascii=False, default=str)
        sys.stdout.write("\n")
    else:
        print(human)


def actor(conn: Any, email: str) -> users.User:
    """The user a command acts as (`--as EMAIL`); a disabled user is refused."""
    user = users.get_user(conn, email=email)
    if not user.is_active:
        raise InvalidInput(f"user {user.email} is disabled")
    return user


def read_file(path: str) -> bytes:
    """The bytes of a file named on the command line; an unreadable one is a one-line error."""
    try:
        return Path(path).read_bytes()
    except OSError as exc:
        raise InvalidInput(f"cannot read {path}: {exc.strerror}") from None


def add_actor(parser: argparse.ArgumentParser, help_text: str | None = None) -> None:
    """The `--as EMAIL` option: who the command acts as, with the same access rules as the pages."""
    parser.add_argument("--as", dest="as_email", required=True, metavar="EMAIL", help=help_text)
