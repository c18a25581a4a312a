"""The consistency score: orders a reduced calibration set, flags unchanged faces, reads files."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from lib.consistency.score import DEFAULT_THRESHOLD, Score, score, score_files
from lib.lab.calibration import Case, build_calibration_set, roc_auc

PARTS = {"preservation", "palette", "structure", "framing", "face_changed"}


@pytest.fixture(scope="module")
def scored() -> list[tuple[Case, Score]]:
    cases = build_calibration_set(n_characters=3, seed=11)
    return [(c, score(c.base, c.result, face_box=c.face_box)) for c in cases]


def test_reduced_set_is_ordered(scored: list[tuple[Case, Score]]) -> None:
    labels = np.array([c.label for c, _ in scored])
    totals = np.array([s.total for _, s in scored])
    assert roc_auc(labels, totals) >= 0.98
    assert np.median(totals[labels]) >= 85


def test_unchanged_faces_are_flagged(scored: list[tuple[Case, Score]]) -> None:
    unchanged = [s for c, s in scored if c.kind.startswith("neg_unchanged")]
    assert unchanged
    assert all("unchanged_face" in s.flags and not s.passed for s in unchanged)


def test_parts_are_present_and_in_range(scored: list[tuple[Case, Score]]) -> None:
    for _, s in scored:
        assert set(s.parts) == PARTS
        assert all(0 <= v <= 100 for v in s.parts.values()) and 0 <= s.total <= 100
        assert s.passed == (s.total >= DEFAULT_THRESHOLD and not {"unchanged_face", "misaligned"} & set(s.flags))


def test_wrong_framing_and_other_character_fail(scored: list[tuple[Case, Score]]) -> None:
    for c, s in scored:
        if c.kind in ("neg_shift", "neg_zoom"):
            assert "framing_drift" in s.flags and not s.passed
        if c.kind == "neg_other_character":
            assert not s.passed


def test_score_files_reads_pngs_and_serialises(tmp_path: Path, scored: list[tuple[Case, Score]]) -> None:
    case = next(c for c, _ in scored if c.kind == "pos_combo")
    base_path, result_path = tmp_path / "base.png", tmp_path / "result.png"
    case.base.save(base_path)
    case.result.save(result_path)
    given = score_files(base_path, result_path, face_box=case.face_box)
    estimated = score_files(base_path, result_path)
    assert given.passed and estimated.passed
    data = json.loads(json.dumps(given.to_json()))
    assert set(data["parts"]) == PARTS and data["passed"] is True and isinstance(data["flags"], list)


def test_passed_uses_the_threshold_the_caller_gives() -> None:
    case = next(c for c in build_calibration_set(n_characters=1) if c.kind == "pos_clean")
    default = score(case.base, case.result, face_box=case.face_box)
    assert default.passed and default.threshold == DEFAULT_THRESHOLD
    strict = score(case.base, case.result, face_box=case.face_box, threshold=default.total + 0.1)
    assert not strict.passed and strict.total == default.total
    assert strict.to_json()["threshold"] == default.total + 0.1


def test_the_pipeline_scores_with_the_configured_threshold(monkeypatch: pytest.MonkeyPatch) -> None:
    from lib.consistency import postprocess
    from lib.core import settings
    from lib.core.images import png_bytes

    case = next(c for c in build_calibration_set(n_characters=1) if c.kind == "pos_scale")
    pair = png_bytes(case.base), png_bytes(case.result)
    configured = settings.get_settings().consistency_threshold
    usual = postprocess.finish(*pair, face_box=case.face_box, threshold=configured).score
    assert usual.passed and usual.threshold == 70.0 and usual.total < 99
    monkeypatch.setenv("CONSISTENCY_THRESHOLD", f"{usual.total + 0.5:.2f}")
    settings.get_settings.cache_clear()
    strict = postprocess.finish(*pair, face_box=case.face_box,
                                threshold=settings.get_settings().consistency_threshold).score
    assert strict.total == usual.total and not strict.passed
