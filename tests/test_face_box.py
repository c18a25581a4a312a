"""One face-box type and one validator: a box the Characters page accepts is one every image step accepts."""

import io

import pytest
from PIL import Image

from lib.catalog import characters
from lib.consistency.composite import paste_back
from lib.consistency.score import score
from lib.core.errors import InvalidInput
from lib.core.images import clean_upload
from lib.design import expressions
from lib.design.face_box import MIN_SIDE, FaceBox
from lib.render.preview import edit_face

SIZE = (120, 160)


@pytest.mark.parametrize(("box", "message"), [
    ((0, 0, 12, 12), "too small"), ((100, 0, 30, 30), "does not fit inside the 120×160 base"),
    ((-1, 0, 20, 20), "does not fit"), ((0, 0, 20.0, 20), "whole pixels"), ((0, 0, 20), "whole pixels"),
])
def test_checked_refuses_what_no_step_can_use(box: tuple, message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        FaceBox.checked(box, SIZE)


def test_checked_and_parse_give_the_same_box() -> None:
    box = FaceBox.checked([10, 20, MIN_SIDE, 40], SIZE)
    assert box == FaceBox.parse("10,20,16,40") == (10, 20, 16, 40)
    assert box.corners == (10, 20, 26, 60) and isinstance(box, FaceBox)
    with pytest.raises(InvalidInput, match="x,y,w,h"):
        FaceBox.parse("10,20,16")


def _upload(size=SIZE):
    out = io.BytesIO()
    Image.new("RGBA", size, (240, 200, 180, 255)).save(out, format="PNG")
    return clean_upload(out.getvalue(), max_bytes=10**7, max_pixels=10**7, min_side=16, max_aspect=4.0)


def test_a_box_the_character_accepts_is_one_the_renderer_paste_back_and_score_accept(conn, store, make_user) -> None:
    owner = make_user()
    made = characters.create_character(conn, store, actor=owner, name="Aoi", image=_upload())
    with pytest.raises(InvalidInput, match="too small"):  # refused here, not later inside a worker
        characters.set_face_box(conn, actor=owner, character_id=made.id, face_box=(10, 10, 12, 12))
    characters.set_face_box(conn, actor=owner, character_id=made.id, face_box=(10, 10, MIN_SIDE, MIN_SIDE))
    box = characters.get_character(conn, actor=owner, character_id=made.id).face_box
    assert isinstance(box, FaceBox) and box == (10, 10, MIN_SIDE, MIN_SIDE)
    base = Image.open(io.BytesIO(characters.load_base(store, made))).convert("RGBA")
    edited = edit_face(base, box=box, expression=expressions.get("happy"))
    assert paste_back(base, edited, face_box=box).size == SIZE
    assert 0 <= score(base, edited, face_box=box).total <= 100


def test_estimated_boxes_of_small_uploads_are_valid_face_boxes(conn, store, make_user) -> None:
    made = characters.create_character(conn, store, actor=make_user(), name="Mini", image=_upload((40, 50)))
    assert made.face_box is not None and FaceBox.checked(made.face_box, (40, 50)) == made.face_box
