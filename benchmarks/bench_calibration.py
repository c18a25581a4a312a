"""Calibrate the consistency score on the synthetic set plus the real-artwork set (see `lib/lab/calibration.py`,
`lib/lab/real_artwork.py`).

Run from the repository root: `python benchmarks/bench_calibration.py [n_characters] [seed] [--faces both]`.
`--faces` says whose face box, eyes and mouth the real set is scored with: `hand` (measured by hand),
`detected` (the studio's face finder run on each base sprite, as on an upload) or `both` (the default: each
real case twice). Prints, for the real artwork and for the combined set: ROC AUC, per case kind the count, the
min/median/max total and the verdicts, the wrong verdicts, the threshold that maximises F1 and how
`DEFAULT_THRESHOLD` does (precision and recall of the score's verdicts, which need the total AND no failing flag).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from lib.consistency.score import DEFAULT_THRESHOLD
from lib.lab import real_artwork
from lib.lab.calibration import (
    build_calibration_set,
    choose_threshold,
    per_kind,
    roc_auc,
    roc_table,
    score_cases,
    verdict_precision_recall,
)


def report(name: str, scored: pd.DataFrame) -> None:
    labels, totals = scored["label"].to_numpy(bool), scored["total"].to_numpy()
    print(f"\n== {name}: {len(scored)} cases ({labels.sum()} to accept, {(~labels).sum()} to reject)")
    print(f"ROC AUC: {roc_auc(labels, totals):.4f}")
    with pd.option_context("display.width", 160, "display.max_rows", 200):
        print(per_kind(scored).to_string())
    wrong = scored[scored["label"] != scored["passed"]]
    print(f"wrong verdicts: {len(wrong)} of {len(scored)}")
    if len(wrong):
        cols = [c for c in ("faces", "kind", "character", "total", "identity", "change", "seam", "flags") if c in wrong]
        print(wrong[cols].round(1).to_string())
    print(f"F1-best threshold on this set: {choose_threshold(roc_table(labels, totals)):.1f}")
    p, r = verdict_precision_recall(scored)
    print(f"verdicts at DEFAULT_THRESHOLD {DEFAULT_THRESHOLD}: precision {p:.3f}, recall {r:.3f}")


def real_scored(faces: str) -> pd.DataFrame:
    """The real set scored once per face source asked for, with a `faces` column saying which."""
    chosen = real_artwork.FACES if faces == "both" else (faces,)
    frames = [score_cases(real_artwork.build_real_set(faces=f)).assign(faces=f) for f in chosen]  # type: ignore[arg-type]
    return pd.concat(frames, ignore_index=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("n", nargs="?", type=int, default=8, help="synthetic characters (default 8)")
    parser.add_argument("seed", nargs="?", type=int, default=7, help="seed of the synthetic set (default 7)")
    parser.add_argument("--faces", choices=(*real_artwork.FACES, "both"), default="both",
                        help="the real set's face boxes: hand-measured, the face finder's, or both (default)")
    args = parser.parse_args()
    start = time.perf_counter()
    synthetic = score_cases(build_calibration_set(n_characters=args.n, seed=args.seed)).assign(faces="synthetic")
    present = real_artwork.REAL_DEV.is_dir()
    scored_real = real_scored(args.faces) if present else synthetic.iloc[:0]
    scored = pd.concat([synthetic, scored_real], ignore_index=True)
    each = (time.perf_counter() - start) / len(scored) * 1000
    print(f"built and scored {len(scored)} cases in {time.perf_counter() - start:.1f} s ({each:.0f} ms each)")
    if present:
        report(f"real artwork (../shared/real-dev), faces: {args.faces}", scored_real)
        for faces, group in scored_real.groupby("faces", sort=False):
            labels = group["label"].to_numpy(bool)
            wrong = int((group["label"] != group["passed"]).sum())
            print(f"  {faces} faces: ROC AUC {roc_auc(labels, group['total'].to_numpy()):.4f}, "
                  f"{wrong} wrong verdicts of {len(group)}")
    else:
        print("(../shared/real-dev is not here: synthetic set only)")
    report("combined (synthetic + real)", scored)


if __name__ == "__main__":
    main()
