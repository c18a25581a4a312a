"""The review grid of a visual-novel set in Chromium: 117 images (39 expressions × mouth-open and blink) of
2048² PNGs with photographic noise, as big as Gemini's 2K answers. Prints the bytes the browser receives to
show the grid (HTTP bodies and websocket frames) and the time until every thumbnail has loaded, on the first
(cold: thumbnails are made) and a warm view. Goals: ≤ 15 MB and ≤ 3 s warm.

Needs /usr/bin/chromium and Playwright (requirements-dev.txt); skips with a message without them.
"""

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

import numpy as np
from PIL import Image
from sqlalchemy import text

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = Path(os.environ.get("STUDIO_CHROMIUM", "/usr/bin/chromium"))
EMAIL, PASSWORD = "bench@studio.local", "bench-review-password"
SIZE = 2048
DISTINCT = 12  # distinct noise pictures, reused across the 117 stored objects (each its own key)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def noisy_png(seed: int) -> bytes:
    """A 2048² picture: a smooth gradient under Gaussian noise, which compresses like a photo (megabytes)."""
    from lib.core.images import png_bytes

    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:SIZE, 0:SIZE]
    smooth = np.stack([x / SIZE * 255, y / SIZE * 255, (x + y) / (2 * SIZE) * 255], axis=-1)
    noise = rng.normal(0, 12, smooth.shape).astype(np.float32)
    pixels = np.clip(smooth.astype(np.float32) + noise, 0, 255).astype(np.uint8)
    return png_bytes(Image.fromarray(pixels, "RGB"))


def seed_grid(home: Path) -> tuple[int, int]:
    """A member, a character and one finished 117-image batch in the running studio's database and store."""
    os.environ["STUDIO_HOME"] = str(home)
    from lib.accounts import users
    from lib.catalog import characters
    from lib.core import db
    from lib.core.images import clean_upload
    from lib.core.settings import get_settings
    from lib.core.storage import diff_key, make_store
    from lib.design import expressions
    from lib.design.face_box import FaceBox
    from lib.generation import jobs

    settings = get_settings()
    engine, store = db.get_engine(settings), make_store(settings)
    pictures = [noisy_png(seed) for seed in range(DISTINCT)]
    base = clean_upload(pictures[0], max_bytes=50 << 20, max_pixels=40_000_000, min_side=64, max_aspect=4.0)
    with engine.begin() as conn:
        member = users.create_user(conn, email=EMAIL, password=PASSWORD, plan="pro")
        # A box given by the caller is the user's (noise has no face to find; a batch needs a confirmed one).
        character = characters.create_character(conn, store, actor=member, name="Noise", image=base,
                                                face_box=FaceBox(SIZE // 4, SIZE // 4, SIZE // 2, SIZE // 2))
        request = jobs.JobRequest(expressions=list(expressions.LIBRARY.values()), variants=["mouth_open", "blink"],
                                  backend="gemini", model="gemini-3.1-flash-image", image_size="2K")
        _, ids = jobs.create_job(conn, actor=member, character=character, request=request)
        for n, difference_id in enumerate(ids):
            key = diff_key(user_id=member.id, character_id=character.id, name=f"{difference_id}.png")
            store.put(key, pictures[n % DISTINCT])
            conn.execute(text("UPDATE differences SET status = 'done', image_key = :k, score = 90 WHERE id = :d"),
                         {"k": key, "d": difference_id})
        conn.execute(text("UPDATE generation_jobs SET status = 'done', finished_at = now()"))
    engine.dispose()
    return len(ids), sum(len(p) for p in pictures) // DISTINCT


COUNT_BYTES = """
() => new Promise((resolve) => {
  const imgs = [...document.querySelectorAll('[data-testid="stMain"] img')];
  resolve(imgs.filter((i) => i.complete && i.naturalWidth > 0).length);
})
"""


def measure(page, cdp, url: str, images: int) -> tuple[float, int, int]:
    """Open the Generate page; (seconds until `images` images have loaded, HTTP bytes, websocket bytes)."""
    received = {"http": 0, "ws": 0}
    cdp.on("Network.loadingFinished", lambda e: received.__setitem__("http", received["http"]
                                                                      + int(e["encodedDataLength"])))
    cdp.on("Network.webSocketFrameReceived",
           lambda e: received.__setitem__("ws", received["ws"] + len(e["response"]["payloadData"])))
    start = time.monotonic()
    page.goto(url)
    page.wait_for_function(f"() => [...document.querySelectorAll('[data-testid=\"stMain\"] img')]"
                           f".filter((i) => i.complete && i.naturalWidth > 0).length >= {images}",
                           timeout=600_000, polling=50)
    seconds = time.monotonic() - start
    page.wait_for_timeout(500)  # let the last frames of the run arrive
    return seconds, received["http"], received["ws"]


def main() -> None:
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        print("skipped: playwright is not installed (requirements-dev.txt)")
        return
    if not CHROMIUM.exists():
        print(f"skipped: {CHROMIUM} is missing")
        return
    top = Path(tempfile.mkdtemp(prefix="studio-bench-grid-"))
    home, port = top / "studio", free_port()
    runtime = top / "xdg"
    runtime.mkdir(mode=0o700)
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "S3_BUCKET", "GEMINI_API_KEY")}
    env |= {"STUDIO_HOME": str(home), "STUDIO_ADMIN_PASSWORD": "bench-admin-password", "XDG_RUNTIME_DIR": str(runtime)}
    process = subprocess.Popen([sys.executable, "-m", "lib", "run", "--port", str(port)], cwd=ROOT, env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        deadline = time.monotonic() + 180
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=1):
                    break
            except OSError:
                if time.monotonic() > deadline:
                    raise RuntimeError("the studio did not become healthy") from None
                time.sleep(0.2)
        os.environ["XDG_RUNTIME_DIR"] = str(runtime)
        started = time.monotonic()
        count, png_bytes = seed_grid(home)
        print(f"seeded {count} images of {SIZE}² (PNG about {png_bytes / 1e6:.1f} MB each, "
              f"{count * png_bytes / 1e6:.0f} MB if sent whole) in {time.monotonic() - started:.0f} s")
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox", "--headless"])
            context = browser.new_context(viewport={"width": 1400, "height": 1000},
                                          base_url=f"http://127.0.0.1:{port}")
            page = context.new_page()
            page.goto("/")
            page.get_by_role("button", name="Sign in").wait_for()
            page.wait_for_timeout(1500)  # the cookie component's first value reruns the page: typing could be lost
            page.get_by_role("textbox", name="Email").fill(EMAIL)
            page.get_by_role("textbox", name="Password").fill(PASSWORD)
            page.get_by_role("button", name="Sign in").click()
            page.get_by_role("heading", name="Characters").wait_for()
            page.wait_for_timeout(1500)  # the sign-in cookie is written after the run
            for label in ("cold (thumbnails made)", "warm", "warm again"):
                tab = context.new_page()
                cdp = context.new_cdp_session(tab)
                cdp.send("Network.enable")
                seconds, http, ws = measure(tab, cdp, "/generate", count + 1)  # the base, then the grid
                print(f"{label:24s}: every thumbnail visible after {seconds:5.2f} s; browser received "
                      f"{(http + ws) / 1e6:6.2f} MB ({http / 1e6:.2f} MB HTTP, {ws / 1e6:.2f} MB websocket)")
                tab.close()
            browser.close()
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=60)
        shutil.rmtree(top, ignore_errors=True)


if __name__ == "__main__":
    main()
