"""Each part of the score can fail, shown on artists' own sprites (../shared/real-dev, read in place).

Every artist-made difference passes; an unchanged face, an eye-colour change, a fringe cut, a hat, a seam,
an answer that cannot be placed, a blink whose eyes stay open and a mouth-open whose mouth stays shut
each fail, with the flag that says why.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from lib.consistency.score import Score, score
from lib.lab import real_artwork as real
from lib.lab.calibration import Case, score_case

ROOT = Path(__file__).resolve().parents[1].parent / "shared" / "real-dev"
pytestmark = pytest.mark.skipif(not ROOT.is_dir(), reason="../shared/real-dev is not here")

AKANE, WEBGAL = real.SPRITES[0], real.SPRITES[2]


def judge(sprite: real.Sprite, result: Image.Image, *, expression: str | None = None,
          variant: str | None = None, base: Image.Image | None = None) -> Score:
    base = base if base is not None else real.load(ROOT, sprite.base)
    return score(base, result, face_box=sprite.face_box, parts=sprite.parts, expression=expression, variant=variant)


@pytest.fixture(scope="module")
def akane_sad() -> Image.Image:
    return real.load(ROOT, "tyrano/akane_sad.png")


@pytest.mark.parametrize("faces", real.FACES)
def test_the_artists_differences_pass(faces: real.Faces) -> None:
    cases = [c for c in real.build_real_set(ROOT, drift=False, faces=faces) if c.label]
    assert len(cases) == 14
    for case in cases:
        s = score_case(case)
        assert s.passed, (case.kind, case.expression, case.variant, s.to_json())


def test_an_unchanged_face_fails() -> None:
    s = judge(AKANE, real.load(ROOT, AKANE.base), expression="sad")
    assert not s.passed and "unchanged_face" in s.flags and s.parts["change"] < 50


def test_an_eye_colour_change_fails() -> None:
    angry = real.load(ROOT, "tyrano/akane_angry.png")
    base = real.load(ROOT, AKANE.base)
    recoloured = real.iris_colour(angry, AKANE.parts, iris_hue=real.iris_hue_of(base, AKANE.parts))
    assert recoloured is not angry
    assert judge(AKANE, angry, expression="angry").passed
    s = judge(AKANE, recoloured, expression="angry")
    assert not s.passed and "eye_colour_changed" in s.flags and s.parts["identity"] < 50


def test_a_fringe_cut_fails(akane_sad: Image.Image) -> None:
    s = judge(AKANE, real.fringe_cut(akane_sad, AKANE.face_box, AKANE.parts), expression="sad")
    assert not s.passed and "identity_changed" in s.flags and s.parts["identity"] < 50


def test_a_hat_over_the_brow_fails(akane_sad: Image.Image) -> None:
    s = judge(AKANE, real.hat(akane_sad, AKANE.face_box, AKANE.parts), expression="sad")
    assert not s.passed and "identity_changed" in s.flags


def test_glasses_put_on_or_taken_off_fail(akane_sad: Image.Image) -> None:
    on = judge(AKANE, real.glasses(akane_sad, AKANE.face_box, AKANE.parts), expression="sad")
    off = judge(AKANE, akane_sad, expression="sad",
                base=real.glasses(real.load(ROOT, AKANE.base), AKANE.face_box, AKANE.parts))
    assert not on.passed and not off.passed and "identity_changed" in on.flags + off.flags


def test_a_face_lit_differently_from_the_body_leaves_a_seam(akane_sad: Image.Image) -> None:
    arr = np.asarray(akane_sad).copy()
    x, y, w, h = AKANE.face_box
    arr[y : y + h, x : x + w, :3] = (arr[y : y + h, x : x + w, :3] * 0.7).astype(np.uint8)
    s = judge(AKANE, Image.fromarray(arr, "RGBA"), expression="sad")
    assert not s.passed and "seam" in s.flags and s.parts["seam"] < 50


def test_an_answer_that_cannot_be_placed_fails() -> None:
    s = judge(AKANE, real.load(ROOT, "tyrano/yamato_happy.png"), expression="happy")
    assert not s.passed and s.flags == ("unplaceable",) and s.total == 0


def test_a_blink_whose_eyes_stay_open_fails() -> None:
    s = judge(WEBGAL, real.load(ROOT, "webgal/outfit1_open_mouth.png"), variant="blink")
    assert not s.passed and "eyes_not_closed" in s.flags
    assert judge(WEBGAL, real.load(ROOT, "webgal/outfit1_closed_eyes.png"), variant="blink").passed


def test_a_mouth_open_whose_mouth_stays_shut_fails() -> None:
    s = judge(WEBGAL, real.load(ROOT, "webgal/outfit1_closed_eyes.png"), variant="mouth_open")
    assert not s.passed and "mouth_not_opened" in s.flags
    assert judge(WEBGAL, real.load(ROOT, "webgal/outfit1_open_mouth.png"), variant="mouth_open").passed


def test_a_blink_painted_outside_the_face_is_not_a_blink() -> None:
    """Paste-back keeps the base outside the face: closed eyes drawn on the chest change nothing there."""
    base = real.load(ROOT, WEBGAL.base)
    closed = real.load(ROOT, "webgal/outfit1_closed_eyes.png")
    x, y, w, h = WEBGAL.face_box
    moved = base.copy()
    moved.paste(closed.crop((x, y, x + w, y + h)), (x, y + h + 40))
    s = judge(WEBGAL, moved, variant="blink")
    assert not s.passed and "unchanged_face" in s.flags


@pytest.mark.parametrize("faces", real.FACES)
def test_identity_changes_made_from_the_real_set_all_fail(faces: real.Faces) -> None:
    cases: list[Case] = [c for c in real.build_real_set(ROOT, drift=False, faces=faces)
                         if c.character in (100, 102) and not c.label]
    kinds = {c.kind for c in cases}
    assert {"real_iris_colour", "real_fringe_cut", "real_hat", "real_glasses_added", "real_glasses_removed",
            "real_other_face", "real_variant_swapped", "real_unchanged"} <= kinds
    for case in cases:
        s = score_case(case)
        assert not s.passed, (case.kind, case.expression, case.variant, s.to_json())


def test_the_cli_prints_total_passed_parts_and_flags_in_the_reviewers_words(
    capsys: pytest.CaptureFixture[str],
) -> None:
    from lib.cli.main import main

    face = ",".join(map(str, AKANE.face_box))
    eyes = ";".join(",".join(map(str, box)) for box in (AKANE.parts.left_eye, AKANE.parts.right_eye))
    mouth = ",".join(map(str, AKANE.parts.mouth))
    pair = [str(ROOT / AKANE.base), str(ROOT / "tyrano/akane_happy.png")]  # the artist also moved an arm
    common = ["score", *pair, "--face", face, "--eyes", eyes, "--mouth", mouth, "--expression", "happy"]
    assert main([*common, "--json"]) in (0, None)
    data = json.loads(capsys.readouterr().out)
    assert data["passed"] is True and data["total"] >= 90 and "restored_by_paste_back" in data["flags"]
    assert set(data["parts"]) == {"identity", "change", "seam", "placement"}
    assert main(common) in (0, None)
    line = capsys.readouterr().out
    assert line.startswith("total ") and "(passed)" in line and "identity inside the face" in line
    assert "restored by paste-back" in line
    assert main([*common, "--no-paste-back", "--json"]) in (0, None)
    raw = json.loads(capsys.readouterr().out)
    assert raw["passed"] is False and "content_drift" in raw["flags"]


def test_seam_blink_and_mouth_open_are_judged_on_the_face_finders_boxes_too(akane_sad: Image.Image) -> None:
    """As an upload is scored: the face finder's box, eyes and mouth on the base (`real_artwork.detected`)."""
    akane = real.detected(AKANE, real.load(ROOT, AKANE.base))
    webgal = real.detected(WEBGAL, real.load(ROOT, WEBGAL.base))
    arr = np.asarray(akane_sad).copy()
    x, y, w, h = akane.face_box
    arr[y : y + h, x : x + w, :3] = (arr[y : y + h, x : x + w, :3] * 0.7).astype(np.uint8)
    lit = judge(akane, Image.fromarray(arr, "RGBA"), expression="sad")
    assert not lit.passed and "seam" in lit.flags
    assert judge(akane, akane_sad, expression="sad").passed
    open_mouth, closed_eyes = (real.load(ROOT, f"webgal/outfit1_{n}.png") for n in ("open_mouth", "closed_eyes"))
    not_closed = judge(webgal, open_mouth, variant="blink")
    assert not not_closed.passed and "eyes_not_closed" in not_closed.flags
    not_opened = judge(webgal, closed_eyes, variant="mouth_open")
    assert not not_opened.passed and "mouth_not_opened" in not_opened.flags
    blink, opened = judge(webgal, closed_eyes, variant="blink"), judge(webgal, open_mouth, variant="mouth_open")
    assert blink.passed and blink.parts["change"] >= 90 and opened.passed, (blink.to_json(), opened.to_json())
