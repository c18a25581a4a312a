"""Characters belong to one user: every data function is checked with two users."""

import io
import uuid

import pytest
from PIL import Image
from sqlalchemy import text

from lib.catalog import characters
from lib.core.errors import InvalidInput, NotFound, PermissionDenied
from lib.core.images import clean_upload
from lib.core.queries import q
from lib.core.settings import load_settings
from lib.credits import ledger
from lib.design import expressions
from lib.generation import batches, jobs


def base_image(colour=(220, 120, 160, 255), size=(60, 80)):
    out = io.BytesIO()
    Image.new("RGBA", size, colour).save(out, format="PNG")
    return clean_upload(out.getvalue(), max_bytes=10**7, max_pixels=10**7, min_side=16, max_aspect=4.0)


@pytest.fixture
def two_users(make_user):
    return make_user(), make_user()


def png(colour=(220, 120, 160, 255), size=(60, 80)) -> bytes:
    out = io.BytesIO()
    Image.new("RGBA", size, colour).save(out, format="PNG")
    return out.getvalue()


def create(conn, store, actor, name="Sakura", **kwargs):
    return characters.create_character(conn, store, actor=actor, name=name, image=base_image(), **kwargs)


def test_create_stores_the_base_under_the_owner_prefix(conn, store, two_users) -> None:
    ann, _ = two_users
    made = create(conn, store, ann, name="  Sakura   桜 ", features={"hair_color": "#FF88AA", "accessories": [" hat "]})
    assert made.name == "Sakura 桜"
    assert made.base_key.startswith(f"characters/{ann.id}/{made.id}/base/")
    assert made.features.hair_color == "#ff88aa" and made.features.accessories == ["hat"]
    assert Image.open(io.BytesIO(characters.load_base(store, made))).size == (60, 80)
    stored = conn.execute(text("SELECT features->>'hair_color' FROM characters WHERE id = :i"), {"i": made.id})
    assert stored.scalar_one() == "#ff88aa"


@pytest.mark.parametrize(
    ("features", "message"),
    [({"hair_color": "pink"}, "hair_color"), ({"hair_style": "mohawk"}, "hair_style"), ({"wings": True}, "wings")],
)
def test_bad_features_are_refused_with_the_field_named(conn, store, two_users, features, message) -> None:
    with pytest.raises(InvalidInput, match=message):
        create(conn, store, two_users[0], features=features)
    assert store.list("characters/") == []


def test_names_are_required(conn, store, two_users) -> None:
    with pytest.raises(InvalidInput, match="1 to 100"):
        create(conn, store, two_users[0], name="   ")


def test_each_user_sees_only_their_own(conn, store, two_users) -> None:
    ann, ben = two_users
    mine = create(conn, store, ann, name="Ann's")
    theirs = create(conn, store, ben, name="Ben's")
    assert [c.id for c in characters.list_characters(conn, actor=ann)] == [mine.id]
    assert [c.id for c in characters.list_characters(conn, actor=ben)] == [theirs.id]
    assert characters.get_character(conn, actor=ann, character_id=str(mine.id)).name == "Ann's"

    # Every data function treats the other user's id exactly like an unknown one.
    for call in (
        lambda: characters.get_character(conn, actor=ann, character_id=theirs.id),
        lambda: characters.get_character(conn, actor=ann, character_id=theirs.id, any_owner=True),
        lambda: characters.rename_character(conn, actor=ann, character_id=theirs.id, name="stolen"),
        lambda: characters.update_features(conn, actor=ann, character_id=theirs.id, features={}),
        lambda: characters.delete_character(conn, actor=ann, character_id=theirs.id),
        lambda: characters.get_character(conn, actor=ann, character_id=uuid.uuid4()),
        lambda: characters.get_character(conn, actor=ann, character_id="not-a-uuid"),
    ):
        with pytest.raises(NotFound, match="not found"):
            call()
    assert characters.get_character(conn, actor=ben, character_id=theirs.id).name == "Ben's"
    assert store.exists(theirs.base_key)


def test_admins_see_everyone_only_when_they_ask(conn, store, two_users, make_user) -> None:
    ann, _ = two_users
    admin = make_user(role="admin")
    made = create(conn, store, ann)
    assert characters.list_characters(conn, actor=admin) == []
    assert [c.id for c in characters.list_characters(conn, actor=admin, any_owner=True)] == [made.id]
    assert characters.get_character(conn, actor=admin, character_id=made.id, any_owner=True).owner_email == ann.email
    with pytest.raises(NotFound):
        characters.get_character(conn, actor=admin, character_id=made.id)
    with pytest.raises(PermissionDenied):
        characters.list_characters(conn, actor=ann, any_owner=True)


def test_rename_update_and_delete_own(conn, store, two_users) -> None:
    ann, _ = two_users
    made = create(conn, store, ann)
    characters.rename_character(conn, actor=ann, character_id=made.id, name="Renamed")
    characters.update_features(conn, actor=ann, character_id=made.id, features={"eye_color": "#00aa00"})
    again = characters.get_character(conn, actor=ann, character_id=made.id)
    assert again.name == "Renamed" and again.features.eye_color == "#00aa00"
    store.put(f"characters/{ann.id}/{made.id}/diffs/happy.png", b"png")
    characters.remove_objects(store, characters.delete_character(conn, actor=ann, character_id=made.id))
    assert store.list(f"characters/{ann.id}/{made.id}/") == []
    with pytest.raises(NotFound):
        characters.get_character(conn, actor=ann, character_id=made.id)


def test_features_json_file_errors_are_readable() -> None:
    with pytest.raises(InvalidInput, match="not valid JSON"):
        characters.features_from_json("{hair")
    with pytest.raises(InvalidInput, match="JSON object"):
        characters.features_from_json("[1]")
    assert characters.features_from_json('{"hair_length": "short"}').hair_length == "short"


def test_create_with_base_takes_an_upload_or_draws_one_never_both(conn, store, two_users) -> None:
    ann, _ = two_users
    settings = load_settings(offline_base_size=(96, 128), max_upload_bytes=4000, min_upload_side=16)
    form = {"hair_color": "#FF88AA", "hair_length": "short"}

    uploaded = characters.create_with_base(conn, store, actor=ann, name=" Up ", features=form, upload=png(),
                                           settings=settings)
    assert (uploaded.name, uploaded.base_source, uploaded.base_width, uploaded.base_height) == ("Up", "upload", 60, 80)
    assert uploaded.features.hair_color == "#ff88aa" and uploaded.face_box is not None

    drawn = characters.create_with_base(conn, store, actor=ann, name="Drawn", features=form, draw_base=True,
                                        settings=settings)
    assert (drawn.base_source, drawn.base_width, drawn.base_height) == ("generated", 96, 128)
    assert drawn.features.hair_length == "short"
    assert Image.open(io.BytesIO(characters.load_base(store, drawn))).size == (96, 128)

    for kwargs, message in (({"upload": png(), "draw_base": True}, "not both"),
                            ({}, "Choose a base image to upload"),
                            ({"upload": b"not an image"}, "image"),
                            ({"upload": png() + bytes(4000)}, "the limit is"),
                            ({"draw_base": True, "features": {"hair_color": "pink"}}, "hair_color")):
        with pytest.raises(InvalidInput, match=message):
            characters.create_with_base(conn, store, actor=ann, name="Nope", **{"features": form, **kwargs},
                                        settings=settings)
    assert [c.name for c in characters.list_characters(conn, actor=ann)].count("Nope") == 0


@pytest.mark.parametrize("size", [(100_000, 1), (1, 100_000)])
def test_a_degenerate_upload_is_refused_and_nothing_is_stored(conn, store, two_users, size) -> None:
    ann, _ = two_users
    with pytest.raises(InvalidInput, match=rf"{size[0]}×{size[1]}.*64 px.*4:1"):
        characters.create_with_base(conn, store, actor=ann, name="Line", features=None, upload=png(size=size),
                                    settings=load_settings())
    assert characters.list_characters(conn, actor=ann) == [] and store.list("characters/") == []


@pytest.mark.parametrize("size", [(64, 64), (64, 256), (256, 64)])
def test_the_smallest_and_most_extreme_accepted_bases_get_a_face_box(conn, store, two_users, size) -> None:
    source = Image.new("RGBA", size, (0, 0, 0, 0))
    source.paste((240, 200, 180, 255), (size[0] // 4, size[1] // 8, 3 * size[0] // 4, size[1] // 2))
    out = io.BytesIO()
    source.save(out, format="PNG")
    made = characters.create_with_base(conn, store, actor=two_users[0], name="Edge", features=None,
                                       upload=out.getvalue(), settings=load_settings())
    assert (made.base_width, made.base_height) == size and made.face_box is not None
    assert characters.base_problem(made, settings=load_settings()) is None


def test_no_batch_is_paid_for_a_degenerate_base_stored_before_the_rule(conn, store, two_users) -> None:
    ann, _ = two_users
    row = conn.execute(q("insert_character"), {
        "id": str(uuid.uuid4()), "user_id": str(ann.id), "name": "Strip", "features": "{}",
        "base_key": f"characters/{ann.id}/strip.png", "base_width": 100_000, "base_height": 1,
        "base_source": "upload", "face_box": None, "face_source": "estimated",
        "face_points": None, "face_note": ""}).one()
    strip = characters.get_character(conn, actor=ann, character_id=row.id)
    before = ledger.balance(conn, user_id=ann.id)
    request = jobs.JobRequest(expressions=[expressions.get("happy")], variants=[], backend="offline",
                              model="offline", image_size="1K")
    with pytest.raises(InvalidInput, match=r"100000×1.*cannot be used"):
        batches.submit(conn, actor=ann, character=strip, request=request, settings=load_settings())
    assert ledger.balance(conn, user_id=ann.id) == before
