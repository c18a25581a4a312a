"""`python -m lib tokens …`: personal access tokens for the REST API (create shows the secret once)."""

from __future__ import annotations

import argparse
from datetime import UTC, datetime, timedelta
from typing import Any

from lib.accounts import bootstrap, tokens
from lib.cli._common import Leaf, actor, add_actor, emit
from lib.core.settings import Settings


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def _row(t: tokens.ApiToken, now: datetime) -> dict[str, Any]:
    return {"id": str(t.id), "name": t.name, "prefix": t.prefix, "status": t.status(now),
            "created_at": _iso(t.created_at), "expires_at": _iso(t.expires_at),
            "last_used_at": _iso(t.last_used_at)}


def cmd_tokens_create(args: argparse.Namespace, settings: Settings) -> None:
    engine = bootstrap.prepare_database(settings)
    now = datetime.now(UTC)
    expires = now + timedelta(days=args.expires_days) if args.expires_days else None
    with engine.begin() as conn:
        token, secret = tokens.create_token(conn, actor=actor(conn, args.as_email), name=args.name,
                                            expires_at=expires, now=now)
    emit(args, {**_row(token, now), "token": secret},
         f"{secret}\n(token {token.name!r}, id {token.id}: shown once, keep it secret; "
         f"{'expires ' + expires.date().isoformat() if expires else 'no expiry'})")


def cmd_tokens_list(args: argparse.Namespace, settings: Settings) -> None:
    engine = bootstrap.prepare_database(settings)
    now = datetime.now(UTC)
    with engine.begin() as conn:
        rows = [_row(t, now) for t in tokens.list_tokens(conn, actor=actor(conn, args.as_email))]
    emit(args, rows, "\n".join(f"{r['id']}\t{r['prefix']}…\t{r['name']}\t{r['status']}\t"
                               f"last used {r['last_used_at'] or 'never'}" for r in rows) or "no tokens")


def cmd_tokens_revoke(args: argparse.Namespace, settings: Settings) -> None:
    engine = bootstrap.prepare_database(settings)
    with engine.begin() as conn:
        tokens.revoke_token(conn, actor=actor(conn, args.as_email), token_id=args.token_id)
    emit(args, {"id": args.token_id, "revoked": True}, f"token {args.token_id} revoked")


def register(subparsers: Any, leaf: Leaf) -> None:
    """Add the `tokens` command group to the studio's parser."""
    group = subparsers.add_parser("tokens", help="personal access tokens for the REST API").add_subparsers(
        dest="tokens_command", required=True)
    p = leaf(group, "create", cmd_tokens_create, "create a token (its secret is printed once)")
    add_actor(p)
    p.add_argument("--name", required=True, help="what the token is for, e.g. the script using it")
    p.add_argument("--expires-days", type=int, metavar="N", help="expire after N days (default: never)")
    p = leaf(group, "list", cmd_tokens_list, "list your tokens")
    add_actor(p)
    p = leaf(group, "revoke", cmd_tokens_revoke, "revoke a token at once")
    p.add_argument("token_id")
    add_actor(p)
