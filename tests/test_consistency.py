"""The consistency score on the synthetic set: orders it, judges both modes, reads files, uses the threshold."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from lib.consistency.score import DEFAULT_THRESHOLD, INFO_FLAGS, Score, score, score_files
from lib.lab.calibration import Case, build_calibration_set, roc_auc, score_case

PARTS = {"identity", "change", "seam", "placement"}
RAW_PARTS = {"identity", "change", "preservation", "palette", "structure", "framing", "placement"}


@pytest.fixture(scope="module")
def scored() -> list[tuple[Case, Score]]:
    cases = build_calibration_set(n_characters=3, seed=11)
    return [(c, score_case(c)) for c in cases]


def test_reduced_set_is_ordered(scored: list[tuple[Case, Score]]) -> None:
    labels = np.array([c.label for c, _ in scored])
    totals = np.array([s.total for _, s in scored])
    assert roc_auc(labels, totals) >= 0.95
    assert np.median(totals[labels]) >= 85


def test_unchanged_faces_are_flagged(scored: list[tuple[Case, Score]]) -> None:
    unchanged = [s for c, s in scored if c.kind.startswith("neg_unchanged")]
    assert unchanged
    assert all("unchanged_face" in s.flags and not s.passed for s in unchanged)


def test_parts_are_present_and_in_range(scored: list[tuple[Case, Score]]) -> None:
    for _, s in scored:
        if "unplaceable" in s.flags:
            assert s.parts == {"placement": 0.0} and s.total == 0 and not s.passed
            continue
        assert set(s.parts) == PARTS and set(s.restored) == {"preservation", "palette", "structure", "framing"}
        assert all(0 <= v <= 100 for v in s.parts.values()) and 0 <= s.total <= 100
        assert s.passed == (s.total >= DEFAULT_THRESHOLD and not set(s.flags) - INFO_FLAGS)


def test_drift_outside_the_face_is_restored_with_paste_back_and_fails_without(
    scored: list[tuple[Case, Score]],
) -> None:
    for c, s in scored:
        if c.kind in ("neg_shift", "neg_zoom"):
            assert s.passed and "restored_by_paste_back" in s.flags
            raw = score_case(c, paste_back=False)
            assert set(raw.parts) == RAW_PARTS and "framing_drift" in raw.flags and not raw.passed
        if c.kind == "neg_other_character":
            assert not s.passed


def test_score_files_reads_pngs_and_serialises(tmp_path: Path, scored: list[tuple[Case, Score]]) -> None:
    case = next(c for c, _ in scored if c.kind == "pos_combo")
    base_path, result_path = tmp_path / "base.png", tmp_path / "result.png"
    case.base.save(base_path)
    case.result.save(result_path)
    given = score_files(base_path, result_path, face_box=case.face_box, expression=case.expression)
    assert given.passed
    data = json.loads(json.dumps(given.to_json()))
    assert set(data["parts"]) == PARTS and data["passed"] is True and isinstance(data["flags"], list)
    assert data["paste_back"] is True and set(data["restored"]) == {"preservation", "palette", "structure", "framing"}


def test_passed_uses_the_threshold_the_caller_gives() -> None:
    case = next(c for c in build_calibration_set(n_characters=1) if c.kind == "pos_clean")
    default = score_case(case)
    assert default.passed and default.threshold == DEFAULT_THRESHOLD
    strict = score(case.base, case.result, face_box=case.face_box, expression=case.expression,
                   threshold=default.total + 0.1)
    assert not strict.passed and strict.total == default.total
    assert strict.to_json()["threshold"] == default.total + 0.1


def test_the_pipeline_scores_with_the_configured_threshold(monkeypatch: pytest.MonkeyPatch) -> None:
    from lib.consistency import postprocess
    from lib.core import settings
    from lib.core.images import png_bytes

    configured = settings.get_settings().consistency_threshold
    for case in build_calibration_set(n_characters=2):  # a passing result that is not perfect
        pair = png_bytes(case.base), png_bytes(case.result)
        usual = postprocess.finish(*pair, face_box=case.face_box, expression=case.expression,
                                   variant=case.variant, threshold=configured).score
        if usual.passed and usual.total < 99:
            break
    assert usual.passed and usual.threshold == configured and usual.total < 99
    monkeypatch.setenv("CONSISTENCY_THRESHOLD", f"{usual.total + 0.5:.2f}")
    settings.get_settings.cache_clear()
    strict = postprocess.finish(*pair, face_box=case.face_box, expression=case.expression, variant=case.variant,
                                threshold=settings.get_settings().consistency_threshold).score
    assert strict.total == usual.total and not strict.passed
