"""Install time: a fresh virtualenv plus the pinned runtime requirements, as `make run` does it.

Prints the time with uv's download cache as it is on this machine (the usual developer case) and,
with --cold, with an empty cache (everything downloaded again from the package index).
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def timed_install(workdir: Path, *, cold: bool) -> float:
    venv = workdir / "venv"
    start = time.monotonic()
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    subprocess.run([str(venv / "bin" / "pip"), "install", "--quiet", "--disable-pip-version-check", "uv==0.13.9"],
                   check=True)
    command = [str(venv / "bin" / "uv"), "pip", "install", "--quiet", "--python", str(venv / "bin" / "python"),
               "-r", str(ROOT / "requirements.txt")]
    if cold:
        command += ["--cache-dir", str(workdir / "uv-cache")]
    subprocess.run(command, check=True)
    return time.monotonic() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--cold", action="store_true", help="also measure with an empty download cache")
    args = parser.parse_args()
    for cold in ([False, True] if args.cold else [False]):
        workdir = Path(tempfile.mkdtemp(prefix="studio-install-"))
        try:
            seconds = timed_install(workdir, cold=cold)
        finally:
            shutil.rmtree(workdir, ignore_errors=True)
        print(f"install (venv + requirements.txt, {'empty' if cold else 'warm'} cache): {seconds:.1f} s")


if __name__ == "__main__":
    main()
