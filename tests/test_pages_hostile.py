"""Pages under attack from their own users: degenerate base images, and names written as Markdown."""

import io
import json
import re
import uuid

import pytest
from markdown_it import MarkdownIt
from PIL import Image
from sqlalchemy import text

from devtools.generation import generate_now
from lib.accounts import users
from lib.backends.offline import OfflineBackend
from lib.catalog import characters
from lib.core import storage
from lib.core.markdown import WORD_JOINER
from lib.core.queries import q
from lib.core.storage import LocalStore
from lib.design import expressions
from lib.design.features import Features
from lib.generation import jobs
from tests.conftest import PASSWORD
from tests.test_pages import app, messages, sign_in


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
            "base_height": size[1], "base_source": "upload", "face_box": None,
            "face_source": "estimated", "face_points": None, "face_note": ""})
    return character_id


def test_a_degenerate_upload_on_the_characters_page_is_refused_with_the_numbers(accounts, engine) -> None:
    at = sign_in(app(), "mei@example.com")
    for size in ((100_000, 1), (1, 100_000)):
        at.text_input(key=next(t.key for t in at.text_input if t.key and t.key.startswith("new-character-name"))
                      ).input("Line")
        at.file_uploader[0].upload("line.png", png(size), "image/png")
        at.button(key="FormSubmitter:create-character-Create character").click().run()
        assert not at.exception, at.exception
        shown = unescape(" ".join(e.value for e in at.error))
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


EVIL = "[sign in here](http://evil.example/login) ![x](http://evil.example/x.png) **bold** :red[x] $x$"
EVIL_OUTFIT = "<img src=http://evil.example/o.png> [login](www.evil.example) ~~gone~~ `code`"
EVIL_ACCESSORY = "![a](http://evil.example/a.png)"
MARKDOWN_KINDS = ("markdown", "caption", "subheader", "header", "title", "error", "warning", "info", "success",
                  "toast")
LABEL_KINDS = ("expander", "button", "checkbox", "toggle", "text_input", "number_input", "multiselect", "tabs")


def shown_text(at) -> list[str]:
    """Every Markdown source the page sends to the browser: bodies, messages and widget labels."""
    bodies = [e.value for kind in MARKDOWN_KINDS for e in getattr(at, kind)]
    labels = [e.label for kind in LABEL_KINDS for e in getattr(at, kind)]
    return [str(t) for t in bodies + labels if t]


def unescape(value: str) -> str:
    """What a person reads: backslash escapes resolved, the invisible word joiner gone."""
    return re.sub(r"\\(.)", r"\1", value).replace(WORD_JOINER, "")


def assert_shown_as_text(at, *expected: str) -> None:
    """The planted strings reach the page as literal text: no link, image, emphasis, LaTeX or colour directive."""
    carrying = [v for v in shown_text(at) if "evil" in v]
    assert carrying, "the page should show the user's text"
    for value in carrying:
        html = MarkdownIt("commonmark").enable("strikethrough").render(value)
        assert "<a " not in html and "<img" not in html, value
        assert "<strong>bold" not in html and "<s>gone" not in html and "<code>code" not in html, value
        assert not re.search(r"https?\\?:|www\.", value), value  # GFM would autolink these
        assert not re.search(r"(?<!\\)[$]|(?<!\\):[a-z]+\\?\[", value), value  # LaTeX, :red[...] directives
    joined = " ".join(unescape(v) for v in carrying)
    for text_ in expected:
        assert text_ in joined, text_


@pytest.fixture
def planted(accounts, engine, committed_env):
    """A member's character whose name, outfit and accessory are Markdown, with a failure quoting the name."""
    _, member = accounts
    store = LocalStore(committed_env / "objects")
    image, box = characters.generate_base(Features(), size=(96, 128))
    with engine.begin() as conn:
        made = characters.create_character(
            conn, store, actor=member, name=EVIL, image=image, face_box=box, source="generated",
            features={"outfit": EVIL_OUTFIT, "accessories": [EVIL_ACCESSORY]})
    request = jobs.JobRequest(expressions=[expressions.get("happy")], variants=[], backend="offline",
                              model="offline", image_size="1K")
    generate_now(engine, store, OfflineBackend(), actor=member, character_id=made.id, request=request)
    with engine.begin() as conn:
        conn.execute(text("UPDATE differences SET status = 'failed', image_key = NULL, failure_reason = :r"),
                     {"r": f"The model refused to draw {EVIL}"})
    return made


def test_markdown_in_user_text_is_shown_as_text_to_the_owner(planted) -> None:
    at = sign_in(app(), "mei@example.com")
    assert not at.exception, at.exception
    assert_shown_as_text(at, EVIL, EVIL_OUTFIT, EVIL_ACCESSORY, f"The model refused to draw {EVIL}")
    rename = next(t for t in at.text_input if t.label == "Name" and t.value == EVIL)
    rename.input(EVIL + "!")
    at.button(key=f"FormSubmitter:rename-{planted.id}-Rename").click().run()
    assert_shown_as_text(at, EVIL + "!")
    at.checkbox(key=f"sure-{planted.id}").check().run()
    at.button(key=f"delete-{planted.id}").click().run()
    assert_shown_as_text(at, f"Deleted {EVIL}!.")  # the confirmation quotes the name too


@pytest.mark.parametrize("page", ["pages/generate.py", "pages/exports.py"])
def test_markdown_in_user_text_is_shown_as_text_on_the_other_pages(planted, page) -> None:
    at = sign_in(app(), "mei@example.com")
    at.switch_page(page).run()
    assert not at.exception, at.exception
    if page == "pages/generate.py":  # the review grid draws its notes as text nodes (lib/web/grid.js `esc`)
        grid = json.loads(at.get("bidi_component")[0].proto.json)
        notes = [slot["shown"].get("note", "") for row in grid["rows"] for slot in row["slots"] if slot]
        assert any(f"The model refused to draw {EVIL}" in note for note in notes), notes
    for value in shown_text(at):
        assert not re.search(r"https?\\?:|www\.", value), value


def test_markdown_in_user_text_is_shown_as_text_to_the_admin(planted, engine, committed_env) -> None:
    image, box = characters.generate_base(Features(), size=(96, 128))
    with engine.begin() as conn:
        odd = users.create_user(conn, email="[x](http://evil.example/u)@example.com", password=PASSWORD)
        characters.create_character(conn, LocalStore(committed_env / "objects"), actor=odd, name="Plain",
                                    image=image, face_box=box, source="generated")
    at = sign_in(app(), "boss@example.com")
    at.toggle[0].set_value(True).run()
    assert not at.exception, at.exception
    assert_shown_as_text(at, EVIL, EVIL_OUTFIT, "owner [x](http://evil.example/u)@example.com")
    at.switch_page("pages/admin_users.py").run()
    target = "[x](http://evil.example/u)@example.com"
    user_box = next(s for s in at.selectbox if s.label == "User")
    user_box.set_value(target).run()
    at.button(key="FormSubmitter:role-plan-Save").click().run()
    assert_shown_as_text(at, f"Updated {target}")
    at.switch_page("pages/admin_reports.py").run()
    assert not at.exception, at.exception
