"""`python -m lib users …`: create users, list them, reset passwords (passwords come on stdin), unlock sign-ins."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from lib.accounts import bootstrap, signin, users
from lib.cli._common import CliError, Leaf, actor, add_actor, emit
from lib.core.settings import Settings


def _read_password(args: argparse.Namespace) -> str:
    if not args.password_stdin:
        raise CliError("give the password on standard input with --password-stdin")
    password = sys.stdin.readline().rstrip("\r\n")
    if not password:
        raise CliError("no password on standard input")
    return password


def cmd_users_add(args: argparse.Namespace, settings: Settings) -> None:
    password = _read_password(args)
    engine = bootstrap.prepare_database(settings)
    with engine.begin() as conn:
        user = users.create_user(conn, email=args.email, password=password, role=args.role, plan=args.plan,
                                 display_name=args.name)
    emit(args, {"id": str(user.id), "email": user.email, "role": user.role, "plan": user.plan},
         f"created {user.role} {user.email} ({user.plan}) id={user.id}")


def cmd_users_list(args: argparse.Namespace, settings: Settings) -> None:
    engine = bootstrap.prepare_database(settings)
    with engine.begin() as conn:
        rows = users.list_users(conn, actor=actor(conn, args.as_email))
    data = [{"id": str(u.id), "email": u.email, "role": u.role, "plan": u.plan, "active": u.is_active} for u in rows]
    emit(args, data, "\n".join(f"{u['email']}\t{u['role']}\t{u['plan']}\t{'active' if u['active'] else 'disabled'}"
                               for u in data))


def cmd_users_reset_password(args: argparse.Namespace, settings: Settings) -> None:
    password = _read_password(args)
    engine = bootstrap.prepare_database(settings)
    with engine.begin() as conn:
        admin = actor(conn, args.as_email)
        target = users.get_user(conn, email=args.email)
        users.reset_password(conn, actor=admin, user_id=target.id, new_password=password)
    emit(args, {"email": target.email, "sessions_ended": True}, f"password reset for {target.email}; sessions ended")


def cmd_users_unlock(args: argparse.Namespace, settings: Settings) -> None:
    engine = bootstrap.prepare_database(settings)
    with engine.begin() as conn:
        signin.unlock(conn, actor=actor(conn, args.as_email), email=args.email)
    emit(args, {"email": args.email.strip().lower(), "unlocked": True},
         f"sign-in unlocked for {args.email.strip().lower()}; its failed attempts are forgotten")


def register(subparsers: Any, leaf: Leaf) -> None:
    """Add the `users` command group to the studio's parser."""
    group = subparsers.add_parser("users", help="manage users").add_subparsers(dest="users_command", required=True)
    p = leaf(group, "add", cmd_users_add, "create a user")
    p.add_argument("email")
    p.add_argument("--role", choices=users.ROLES, default="member")
    p.add_argument("--plan", choices=users.PLANS, default="free")
    p.add_argument("--name", help="display name (default: the part before @)")
    p.add_argument("--password-stdin", action="store_true", help="read the password from standard input")
    p = leaf(group, "list", cmd_users_list, "list users (admins)")
    add_actor(p)
    p = leaf(group, "reset-password", cmd_users_reset_password, "reset a password and end that user's sessions")
    p.add_argument("email")
    add_actor(p)
    p.add_argument("--password-stdin", action="store_true", help="read the new password from standard input")
    p = leaf(group, "unlock", cmd_users_unlock, "end an account's sign-in lock (admins)")
    p.add_argument("email")
    add_actor(p)
