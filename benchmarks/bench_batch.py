"""A 40-image batch through the real queue, workers and rate limiter, against the Gemini stand-in.

Prints, per scenario, the ideal time (every call starting as soon as both the calls-in-flight and the
images-per-minute limit allow, with no post-processing; see `ideal_starts`), the measured time,
efficiency (ideal / measured; goal >= 0.95), HTTP calls per image (goal
<= 1.05 without faults) and the share of 429 answers (goal <= 5 %), then the same 40 images as a
one-at-a-time loop for comparison. Uses DATABASE_URL / TEST_DATABASE_URL's server when set (a
throwaway database), else an embedded server in a temporary directory.

The worker runs twice as many items as calls may be in flight (`--concurrency`), so finished images
are aligned, scored and stored while the next calls are out; it also prints the worker's CPU time
per image. `--worker-log` shows the worker's log on stderr.

    python -m benchmarks.bench_batch [--images 40] [--latency 3] [--size 2K] [--workers 2] [--quick] [--no-loop]

`make bench` runs it twice: 512-px answers with one worker, and 2K answers with two worker processes
sharing the limits through Redis.
"""

from __future__ import annotations

import argparse
import contextlib
import math
import os
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sqlalchemy as sa

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from devtools.gemini_standin import StandinServer, offline_render, output_size
from lib.accounts import users
from lib.backends.gemini import GeminiBackend, GeminiConfig, closest_aspect_ratio
from lib.catalog import characters, custom_expressions
from lib.core import db, migrations
from lib.core.settings import load_settings
from lib.core.storage import LocalStore
from lib.design import expressions
from lib.design.features import Features
from lib.generation import batches, jobs

MODEL = "gemini-3.1-flash-image"


def database(home: Path) -> tuple[str, str | None]:
    """(database url, server url to drop it from, or None for an embedded server)."""
    server = os.environ.get("TEST_DATABASE_URL") or os.environ.get("DATABASE_URL")
    if not server:
        return db.sqlalchemy_url(db.embedded_server(home / "pgdata").get_uri()), None
    server = db.sqlalchemy_url(server)
    name = f"studio_bench_{uuid.uuid4().hex[:8]}"
    with sa.create_engine(server, isolation_level="AUTOCOMMIT").connect() as conn:
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    return sa.make_url(server).set(database=name).render_as_string(hide_password=False), server


def drop(server: str | None, url: str) -> None:
    if server:
        name = sa.make_url(url).database
        with sa.create_engine(server, isolation_level="AUTOCOMMIT").connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def worker(url: str, home: Path, standin: StandinServer, *, ipm: int, in_flight: int, concurrency: int,
           log: bool, redis_url: str | None = None, extra: dict[str, str] | None = None) -> subprocess.Popen:
    env = os.environ | {
        "DATABASE_URL": url, "STUDIO_HOME": str(home), "STUDIO_COOKIE_KEY": "b" * 64,
        "GEMINI_API_KEY": "bench-key", "GEMINI_BASE_URL": standin.base_url, "GEMINI_IMAGES_PER_MINUTE": str(ipm),
        "GEMINI_MAX_IN_FLIGHT": str(in_flight), "WORKER_CONCURRENCY": str(concurrency),
        "WORKER_HEARTBEAT_SECONDS": "1", "GEMINI_BACKOFF_INITIAL_SECONDS": "0.5",
    }
    env |= extra or {}
    env.pop("REDIS_URL", None)
    if redis_url:  # several workers share the quota and the calls in flight through Redis
        env["REDIS_URL"] = redis_url
    return subprocess.Popen([sys.executable, "-m", "lib", "worker"], cwd=ROOT, env=env,
                            stdout=subprocess.DEVNULL, stderr=None if log else subprocess.DEVNULL)


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a running process (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def expression_list(engine, owner, character, images: int) -> list:
    """`images` distinct expressions: the built-in library, then custom ones for the rest."""
    chosen = list(expressions.LIBRARY.values())[:images]
    with engine.begin() as conn:
        for n in range(images - len(chosen)):
            chosen.append(custom_expressions.add(
                conn, actor=owner, character_id=character.id, key=f"bench_{n}", label_en=f"Bench {n}",
                label_ja=f"ベンチ{n}", prompt=f"a variation number {n}", intensity=2, face="happy"))
    return chosen


class PrerenderedAnswers:
    """The stand-in's answers drawn before the clock starts, so its own rendering (CPU in this process)
    does not compete with the workers being measured; the answers are the offline renderer's edits."""

    def __init__(self, base_png: bytes, chosen: list, width: int, height: int) -> None:
        self.answers = {e.prompt: offline_render(base_png, e.prompt, width, height) for e in chosen}

    def __call__(self, base_png: bytes, prompt: str, width: int, height: int) -> bytes:
        found = max((p for p in self.answers if p in prompt), key=len, default=None)
        return self.answers[found] if found else offline_render(base_png, prompt, width, height)


@dataclass
class BenchStudio:
    """A throwaway studio for a benchmark: its database, store, a pro user and a drawn character with
    `images` distinct expressions, and the stand-in's answers to them drawn before any clock starts."""

    url: str
    home: Path
    engine: sa.Engine
    settings: Any
    store: LocalStore
    owner: Any
    character: Any
    base_png: bytes
    chosen: list
    answers: PrerenderedAnswers


@contextlib.contextmanager
def bench_studio(name: str, *, images: int, size: str) -> Iterator[BenchStudio]:
    home = Path(tempfile.mkdtemp(prefix=f"studio-bench-{name}-")) / "studio"
    home.mkdir(parents=True)
    url, server = database(home)
    engine = sa.create_engine(url)
    try:
        migrations.upgrade(engine)
        settings = load_settings(database_url=url, studio_home=home, worker_stall_seconds=10.0)
        store = LocalStore(home / "objects")
        with engine.begin() as conn:
            owner = users.create_user(conn, email="bench@example.com", password="bench-password-1", plan="pro")
        image, box = characters.generate_base(Features(), size=(768, 1024))
        with engine.begin() as conn:
            character = characters.create_character(conn, store, actor=owner, name="Bench", image=image,
                                                    source="generated", face_box=box)
        chosen = expression_list(engine, owner, character, images)
        width, height = output_size(closest_aspect_ratio(768, 1024), size)
        yield BenchStudio(url=url, home=home, engine=engine, settings=settings, store=store, owner=owner,
                          character=character, base_png=image.png, chosen=chosen,
                          answers=PrerenderedAnswers(image.png, chosen, width, height))
    finally:
        engine.dispose()
        db.dispose_engines()
        drop(server, url)
        shutil.rmtree(home.parent, ignore_errors=True)


def wait_for_workers(engine: sa.Engine, count: int, *, timeout: float = 60) -> None:
    """Until `count` workers send heartbeats (they import the SDK and warm up first)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with engine.connect() as conn:
            if batches.workers_alive(conn, within_seconds=10) >= count:
                return
        time.sleep(0.2)


def run_scenario(engine, store, owner, character, settings, url, home, *, chosen, latency, ipm, in_flight,
                 concurrency, size, answers, log, workers=1, redis_url=None) -> None:
    images = len(chosen)
    if redis_url:
        import redis

        redis.Redis.from_url(redis_url).flushdb()  # no counts left from an earlier scenario
    with StandinServer(api_keys=["bench-key"], render=answers) as standin:
        standin.configure(latency_s=latency, ipm_limit=ipm)
        processes = [worker(url, home, standin, ipm=ipm, in_flight=in_flight, concurrency=concurrency, log=log,
                            redis_url=redis_url) for _ in range(workers)]
        try:
            wait_for_workers(engine, workers)
            request = jobs.JobRequest(expressions=chosen, variants=[], backend="gemini", model=MODEL,
                                            image_size=size)
            start, cpu_start = time.monotonic(), sum(cpu_seconds(p.pid) for p in processes)
            with engine.begin() as conn:
                submitted = batches.submit(conn, actor=owner, character=character, request=request,
                                           settings=settings)
            final = batches.wait(engine, actor=owner, job_id=submitted.job_id, settings=settings, timeout=900,
                                 poll_seconds=0.1)
            measured = time.monotonic() - start
            worker_cpu = sum(cpu_seconds(p.pid) for p in processes) - cpu_start
        finally:
            for process in processes:
                process.terminate()
            for process in processes:
                process.wait(timeout=30)
        stats = standin.stats()
    with engine.connect() as conn:
        timing = conn.execute(sa.text(
            "SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM finished_at - started_at)),"
            " extract(epoch FROM max(started_at) - min(started_at)),"
            " extract(epoch FROM min(started_at) - min(created_at)),"
            " extract(epoch FROM max(finished_at) - min(started_at))"
            " FROM differences WHERE job_id = :j"),
            {"j": submitted.job_id}).one()
    latency_bound = math.ceil(images / in_flight) * latency
    rate_bound = 60.0 * math.floor((images - 1) / ipm) + latency  # a moving one-minute window
    starts = ideal_starts(images, latency=latency, ipm=ipm, in_flight=in_flight)
    ideal = starts[-1] + latency
    last_wave = starts.count(starts[-1])  # answers that arrive together at the very end
    cores = os.cpu_count() or 1
    post = last_wave * worker_cpu / images / min(cores, last_wave)  # their post-processing, at best
    calls = stats["generate"]
    rejected = stats["by_outcome"].get("429", 0) + stats["by_outcome"].get("ipm_limit", 0)
    print(f"{images} images at {size}, {workers} worker process(es), latency {latency:.1f} s, {ipm} images/min, "
          f"{in_flight} in flight: "
          f"{final.done} done, {final.failed} failed")
    print(f"  ideal {ideal:.1f} s (both limits at once; latency alone {latency_bound:.1f} s, rate alone "
          f"{rate_bound:.1f} s), "
          f"measured {measured:.1f} s, efficiency {ideal / measured:.2f}")
    print(f"  per item: median {timing[0]:.2f} s from start to finish; starts spread over {timing[1]:.1f} s")
    print(f"  where the time went: submit to first start {timing[2]:.2f} s, first start to last image stored "
          f"{timing[3]:.2f} s, then {measured - float(timing[2]) - float(timing[3]):.2f} s until seen done")
    print(f"  HTTP calls per image {calls / images:.2f}, 429 answers {rejected} ({rejected / max(calls, 1):.1%})")
    print(f"  workers: {concurrency} items at once each, {worker_cpu / images:.3f} CPU-s per image")
    print(f"  the last {last_wave} answers arrive together; at that CPU per image their post-processing takes at "
          f"least {post:.2f} s on {cores} cores after the ideal: {ideal + post:.1f} s, efficiency against that "
          f"{(ideal + post) / measured:.2f}")


def ideal_starts(images: int, *, latency: float, ipm: int, in_flight: int, window: float = 60.0) -> list[float]:
    """When each call starts if every call starts the moment both limits allow it: call i waits for call
    i - in_flight to answer and for call i - ipm to leave the one-minute window. (The two bounds apart
    undercount: at 20 images/min with 10 in flight, calls 31-40 must also wait for calls 11-20 to leave the
    window, so 40 images take 66 s, not 63.) The ideal time is the last start plus the latency: every answer
    in, post-processing taking no time."""
    starts: list[float] = []
    for i in range(images):
        at = 0.0
        if i >= in_flight:
            at = max(at, starts[i - in_flight] + latency)
        if i >= ipm:
            at = max(at, starts[i - ipm] + window)
        starts.append(at)
    return starts


def one_at_a_time(base_png: bytes, chosen: list, *, latency: float, size: str) -> None:
    with StandinServer(api_keys=["bench-key"]) as standin:
        standin.configure(latency_s=latency)
        backend = GeminiBackend(GeminiConfig(api_key="bench-key", base_url=standin.base_url, model=MODEL,
                                             image_size=size))
        start = time.monotonic()
        for expression in chosen:
            backend.generate(backend.request_for(base_png=base_png, prompt=expression.prompt, width=768,
                                                 height=1024, expression_key=expression.key))
        print(f"the same {len(chosen)} images one at a time (backend calls only, no queue): "
              f"{time.monotonic() - start:.1f} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=40)
    parser.add_argument("--latency", type=float, default=3.0)
    parser.add_argument("--in-flight", type=int, default=10)
    parser.add_argument("--concurrency", type=int, help="items the worker runs at once (default: 2 x --in-flight)")
    parser.add_argument("--worker-log", action="store_true", help="show the worker's log on stderr")
    parser.add_argument("--size", default="512", choices=("512", "1K", "2K"))
    parser.add_argument("--quick", action="store_true", help="only the latency-bound scenario")
    parser.add_argument("--no-loop", action="store_true", help="skip the one-at-a-time comparison")
    parser.add_argument("--workers", type=int, default=1,
                        help="worker processes; more than one share the limits through --redis-url")
    parser.add_argument("--redis-url", default=os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/13"))
    args = parser.parse_args()
    with bench_studio("batch", images=args.images, size=args.size) as b:
        common = {"chosen": b.chosen, "latency": args.latency, "in_flight": args.in_flight, "size": args.size,
                  "answers": b.answers, "concurrency": args.concurrency or 2 * args.in_flight, "log": args.worker_log,
                  "workers": args.workers, "redis_url": args.redis_url if args.workers > 1 else None}
        scenario = (b.engine, b.store, b.owner, b.character, b.settings, b.url, b.home)
        run_scenario(*scenario, ipm=600, **common)
        if not args.quick:
            run_scenario(*scenario, ipm=max(args.images // 2, 1), **common)
        if not args.no_loop:
            one_at_a_time(b.base_png, b.chosen, latency=args.latency, size=args.size)


if __name__ == "__main__":
    main()
