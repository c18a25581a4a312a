"""`python -m lib …`: the studio's command line for staff automation.

Every command takes `--json` and then prints exactly one JSON document on stdout. Errors exit
non-zero with a one-line reason on stderr. Commands act as a user given by `--as EMAIL`, with
the same access rules as the pages.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from lib.accounts import bootstrap, users
from lib.catalog import characters
from lib.core import db, images, migrations
from lib.core.errors import InvalidInput, StudioError
from lib.core.settings import Settings, get_settings
from lib.core.storage import make_store
from lib.design.face_box import FaceBox

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


def _character_json(c: characters.Character) -> dict[str, Any]:
    return {
        "id": str(c.id), "name": c.name, "owner": c.owner_email, "base_key": c.base_key,
        "width": c.base_width, "height": c.base_height, "source": c.base_source,
        "features": c.features.model_dump(), "created_at": c.created_at.isoformat(),
    }


def _actor(conn: Any, email: str) -> users.User:
    user = users.get_user(conn, email=email)
    if not user.is_active:
        raise InvalidInput(f"user {user.email} is disabled")
    return user


def _read(path: str) -> bytes:
    try:
        return Path(path).read_bytes()
    except OSError as exc:
        raise InvalidInput(f"cannot read {path}: {exc.strerror}") from None


def cmd_db_upgrade(args: argparse.Namespace, settings: Settings) -> None:
    applied = migrations.upgrade(db.get_engine(settings))
    latest = migrations.available()[-1]
    version = f"{latest.version:04d}_{latest.name}"
    emit(args, {"version": version, "applied_now": applied},
          f"database is at {version}" + (f" (applied {', '.join(applied)})" if applied else ""))


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
        rows = users.list_users(conn, actor=_actor(conn, args.as_email))
    data = [{"id": str(u.id), "email": u.email, "role": u.role, "plan": u.plan, "active": u.is_active} for u in rows]
    emit(args, data, "\n".join(f"{u['email']}\t{u['role']}\t{u['plan']}\t{'active' if u['active'] else 'disabled'}"
                                for u in data))


def cmd_users_reset_password(args: argparse.Namespace, settings: Settings) -> None:
    password = _read_password(args)
    engine = bootstrap.prepare_database(settings)
    with engine.begin() as conn:
        actor = _actor(conn, args.as_email)
        target = users.get_user(conn, email=args.email)
        users.reset_password(conn, actor=actor, user_id=target.id, new_password=password)
    emit(args, {"email": target.email, "sessions_ended": True}, f"password reset for {target.email}; sessions ended")


def cmd_characters_add(args: argparse.Namespace, settings: Settings) -> None:
    features = characters.features_from_json(_read(args.features).decode()) if args.features else None
    if args.generate_base == bool(args.image):
        raise CliError("give either --image PATH or --generate-base (with --features FILE)")
    face_box = None
    if args.generate_base:
        image, face_box = characters.generate_base(features or characters.parse_features(None),
                                                   size=settings.offline_base_size)
    else:
        image = images.clean_upload(_read(args.image), max_bytes=settings.max_upload_bytes,
                                    max_pixels=settings.max_upload_pixels)
    engine = bootstrap.prepare_database(settings)
    store = make_store(settings)
    with engine.begin() as conn:
        character = characters.create_character(
            conn, store, actor=_actor(conn, args.as_email), name=args.name, image=image, features=features,
            source="generated" if args.generate_base else "upload", face_box=face_box,
        )
    emit(args, _character_json(character), str(character.id))


def cmd_characters_list(args: argparse.Namespace, settings: Settings) -> None:
    engine = bootstrap.prepare_database(settings)
    with engine.begin() as conn:
        rows = characters.list_characters(conn, actor=_actor(conn, args.as_email), any_owner=args.all)
    emit(args, [_character_json(c) for c in rows],
          "\n".join(f"{c.id}\t{c.name}\t{c.base_width}x{c.base_height}\t{c.owner_email}" for c in rows)
          or "no characters")


def cmd_characters_delete(args: argparse.Namespace, settings: Settings) -> None:
    engine = bootstrap.prepare_database(settings)
    with engine.begin() as conn:
        characters.delete_character(conn, make_store(settings), actor=_actor(conn, args.as_email),
                                    character_id=args.id)
    emit(args, {"deleted": args.id}, f"deleted {args.id}")


def _split(value: str | None) -> list[str]:
    return [part.strip() for part in (value or "").split(",") if part.strip()]


def _difference_json(i: Any) -> dict[str, Any]:
    return {"id": str(i.id), "expression": i.expression_key, "variant": i.variant, "status": i.status,
            "reason": i.failure_reason, "kind": i.failure_kind, "image_key": i.image_key,
            "cost_usd": i.cost_usd, "credits": i.cost_credits, "attempts": len(i.attempts),
            "score": round(i.score, 1) if i.score is not None else None,
            "score_parts": (i.score_parts or {}).get("parts"), "flags": (i.score_parts or {}).get("flags", [])}


def cmd_generate(args: argparse.Namespace, settings: Settings) -> None:
    from lib.catalog import custom_expressions
    from lib.generation import batches
    from lib.generation import jobs as generation

    backend_name = args.backend or settings.image_backend
    if backend_name == "gemini":
        from lib.backends.factory import gemini_config

        gemini_config(settings)  # refuse early when Gemini is not configured
    model = "offline" if backend_name == "offline" else (args.model or settings.gemini_model)
    engine = bootstrap.prepare_database(settings)
    with engine.begin() as conn:
        actor = _actor(conn, args.as_email)
        if args.wait and not batches.any_worker(engine, settings=settings):
            raise batches.NoWorker("No worker is running, so nothing was submitted or charged. Start one with "
                                   "`python -m lib worker` (make run starts one), or submit without --wait.")
        character = characters.get_character(conn, actor=actor, character_id=args.character_id)
        chosen = custom_expressions.resolve(conn, actor=actor, character_id=character.id,
                                            keys=_split(args.expressions), preset=args.preset)
        request = generation.JobRequest(expressions=chosen, variants=_split(args.variants), backend=backend_name,
                                        model=model, image_size=args.size or settings.gemini_image_size,
                                        paste_back=not args.no_paste_back, best_of=args.best_of)
        submitted = batches.submit(conn, actor=actor, character=character, request=request, settings=settings)
    if args.wait:
        batches.wait(engine, actor=actor, job_id=submitted.job_id, settings=settings)
    with engine.begin() as conn:
        items = generation.job_differences(conn, actor=actor, job_id=submitted.job_id)
        status = batches.progress(conn, actor=actor, job_id=submitted.job_id).status
    rows = [_difference_json(i) for i in items]
    human = "\n".join(f"{r['expression']}{'/' + r['variant'] if r['variant'] else ''}\t{r['status']}\t"
                      f"{r['image_key'] or r['reason'] or ''}\t{r['credits']} credits\t"
                      f"score {r['score'] if r['score'] is not None else '-'}" for r in rows)
    emit(args, {"job_id": str(submitted.job_id), "status": status, "backend": backend_name, "model": model,
                 "credits_held": submitted.credits_held, "items": rows}, f"job {submitted.job_id} ({status})\n{human}")


def _balance_json(b: Any, email: str) -> dict[str, Any]:
    return {"email": email, "plan": b.plan, "quota": b.monthly_credits, "used": b.used_this_period,
            "held": b.held, "available": b.available, "period_start": b.period_start.isoformat()}


def cmd_credits(args: argparse.Namespace, settings: Settings) -> None:
    from lib.credits import ledger

    engine = bootstrap.prepare_database(settings)
    with engine.begin() as conn:
        user = users.get_user(conn, email=args.email)
        data = _balance_json(ledger.balance(conn, user_id=user.id), user.email)
    emit(args, data, f"{data['email']}: {data['available']} available, {data['held']} held, "
                      f"{data['used']} used of {data['quota']} this month ({data['plan']})")


def cmd_credits_grant(args: argparse.Namespace, settings: Settings) -> None:
    import uuid

    from lib.credits import ledger

    engine = bootstrap.prepare_database(settings)
    with engine.begin() as conn:
        actor = _actor(conn, args.as_email)
        users.require_admin(actor)
        user = users.get_user(conn, email=args.email)
        ledger.adjust(conn, user_id=user.id, amount=args.amount, reason=args.reason,
                       key=args.key or f"adjust:{uuid.uuid4()}", actor_id=actor.id)
        data = _balance_json(ledger.balance(conn, user_id=user.id), user.email)
    emit(args, data, f"{args.amount:+d} credits for {user.email}; {data['available']} available")


def cmd_jobs_cancel(args: argparse.Namespace, settings: Settings) -> None:
    from lib.generation import batches

    engine = bootstrap.prepare_database(settings)
    with engine.begin() as conn:
        cancelled = batches.cancel(conn, actor=_actor(conn, args.as_email), job_id=args.job_id)
    emit(args, {"job_id": args.job_id, "cancelled_items": cancelled},
          f"cancelled {cancelled} queued item(s) of job {args.job_id}; their credits were released")


def cmd_worker(args: argparse.Namespace, settings: Settings) -> None:
    from lib.worker import process

    bootstrap.prepare_database(settings)
    logging.getLogger().setLevel(logging.INFO)
    process.run_worker(settings, concurrency=args.concurrency)


def _face_box(text: str) -> FaceBox:
    try:
        return FaceBox.parse(text)
    except InvalidInput as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def cmd_score(args: argparse.Namespace, settings: Settings) -> None:
    from lib.consistency import score as consistency

    for path in (args.base, args.variant):
        _read(path)  # a clear error for a missing file
    result = consistency.score_files(args.base, args.variant, face_box=args.face)
    data = result.to_json()
    parts = ", ".join(f"{k} {v:.0f}" for k, v in data["parts"].items())
    emit(args, data, f"score {data['total']:.1f} ({'passed' if data['passed'] else 'flagged'}): {parts}"
                      + (f"; flags: {', '.join(data['flags'])}" if data["flags"] else ""))


def cmd_export(args: argparse.Namespace, settings: Settings) -> None:
    import shutil

    from lib.exports import FORMATS
    from lib.exports import sets as export_sets

    out = Path(args.out)
    if out.is_dir():
        raise InvalidInput(f"{out} is a directory; give a file path")
    engine = bootstrap.prepare_database(settings)
    with engine.begin() as conn:
        actor = _actor(conn, args.as_email)
        made = export_sets.write(conn, make_store(settings), actor=actor, character_id=args.character_id,
                                 fmt=args.format, approved_only=args.approved_only)
    out.parent.mkdir(parents=True, exist_ok=True)
    shutil.move(made, out)
    emit(args, {"path": str(out), "format": args.format, "bytes": out.stat().st_size,
                 "mime": FORMATS[args.format].mime}, f"wrote {out} ({out.stat().st_size} bytes)")


def cmd_run(args: argparse.Namespace, settings: Settings) -> None:
    from lib.cli import run as runner

    runner.run(settings, port=args.port)


def build_parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--json", action="store_true", help="print one JSON document on stdout")
    parser = argparse.ArgumentParser(prog="python -m lib", description=__doc__.splitlines()[0], parents=[common])
    sub = parser.add_subparsers(dest="command", required=True)

    def leaf(group: Any, name: str, handler: Handler, help_text: str) -> argparse.ArgumentParser:
        p = group.add_parser(name, parents=[common], help=help_text)
        p.set_defaults(handler=handler)
        return p

    dbp = sub.add_parser("db", help="database maintenance").add_subparsers(dest="db_command", required=True)
    leaf(dbp, "upgrade", cmd_db_upgrade, "apply pending migrations (idempotent)")

    up = sub.add_parser("users", help="manage users").add_subparsers(dest="users_command", required=True)
    p = leaf(up, "add", cmd_users_add, "create a user")
    p.add_argument("email")
    p.add_argument("--role", choices=users.ROLES, default="member")
    p.add_argument("--plan", choices=users.PLANS, default="free")
    p.add_argument("--name", help="display name (default: the part before @)")
    p.add_argument("--password-stdin", action="store_true", help="read the password from standard input")
    p = leaf(up, "list", cmd_users_list, "list users (admins)")
    p.add_argument("--as", dest="as_email", required=True, metavar="EMAIL")
    p = leaf(up, "reset-password", cmd_users_reset_password, "reset a password and end that user's sessions")
    p.add_argument("email")
    p.add_argument("--as", dest="as_email", required=True, metavar="EMAIL")
    p.add_argument("--password-stdin", action="store_true", help="read the new password from standard input")

    cp = sub.add_parser("characters", help="manage characters").add_subparsers(dest="characters_command",
                                                                              required=True)
    p = leaf(cp, "add", cmd_characters_add, "create a character from a base image; prints its id")
    p.add_argument("--as", dest="as_email", required=True, metavar="EMAIL")
    p.add_argument("--name", required=True)
    p.add_argument("--image", metavar="PATH", help="PNG, JPEG or WebP base image")
    p.add_argument("--generate-base", action="store_true", help="draw the base from the features (offline)")
    p.add_argument("--features", metavar="FILE", help="JSON file of features (hair_color, eye_color, ...)")
    p = leaf(cp, "list", cmd_characters_list, "list your characters")
    p.add_argument("--as", dest="as_email", required=True, metavar="EMAIL")
    p.add_argument("--all", action="store_true", help="every user's characters (admins)")
    p = leaf(cp, "delete", cmd_characters_delete, "delete one of your characters")
    p.add_argument("id")
    p.add_argument("--as", dest="as_email", required=True, metavar="EMAIL")

    p = leaf(sub, "generate", cmd_generate, "generate expressions of a character and wait for them")
    p.add_argument("character_id")
    p.add_argument("--as", dest="as_email", required=True, metavar="EMAIL")
    p.add_argument("--expressions", help="comma-separated expression keys (built-in or the character's own)")
    p.add_argument("--preset", help="basic, visual_novel or sillytavern")
    p.add_argument("--variants", help="comma-separated: mouth_open,blink")
    p.add_argument("--backend", choices=("offline", "gemini"), help="default: IMAGE_BACKEND")
    p.add_argument("--model", help="Gemini model id (default: GEMINI_MODEL)")
    p.add_argument("--size", choices=("512", "1K", "2K", "4K"), help="output size (default: GEMINI_IMAGE_SIZE)")
    p.add_argument("--wait", action="store_true", help="wait until every item has ended (needs a running worker)")
    p.add_argument("--best-of", type=int, default=1, metavar="K",
                   help="retry an image scoring below CONSISTENCY_THRESHOLD, up to K attempts (each charged)")
    p.add_argument("--no-paste-back", action="store_true", help="keep the model's whole image (no paste-back)")

    p = leaf(sub, "credits", cmd_credits, "show a user's credits (`credits grant EMAIL N` adjusts them)")
    p.add_argument("email")
    g = leaf(sub, "credits-grant", cmd_credits_grant, "admin adjustment (N may be negative), with a reason")
    g.add_argument("email")
    g.add_argument("amount", type=int)
    g.add_argument("--reason", required=True)
    g.add_argument("--as", dest="as_email", required=True, metavar="EMAIL", help="the admin making the change")
    g.add_argument("--key", help="idempotency key (default: a new one)")

    jp = sub.add_parser("jobs", help="manage generation jobs").add_subparsers(dest="jobs_command", required=True)
    p = leaf(jp, "cancel", cmd_jobs_cancel, "cancel the queued items of a job and release their credits")
    p.add_argument("job_id")
    p.add_argument("--as", dest="as_email", required=True, metavar="EMAIL")

    p = leaf(sub, "export", cmd_export, "export a character's set: zip, psd, renpy, pngtuber or sillytavern")
    p.add_argument("character_id")
    p.add_argument("--as", dest="as_email", required=True, metavar="EMAIL")
    p.add_argument("--format", required=True, help="zip, psd, renpy, pngtuber or sillytavern")
    p.add_argument("--out", required=True, metavar="PATH")
    p.add_argument("--approved-only", action="store_true", help="only images marked approved")

    p = leaf(sub, "score", cmd_score, "consistency score (0-100) of a variant against its base")
    p.add_argument("base", metavar="BASE.png")
    p.add_argument("variant", metavar="VARIANT.png")
    p.add_argument("--face", type=_face_box, metavar="x,y,w,h", help="face region (default: estimated)")

    p = leaf(sub, "worker", cmd_worker, "run a worker that generates queued items (any number, any machine)")
    p.add_argument("--concurrency", type=int, help="items at once (default: WORKER_CONCURRENCY)")
    from lib.cli import billing as billing_cli
    from lib.cli import reports as reports_cli

    billing_cli.register(sub, leaf)
    reports_cli.register(sub, leaf)
    sub.add_parser("standin", help="serve the local Gemini stand-in (see `python -m lib standin --help`)")
    p = leaf(sub, "run", cmd_run, "start the whole studio (database, workers, web app)")
    p.add_argument("--port", type=int, default=None, help="web port (default: PORT or 8501)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:2] == ["credits", "grant"]:  # `credits EMAIL` and `credits grant EMAIL N` share a name
        argv = ["credits-grant", *argv[2:]]
    if argv[:1] == ["standin"]:  # the stand-in server parses its own options
        from devtools import gemini_standin as standin_gemini

        return standin_gemini.main(argv[1:])
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    args = build_parser().parse_args(argv)
    try:
        settings = get_settings()
        args.handler(args, settings)
    except StudioError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    return 0
