"""Calibration helpers: the ROC table counts what passing at each threshold means; the choice maximises it."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from lib.lab.calibration import (
    RESTORED_BY_PASTE_BACK,
    build_calibration_set,
    choose_threshold,
    per_kind,
    roc_table,
    score_cases,
    verdict_precision_recall,
)


def test_roc_table_counts_a_small_example_by_hand() -> None:
    labels = np.array([True, True, True, False, False])
    scores = np.array([90.0, 80.0, 40.0, 60.0, 10.0])
    table = roc_table(labels, scores)
    assert table["threshold"].tolist() == [85.0, 70.0, 50.0, 25.0, 0.0]
    assert table[["tp", "fp"]].values.tolist() == [[1, 0], [2, 0], [2, 1], [3, 1], [3, 2]]
    row = table[table["threshold"] == 70.0].iloc[0]
    assert row.tpr == pytest.approx(2 / 3) and row.fpr == 0 and row.precision == 1 and row.f1 == pytest.approx(0.8)
    assert choose_threshold(table, rule="f1") == 25.0  # F1 0.857 there: the two rules disagree
    assert choose_threshold(table, rule="youden_j") == 70.0


@given(st.lists(st.tuples(st.booleans(), st.floats(0, 100)), min_size=2, max_size=40))
def test_roc_table_is_monotone_and_ends_passing_everything(pairs: list[tuple[bool, float]]) -> None:
    labels = np.array([p[0] for p in pairs])
    scores = np.array([p[1] for p in pairs])
    table = roc_table(labels, scores)
    assert (np.diff(table["tpr"]) >= 0).all() and (np.diff(table["fpr"]) >= 0).all()
    assert table["tp"].iloc[-1] == labels.sum() and table["fp"].iloc[-1] == (~labels).sum()
    assert ((table["tp"] + table["fn"]) == labels.sum()).all()
    assert choose_threshold(table) in set(table["threshold"])


def test_score_cases_has_one_row_per_case_with_every_part() -> None:
    cases = build_calibration_set(n_characters=1)[:3]
    frame = score_cases(cases)
    assert len(frame) == 3
    assert {"kind", "label", "total", "passed", "identity", "change", "seam", "placement"} <= set(frame)
    raw = score_cases(cases, paste_back=False)
    assert {"preservation", "palette", "structure", "framing"} <= set(raw)


def test_drift_outside_the_face_is_a_positive_only_with_paste_back() -> None:
    cases = build_calibration_set(n_characters=1)
    for case in cases:
        if case.kind in RESTORED_BY_PASTE_BACK:
            assert not case.raw_label()
            assert case.label or case.kind in ("neg_outfit_colour", "neg_accessory", "neg_hair_style")
        else:
            assert case.label == case.raw_label() == case.kind.startswith("pos_")
    assert any(c.expression for c in cases) and any(c.variant for c in cases)
    assert {c.label for c in cases if c.kind in ("neg_shift", "neg_zoom")} == {True}


def test_per_kind_counts_totals_and_verdicts() -> None:
    frame = pd.DataFrame({"label": [True, True, False], "kind": ["a", "a", "b"], "total": [90.0, 60.0, 10.0],
                          "passed": [True, False, False]})
    table = per_kind(frame)
    assert table.loc[(True, "a")].to_dict() == {"n": 2, "min": 60.0, "median": 75.0, "max": 90.0, "passed": 1,
                                                "flagged": 1}
    assert table.loc[(False, "b"), "flagged"] == 1
    assert verdict_precision_recall(frame) == (1.0, 0.5)


def test_choose_threshold_refuses_unknown_rules() -> None:
    with pytest.raises(ValueError, match="rule"):
        choose_threshold(roc_table(np.array([True, False]), np.array([1.0, 0.0])), rule="accuracy")
