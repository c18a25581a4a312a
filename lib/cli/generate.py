"""`python -m lib generate …`: submit a batch of expressions for a character and, with --wait, see it end."""

from __future__ import annotations

import argparse
from typing import Any

from lib.accounts import bootstrap
from lib.backends.factory import gemini_config
from lib.catalog import characters, custom_expressions
from lib.cli._common import Leaf, actor, add_actor, emit
from lib.core.settings import Settings
from lib.generation import jobs


def _split(value: str | None) -> list[str]:
    return [part.strip() for part in (value or "").split(",") if part.strip()]


def _difference_json(i: Any) -> dict[str, Any]:
    return {"id": str(i.id), "expression": i.expression_key, "variant": i.variant, "status": i.status,
            "reason": i.failure_reason, "kind": i.failure_kind, "image_key": i.image_key,
            "cost_usd": i.cost_usd, "credits": i.cost_credits, "attempts": len(i.attempts), "tier": i.tier,
            "score": round(i.score, 1) if i.score is not None else None,
            "score_parts": (i.score_parts or {}).get("parts"), "flags": (i.score_parts or {}).get("flags", [])}


def _human(rows: list[dict[str, Any]]) -> str:
    return "\n".join(f"{r['expression']}{'/' + r['variant'] if r['variant'] else ''}\t{r['status']}\t"
                     f"{r['image_key'] or r['reason'] or ''}\t{r['credits']} credits\t"
                     f"score {r['score'] if r['score'] is not None else '-'}" for r in rows)


def cmd_generate(args: argparse.Namespace, settings: Settings) -> None:
    # Imported here: batches brings in the task queue (~0.25 s), which every other command would pay.
    from lib.generation import batches

    backend_name = args.backend or ("gemini" if args.economy else settings.image_backend)
    if backend_name == "gemini":
        gemini_config(settings)  # refuse early when Gemini is not configured
    model = "offline" if backend_name == "offline" else (args.model or settings.gemini_model)
    engine = bootstrap.prepare_database(settings)
    with engine.begin() as conn:
        user = actor(conn, args.as_email)
        if args.wait and not batches.any_worker(engine, settings=settings):
            raise batches.NoWorker("No worker is running, so nothing was submitted or charged. Start one with "
                                   "`python -m lib worker` (make run starts one), or submit without --wait.")
        character = characters.get_character(conn, actor=user, character_id=args.character_id)
        chosen = custom_expressions.resolve(conn, actor=user, character_id=character.id,
                                            keys=_split(args.expressions), preset=args.preset)
        request = jobs.JobRequest(expressions=chosen, variants=_split(args.variants), backend=backend_name,
                                  model=model, image_size=args.size or settings.gemini_image_size,
                                  paste_back=not args.no_paste_back, best_of=args.best_of,
                                  tier="economy" if args.economy else "standard")
        submitted = batches.submit(conn, actor=user, character=character, request=request, settings=settings)
    if args.wait:
        batches.wait(engine, actor=user, job_id=submitted.job_id, settings=settings)
    with engine.begin() as conn:
        items = jobs.job_differences(conn, actor=user, job_id=submitted.job_id)
        status = batches.progress(conn, actor=user, job_id=submitted.job_id).status
    rows = [_difference_json(i) for i in items]
    tier = "economy" if args.economy else "standard"
    emit(args, {"job_id": str(submitted.job_id), "status": status, "backend": backend_name, "model": model,
                "tier": tier, "credits_held": submitted.credits_held,
                "credits_per_image": submitted.credits_per_image, "items": rows},
         f"job {submitted.job_id} ({status}, {tier}, {submitted.credits_held} credits held)\n{_human(rows)}")


def register(subparsers: Any, leaf: Leaf) -> None:
    """Add the `generate` command to the studio's parser."""
    p = leaf(subparsers, "generate", cmd_generate, "generate expressions of a character and wait for them")
    p.add_argument("character_id")
    add_actor(p)
    p.add_argument("--expressions", help="comma-separated expression keys (built-in or the character's own)")
    p.add_argument("--preset", help="basic, visual_novel or sillytavern")
    p.add_argument("--variants", help="comma-separated: mouth_open,blink")
    p.add_argument("--backend", choices=("offline", "gemini"), help="default: IMAGE_BACKEND")
    p.add_argument("--model", help="Gemini model id (default: GEMINI_MODEL)")
    p.add_argument("--size", choices=("512", "1K", "2K", "4K"), help="output size (default: GEMINI_IMAGE_SIZE)")
    p.add_argument("--wait", action="store_true", help="wait until every item has ended (needs a running worker)")
    p.add_argument("--best-of", type=int, default=1, metavar="K",
                   help="retry an image scoring below CONSISTENCY_THRESHOLD, up to K attempts (each charged)")
    p.add_argument("--economy", action="store_true",
                   help="one Gemini Batch API job at ECONOMY_CREDIT_PERCENT of the credits, ready within 24 h "
                        "(implies --backend gemini)")
    p.add_argument("--no-paste-back", action="store_true", help="keep the model's whole image (no paste-back)")
