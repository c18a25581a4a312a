"""Pages under attack from their own users: degenerate base images, and names written as Markdown."""

import io
import json
import uuid

import pytest
from PIL import Image
from sqlalchemy import text

from lib.accounts import users
from lib.catalog import characters
from lib.core import storage
from lib.core.queries import q
from lib.core.storage import LocalStore
from lib.design.features import Features
from tests.conftest import PASSWORD
from tests.test_pages import app, messages, sign_in


@pytest.fixture
def accounts(committed_env, engine):
    with engine.begin() as conn:
        admin = users.create_user(conn, email="boss@example.com", password=PASSWORD, role="admin")
        member = users.create_user(conn, email="mei@example.com", password=PASSWORD)
    return admin, member


def png(size: tuple[int, int]) -> bytes:
    out = io.BytesIO()
    Image.new("RGBA", size, (240, 200, 180, 255)).save(out, format="PNG")
    return out.getvalue()


def insert_degenerate(engine, store: LocalStore, owner: users.User, size: tuple[int, int]) -> uuid.UUID:
    """A character whose base is a line, as the studio accepted before the shape rule existed."""
    character_id = uuid.uuid4()
    key = storage.base_key(user_id=owner.id, character_id=character_id, name="base-old.png")
    store.put(key, png(size))
    with engine.begin() as conn:
        conn.execute(q("insert_character"), {
            "id": str(character_id), "user_id": str(owner.id), "name": f"Line {size[0]}x{size[1]}",
            "features": json.dumps(Features().model_dump()), "base_key": key, "base_width": size[0],
            "base_height": size[1], "base_source": "upload", "face_box": None})
    return character_id


def test_a_degenerate_upload_on_the_characters_page_is_refused_with_the_numbers(accounts, engine) -> None:
    at = sign_in(app(), "mei@example.com")
    for size in ((100_000, 1), (1, 100_000)):
        at.text_input(key=next(t.key for t in at.text_input if t.key and t.key.startswith("new-character-name"))
                      ).input("Line")
        at.file_uploader[0].upload("line.png", png(size), "image/png")
        at.button(key="FormSubmitter:create-character-Create character").click().run()
        assert not at.exception, at.exception
        shown = " ".join(e.value for e in at.error)
        assert f"{size[0]}×{size[1]}" in shown and "64 px" in shown and "4:1" in shown
        at.file_uploader[0].set_value(None)
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM characters")).scalar() == 0


@pytest.mark.parametrize("size", [(100_000, 1), (1, 100_000), (5, 3)])
def test_pages_still_render_a_degenerate_character_stored_before_the_rule(accounts, engine, committed_env,
                                                                          size) -> None:
    _, member = accounts
    store = LocalStore(committed_env / "objects")
    bad = insert_degenerate(engine, store, member, size)
    image, box = characters.generate_base(Features(), size=(96, 128))
    with engine.begin() as conn:
        characters.create_character(conn, store, actor=member, name="Fine", image=image, face_box=box,
                                    source="generated")

    at = sign_in(app(), "mei@example.com")
    assert not at.exception, at.exception
    assert {s.value for s in at.subheader} >= {f"Line {size[0]}x{size[1]}", "Fine"}
    assert "cannot be used" in messages(at) and f"{size[0]}×{size[1]}" in messages(at)
    assert any(b.key == f"delete-{bad}" for b in at.button)  # the owner can still remove it
    assert any(b.key == "FormSubmitter:create-character-Create character" for b in at.button)
    at.checkbox(key=f"sure-{bad}").check().run()
    at.button(key=f"delete-{bad}").click().run()
    assert not at.exception, at.exception
    assert [s.value for s in at.subheader] == ["Fine"]

    insert_degenerate(engine, store, member, size)
    admin = sign_in(app(), "boss@example.com")
    admin.toggle[0].set_value(True).run()
    assert not admin.exception, admin.exception
    assert f"Line {size[0]}x{size[1]}" in [s.value for s in admin.subheader]

    for page in ("pages/generate.py", "pages/exports.py"):
        at.switch_page(page).run()
        for index in range(len(at.selectbox[0].options)):  # each character in turn, the broken one too
            at.selectbox[0].select_index(index).run()
            assert not at.exception, (page, at.exception)
    assert "cannot be used" in messages(at.switch_page("pages/generate.py").run())
