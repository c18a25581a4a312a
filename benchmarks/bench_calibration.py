"""Calibrate the consistency score on the generated benchmark set (see `lib/lab/calibration.py`).

Run from the repository root: `python benchmarks/bench_calibration.py [n_characters] [seed]`.
Prints ROC AUC, the score distribution per case kind, the threshold that maximises balanced accuracy
and how `DEFAULT_THRESHOLD` does (precision, recall), and whether every unchanged face was caught.
"""

from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from lib.consistency.score import DEFAULT_THRESHOLD, Score, score
from lib.lab.calibration import Case, build_calibration_set, roc_auc


def precision_recall(labels: np.ndarray, passed: np.ndarray) -> tuple[float, float]:
    tp = int((passed & labels).sum())
    return tp / max(1, int(passed.sum())), tp / max(1, int(labels.sum()))


def best_threshold(labels: np.ndarray, totals: np.ndarray) -> float:
    """The midpoint threshold with the best balanced accuracy."""
    cands = np.unique(totals)
    mids = (cands[:-1] + cands[1:]) / 2 if len(cands) > 1 else cands
    acc = [((totals >= t) & labels).sum() / labels.sum() + ((totals < t) & ~labels).sum() / (~labels).sum()
           for t in mids]
    return float(mids[int(np.argmax(acc))])


def report(cases: list[Case], scores: list[Score]) -> None:
    labels = np.array([c.label for c in cases])
    totals = np.array([s.total for s in scores])
    print(f"cases: {len(cases)} ({labels.sum()} positive, {(~labels).sum()} negative)")
    print(f"ROC AUC: {roc_auc(labels, totals):.4f}")
    print(f"{'kind':22s} {'n':>3s} {'min':>6s} {'median':>6s} {'max':>6s}  passed  flags")
    for kind in dict.fromkeys(c.kind for c in cases):
        sel = [s for c, s in zip(cases, scores, strict=True) if c.kind == kind]
        t = [s.total for s in sel]
        flags = sorted({f for s in sel for f in s.flags})
        print(f"{kind:22s} {len(t):3d} {min(t):6.1f} {statistics.median(t):6.1f} {max(t):6.1f}  "
              f"{sum(s.passed for s in sel):3d}/{len(sel):<3d} {','.join(flags)}")
    pos_median = statistics.median(totals[labels])
    print(f"positives' median total: {pos_median:.1f}")
    print(f"balanced-accuracy threshold on this set: {best_threshold(labels, totals):.1f}")
    passed = np.array([s.passed for s in scores])
    p, r = precision_recall(labels, passed)
    print(f"DEFAULT_THRESHOLD {DEFAULT_THRESHOLD}: precision {p:.3f}, recall {r:.3f}")
    unchanged = [s for c, s in zip(cases, scores, strict=True) if c.kind.startswith("neg_unchanged")]
    caught = sum((not s.passed) or "unchanged_face" in s.flags for s in unchanged)
    print(f"unchanged faces caught: {caught}/{len(unchanged)}")


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 8
    seed = int(sys.argv[2]) if len(sys.argv) > 2 else 7
    start = time.perf_counter()
    cases = build_calibration_set(n_characters=n, seed=seed)
    built = time.perf_counter()
    scores = [score(c.base, c.result, face_box=c.face_box) for c in cases]
    done = time.perf_counter()
    each = (done - built) / len(cases) * 1000
    print(f"built in {built - start:.1f} s, scored in {done - built:.1f} s ({each:.0f} ms each)")
    report(cases, scores)


if __name__ == "__main__":
    main()
