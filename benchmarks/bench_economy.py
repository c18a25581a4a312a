"""An economy batch of 100 images through a real worker and the stand-in's Batch API with a 60 s batch delay.

Prints the wall time from submit to every image stored, the batch delay, the poll lag (Gemini's job ended →
the worker took its answers over), the post-processing time (first answer taken over → last image stored),
and the HTTP calls to the stand-in per image, polling included (goal <= 0.1). Uses DATABASE_URL /
TEST_DATABASE_URL's server when set (a throwaway database), else an embedded server.

    python -m benchmarks.bench_economy [--images 100] [--delay 60] [--poll 10] [--size 512] [--worker-log]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import sqlalchemy as sa

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.bench_batch import MODEL, bench_studio, cpu_seconds, wait_for_workers, worker
from devtools.gemini_standin import StandinServer
from lib.generation import batches, jobs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=100)
    parser.add_argument("--delay", type=float, default=60.0, help="seconds the stand-in's Batch API job takes")
    parser.add_argument("--poll", type=float, default=10.0, help="ECONOMY_POLL_SECONDS of the worker")
    parser.add_argument("--size", default="512", choices=("512", "1K", "2K"))
    parser.add_argument("--concurrency", type=int, default=8, help="items the worker post-processes at once")
    parser.add_argument("--worker-log", action="store_true")
    args = parser.parse_args()
    with bench_studio("economy", images=args.images, size=args.size) as b:
        engine, owner, character, settings = b.engine, b.owner, b.character, b.settings
        with StandinServer(api_keys=["bench-key"], render=b.answers) as standin:
            standin.configure(batch_delay_s=args.delay)
            process = worker(b.url, b.home, standin, ipm=600, in_flight=10, concurrency=args.concurrency,
                             log=args.worker_log, extra={"ECONOMY_POLL_SECONDS": str(args.poll)})
            try:
                wait_for_workers(engine, 1)
                request = jobs.JobRequest(expressions=b.chosen, variants=[], backend="gemini", model=MODEL,
                                          image_size=args.size, tier="economy")
                start, cpu_start = time.monotonic(), cpu_seconds(process.pid)
                with engine.begin() as conn:
                    submitted = batches.submit(conn, actor=owner, character=character, request=request,
                                               settings=settings)
                final = batches.wait(engine, actor=owner, job_id=submitted.job_id, settings=settings, timeout=900,
                                     poll_seconds=0.2)
                wall = time.monotonic() - start
                cpu = cpu_seconds(process.pid) - cpu_start
                [job] = standin.engine.batches.values()
                gemini_end = job.created + job.delay_s  # epoch seconds: when the stand-in's job ended
            finally:
                process.terminate()
                process.wait(timeout=30)
            stats = standin.stats()
        with engine.connect() as conn:
            row = conn.execute(sa.text(
                "SELECT extract(epoch FROM min(started_at)), extract(epoch FROM max(finished_at)),"
                " extract(epoch FROM min(created_at)) FROM differences WHERE job_id = :j"),
                {"j": submitted.job_id}).one()
        first_start, last_done, submitted_at = (float(v) for v in row)
        calls = stats["total"]
        print(f"{args.images} economy images at {args.size}: {final.done} done, {final.failed} failed; "
              f"{submitted.credits_held} credits held ({submitted.credits_per_image} per image)")
        print(f"  wall time {wall:.1f} s = batch delay {args.delay:.1f} s + submit to Gemini "
              f"{job.created - submitted_at:.1f} s + poll lag {first_start - gemini_end:.1f} s "
              f"(ECONOMY_POLL_SECONDS {args.poll:g}) + post-processing {last_done - first_start:.1f} s "
              f"+ seen done {wall - (last_done - submitted_at):.1f} s")
        print(f"  HTTP calls to the stand-in: {calls} ({stats['by_outcome']}), per image {calls / args.images:.3f} "
              f"(goal <= 0.1); generateContent calls {stats['generate']}")
        print(f"  worker CPU {cpu / args.images:.3f} s per image")


if __name__ == "__main__":
    main()
