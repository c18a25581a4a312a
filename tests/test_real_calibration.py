"""The score agrees with artists on real sprites (../shared/real-dev, read in place) on the face finder's boxes
as well as on hand-measured ones: every verdict of the real calibration set is right, and the combined set
(synthetic + real) ranks positives above negatives (ROC AUC >= 0.98).

The face finder's boxes are what an upload gets (`find_face` on the base, then `FaceParts.from_points`); the
hand-measured ones are in `lib/lab/real_artwork.py`.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from lib.consistency.face_finder import find_face
from lib.lab import real_artwork as real
from lib.lab.calibration import build_calibration_set, per_kind, roc_auc, score_cases

pytestmark = pytest.mark.skipif(not real.REAL_DEV.is_dir(), reason="../shared/real-dev is not here")


@pytest.fixture(scope="module")
def scored() -> pd.DataFrame:
    frames = [score_cases(real.build_real_set(faces=faces)).assign(faces=faces) for faces in real.FACES]
    return pd.concat(frames, ignore_index=True)


@pytest.mark.parametrize("faces", real.FACES)
def test_every_verdict_on_the_real_set_is_right(scored: pd.DataFrame, faces: str) -> None:
    mine = scored[scored["faces"] == faces]
    assert len(mine) == 126 and mine["label"].sum() == 28
    wrong = mine[mine["label"] != mine["passed"]]
    assert wrong.empty, f"{faces} faces:\n{wrong[['kind', 'character', 'total', 'flags']].to_string()}"
    table = per_kind(mine).reset_index()
    assert set(table[table["label"]]["kind"]) == {"real_expression", "real_expression_drift", "real_variant",
                                                  "real_variant_drift"}
    assert (table[~table["label"]]["passed"] == 0).all() and (table[table["label"]]["flagged"] == 0).all()


def test_the_combined_set_ranks_positives_above_negatives(scored: pd.DataFrame) -> None:
    synthetic = score_cases(build_calibration_set(n_characters=2, seed=7))
    combined = pd.concat([synthetic, scored], ignore_index=True)
    auc = roc_auc(combined["label"].to_numpy(bool), combined["total"].to_numpy())
    assert auc >= 0.98
    for faces, group in scored.groupby("faces"):
        assert roc_auc(group["label"].to_numpy(bool), group["total"].to_numpy()) >= 0.98, faces


@pytest.mark.parametrize("sprite", real.SPRITES, ids=lambda s: s.name)
def test_the_face_finder_finds_the_eyes_and_the_mouth_where_a_hand_put_them(sprite: real.Sprite) -> None:
    found = find_face(real.load(real.REAL_DEV, sprite.base))
    (lx, ly), (rx, _) = found.points.left_eye, found.points.right_eye
    d = rx - lx
    for (x, y), (bx, by, bw, bh) in zip(found.points, (sprite.parts.left_eye, sprite.parts.right_eye,
                                                       sprite.parts.mouth), strict=True):
        assert np.hypot(x - (bx + bw / 2), y - (by + bh / 2)) < 0.2 * d, (sprite.name, found.points, sprite.parts)
    assert found.points.mouth[1] - ly > 0.45 * d  # the mouth, not the nose
