"""Time the whole consistency pipeline on a 2048x2048 pair, on one core.

Run from the repository root: `python benchmarks/bench_consistency.py`. Prints the median seconds of
align + paste-back + score + PNG encode over 5 results of one base, and of each step (a worker derives a
base's work copies once, so the first result of a base costs more: printed too), and the score including
alignment (placement + score). Goal: <= 0.5 s. When ../shared/real-dev is present, also the score including
alignment of an artist's pair (TyranoScript's akane normal -> happy, scaled to 2048x2048) on the face finder's
box, eyes and mouth, as an upload is scored.
"""

from __future__ import annotations

import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from PIL import Image

from lib.consistency.align import align_to_base
from lib.consistency.composite import paste_back
from lib.consistency.face_finder import find_face
from lib.consistency.face_parts import FaceParts
from lib.consistency.score import prepare, score
from lib.core.images import png_bytes
from lib.design.expressions import LIBRARY
from lib.design.features import Features
from lib.lab import real_artwork
from lib.lab.calibration import Drift, apply_drift
from lib.render.portrait import face_box, render_portrait
from lib.worker.process import one_thread_per_call

SIZE = (2048, 2048)
RUNS = 5


def _timed(fn: Callable[[], object]) -> tuple[float, object]:
    start = time.perf_counter()
    value = fn()
    return time.perf_counter() - start, value


def main() -> None:
    one_thread_per_call()  # as in a worker
    features = Features(hair_color="#f2c35b", hair_style="twin_tails", outfit_color="#b8324a")
    base, box = render_portrait(features, size=SIZE), face_box(SIZE)
    drift = Drift(shift=(0.02, -0.01), scale=1.03, rotation=1.0, gain=(1.04, 1.0, 0.96), jpeg=90)
    variant = apply_drift(render_portrait(features, size=SIZE, expression=LIBRARY["happy"]), drift)
    steps: dict[str, list[float]] = {"placement": [], "warp": [], "paste_back": [], "score": [], "png": [],
                                     "total": []}
    for _ in range(RUNS):  # the same steps as lib.consistency.postprocess.finish: one placement estimate, used twice
        t_place, prepared = _timed(lambda: prepare(base, variant, face_box=box))
        t_warp, al = _timed(lambda p=prepared: align_to_base(base, variant, face_box=box, transform=p[1]))
        t_paste, out = _timed(lambda al=al: paste_back(base, al.image, face_box=box))
        t_score, s = _timed(lambda p=prepared: score(base, variant, face_box=box, expression="happy", prepared=p))
        t_png, _ = _timed(lambda out=out: png_bytes(out))
        parts = (t_place, t_warp, t_paste, t_score, t_png)
        for name, t in zip(steps, parts, strict=False):
            steps[name].append(t)
        steps["total"].append(sum(parts))
    print(f"2048x2048 pair, one core, median of {RUNS} results of one base "
          f"(the first, deriving the base's work copies: {steps['total'][0]:.3f} s):")
    for name, times in steps.items():
        print(f"  {name:10s} {statistics.median(times):.3f} s")
    scoring = [p + s for p, s in zip(steps["placement"], steps["score"], strict=True)]
    print(f"score including alignment (placement + score): {statistics.median(scoring):.3f} s (goal <= 0.5 s)")
    print(f"score: {s.total:.1f} {list(s.flags)}")  # type: ignore[attr-defined]
    if real_artwork.REAL_DEV.is_dir():
        real_upload_pair()


def _square(image: Image.Image) -> Image.Image:
    """`image` centred on a transparent 2048x2048 canvas, scaled to fill its height."""
    scaled = image.resize((round(image.width * SIZE[1] / image.height), SIZE[1]), Image.Resampling.LANCZOS)
    canvas = Image.new("RGBA", SIZE, (0, 0, 0, 0))
    canvas.alpha_composite(scaled, ((SIZE[0] - scaled.width) // 2, 0))
    return canvas


def real_upload_pair() -> None:
    base = _square(real_artwork.load(real_artwork.REAL_DEV, "tyrano/akane_normal.png"))
    happy = _square(real_artwork.load(real_artwork.REAL_DEV, "tyrano/akane_happy.png"))
    variant = apply_drift(happy, Drift(shift=(0.01, -0.01), scale=1.02, rotation=0.8, jpeg=90))
    found = find_face(base)
    parts = FaceParts.from_points(found.box, *found.points)
    times = []
    for _ in range(RUNS):
        start = time.perf_counter()
        prepared = prepare(base, variant, face_box=found.box)
        s = score(base, variant, face_box=found.box, parts=parts, expression="happy", prepared=prepared)
        times.append(time.perf_counter() - start)
    print(f"real upload pair (akane normal -> happy at 2048x2048, face finder's box {tuple(found.box)}): score "
          f"including alignment {statistics.median(times):.3f} s (goal <= 0.5 s); score {s.total:.1f} "
          f"{'passed' if s.passed else 'flagged'} {list(s.flags)}")


if __name__ == "__main__":
    main()
