"""`make bench`: run every benchmark under benchmarks/ (bench_*.py) and print its figures."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# Benchmarks run more than once, with these arguments (others run once, with none).
RUNS = {"bench_batch": [[], ["--size", "2K", "--workers", "2", "--no-loop"]]}


def main() -> int:
    failed = []
    for path in sorted((ROOT / "benchmarks").glob("bench_*.py")):
        for extra in RUNS.get(path.stem, [[]]):
            module = " ".join([f"benchmarks.{path.stem}", *extra])
            print(f"\n=== {module} ===", flush=True)
            start = time.monotonic()
            code = subprocess.call([sys.executable, "-m", f"benchmarks.{path.stem}", *extra], cwd=ROOT)
            print(f"--- {module}: {'ok' if code == 0 else f'exit {code}'} in {time.monotonic() - start:.1f} s",
                  flush=True)
            if code:
                failed.append(module)
    if failed:
        print(f"\nfailed: {', '.join(failed)}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
