"""Calibrate the consistency score on the synthetic set plus the real-artwork set (see `lib/lab/calibration.py`,
`lib/lab/real_artwork.py`).

Run from the repository root: `python benchmarks/bench_calibration.py [n_characters] [seed]`.
Prints, for the combined set and for the real artwork alone: ROC AUC, per case kind the count, the
min/median/max total and the verdicts, the threshold that maximises F1 and how `DEFAULT_THRESHOLD` does
(precision and recall of the score's verdicts, which need the total AND no failing flag).
"""

from __future__ import annotations

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
    print(f"F1-best threshold on this set: {choose_threshold(roc_table(labels, totals)):.1f}")
    p, r = verdict_precision_recall(scored)
    print(f"verdicts at DEFAULT_THRESHOLD {DEFAULT_THRESHOLD}: precision {p:.3f}, recall {r:.3f}")


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 8
    seed = int(sys.argv[2]) if len(sys.argv) > 2 else 7
    start = time.perf_counter()
    synthetic = build_calibration_set(n_characters=n, seed=seed)
    real = real_artwork.build_real_set() if real_artwork.REAL_DEV.is_dir() else []
    built = time.perf_counter()
    scored_real = score_cases(real)
    scored = pd.concat([score_cases(synthetic), scored_real], ignore_index=True)
    done = time.perf_counter()
    each = (done - built) / len(scored) * 1000
    print(f"built in {built - start:.1f} s, scored {len(scored)} in {done - built:.1f} s ({each:.0f} ms each)")
    if real:
        report("real artwork (../shared/real-dev)", scored_real)
    else:
        print("(../shared/real-dev is not here: synthetic set only)")
    report("combined (synthetic + real)", scored)


if __name__ == "__main__":
    main()
