"""Time to healthy: `python -m lib run` from a fresh `.studio/` (initdb, migrations, first admin)
until /_stcore/health answers, and again on the second start with the data already there."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def time_to_healthy(home: Path) -> float:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"} | {"STUDIO_HOME": str(home)}
    start = time.monotonic()
    process = subprocess.Popen([sys.executable, "-m", "lib", "run", "--port", str(port)], cwd=ROOT, env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        while time.monotonic() - start < 120:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=1) as response:
                    if response.status == 200:
                        return time.monotonic() - start
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("the studio did not become healthy within 120 s")
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=30)


def main() -> None:
    home = Path(tempfile.mkdtemp(prefix="studio-bench-")) / "studio"
    try:
        print(f"time to healthy, fresh .studio/ (initdb + migrate + seed): {time_to_healthy(home):.2f} s")
        print(f"time to healthy, second start:                          {time_to_healthy(home):.2f} s")
    finally:
        shutil.rmtree(home.parent, ignore_errors=True)


if __name__ == "__main__":
    main()
