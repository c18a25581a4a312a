"""AppTest runs of every page: sign-in, roles, throttling, server-side session ends, main forms."""

import io
import json
import time
from typing import Any
from uuid import UUID

import pytest
from PIL import Image
from sqlalchemy import text
from streamlit.proto.WidgetStates_pb2 import WidgetState
from streamlit.testing.v1 import AppTest

from devtools.generation import generate_now
from lib.accounts import users
from lib.backends.offline import OfflineBackend
from lib.catalog import characters
from lib.core.images import clean_upload
from lib.core.storage import LocalStore
from lib.design import expressions
from lib.design.features import Features
from lib.generation import jobs
from tests.conftest import PASSWORD

APP = "../app.py"


def app() -> AppTest:
    return AppTest.from_file(APP, default_timeout=30).run()


def sign_in(at: AppTest, email: str, password: str = PASSWORD) -> AppTest:
    at.text_input[0].input(email)
    at.text_input[1].input(password)
    return at.button[0].click().run()


def review_grid(at: AppTest) -> dict[str, Any]:
    """What the review grid (one custom component, lib/web/grid.py) was given to draw."""
    return json.loads(at.get("bidi_component")[0].proto.json)


def grid_cards(at: AppTest) -> list[dict[str, Any]]:
    grid = review_grid(at)
    return [slot["shown"] for row in grid["rows"] for slot in row["slots"] if slot] + [
        card for row in grid["rows"] for strip in row["strips"] for card in strip["attempts"]]


def grid_click(at: AppTest, do: str, difference_id: UUID | str) -> AppTest:
    """Press a button of the review grid: AppTest cannot drive a custom component, so send the `action`
    event its JavaScript sends (the component's trigger widget, named as Streamlit names it)."""
    grid = at.get("bidi_component")[0]
    states = at._tree.get_widget_states()
    states.widgets.append(WidgetState(id=f"$$STREAMLIT_INTERNAL_KEY_{grid.proto.id}__events", json_trigger_value=(
        json.dumps([{"event": "action", "value": {"do": do, "id": str(difference_id), "at": time.time()}}]))))
    return at._tree._runner._run(states)


def messages(at: AppTest) -> str:
    return " ".join(e.value for e in [*at.error, *at.warning, *at.info, *at.success])


def test_sign_in_form_is_the_front_door(accounts) -> None:
    at = app()
    assert not at.exception
    assert [t.label for t in at.text_input] == ["Email", "Password"]
    assert [b.label for b in at.button] == ["Sign in"]
    assert not at.title  # nothing of the studio before signing in


def test_wrong_password_is_refused_and_recorded(accounts, engine) -> None:
    at = sign_in(app(), "mei@example.com", "wrong-password")
    assert "Wrong email or password." in messages(at)
    assert not at.title
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM login_failures WHERE email = 'mei@example.com'")).scalar() == 1


def test_repeated_failures_lock_the_account_for_a_while(accounts, engine) -> None:
    at = app()
    for _ in range(5):
        at = sign_in(at, "mei@example.com", "wrong-password")
    at = sign_in(at, "mei@example.com", PASSWORD)  # the right password no longer helps
    assert "Too many failed sign-ins" in messages(at)
    assert not at.title
    with engine.begin() as conn:
        conn.execute(text("UPDATE login_failures SET failed_at = now() - interval '1 hour'"))
        conn.execute(text("UPDATE login_accounts SET locked_until = now() - interval '1 hour'"))
    at = sign_in(app(), "mei@example.com", PASSWORD)
    assert [t.value for t in at.title] == ["Characters"]


def age_sign_in_records(engine, seconds: int) -> None:
    """As if `seconds` had passed for every failed sign-in and lock."""
    with engine.begin() as conn:
        conn.execute(text("UPDATE login_failures SET failed_at = failed_at - make_interval(secs => :s)"),
                     {"s": seconds})
        conn.execute(text("UPDATE login_accounts SET locked_until = locked_until - make_interval(secs => :s), "
                          "counted_from = counted_from - make_interval(secs => :s)"), {"s": seconds})


def test_guesses_from_this_machine_lock_the_owner_out_for_a_minute_only(accounts, engine) -> None:
    at = app()  # AppTest has no client address: the same as any loopback client (SSH tunnel, local proxy)
    for _ in range(5):
        at = sign_in(at, "mei@example.com", "wrong-password")
    at = sign_in(app(), "mei@example.com", PASSWORD)
    assert "Too many failed sign-ins for this account. Try again in 1 minute" in messages(at)
    age_sign_in_records(engine, 61)
    at = sign_in(app(), "mei@example.com", PASSWORD)  # the owner, a minute later
    assert [t.value for t in at.title] == ["Characters"]


def test_an_admin_unlocks_a_locked_account_from_the_users_page(accounts, engine) -> None:
    at = app()
    for _ in range(5):
        at = sign_in(at, "mei@example.com", "wrong-password")
    at = sign_in(app(), "boss@example.com")
    at.switch_page("pages/admin_users.py").run()
    next(s for s in at.selectbox if s.label == "User").set_value("mei@example.com").run()
    assert "Sign-in locked until" in " ".join(c.value for c in at.caption)
    next(b for b in at.button if b.label == "Unlock sign-in").click().run()
    assert "mei@example.com can sign in again." in messages(at)
    at = sign_in(app(), "mei@example.com")
    assert [t.value for t in at.title] == ["Characters"]


def test_member_sees_empty_characters_page_and_no_admin_pages(accounts) -> None:
    at = sign_in(app(), "mei@example.com")
    assert not at.exception
    assert [t.value for t in at.title] == ["Characters"]
    assert "No characters yet" in messages(at)
    assert "mei@example.com" in " ".join(c.value for c in at.sidebar.caption)
    with pytest.raises(ValueError, match="Could not find a navigation page"):
        at.switch_page("pages/admin_users.py")  # not registered for members at all


def test_admin_page_refuses_a_member_who_opens_it_directly(accounts) -> None:
    at = sign_in(AppTest.from_file("../pages/admin_users.py", default_timeout=30).run(), "mei@example.com")
    assert "This page is for admins only." in messages(at)
    assert not at.dataframe and not at.title


def test_admin_adds_a_user_and_sees_errors(accounts, engine) -> None:
    at = sign_in(app(), "boss@example.com")
    at.switch_page("pages/admin_users.py").run()
    assert [t.value for t in at.title] == ["Users"]
    assert set(at.dataframe[0].value["email"]) == {"boss@example.com", "mei@example.com"}
    form_email, form_password = at.text_input[0], at.text_input[1]
    form_email.input("new@example.com")
    form_password.input("short")
    at.button(key="FormSubmitter:add-user-Add user").click().run()
    assert "The password is too short" in messages(at) and "need at least 10 characters" in messages(at)
    assert at.text_input[0].value == "new@example.com"  # what was typed stays after an error
    at.text_input[0].input("")
    at.button(key="FormSubmitter:add-user-Add user").click().run()
    assert "Type the email address the person signs in with." in messages(at)
    at.text_input[0].input("new@example.com")
    at.text_input[1].input(PASSWORD)
    at.button(key="FormSubmitter:add-user-Add user").click().run()
    assert not at.exception
    with engine.connect() as conn:
        assert users.find_user(conn, email="new@example.com") is not None


def test_characters_page_lists_renames_and_guards_creation(accounts, engine, committed_env) -> None:
    _, member = accounts
    png = io.BytesIO()
    Image.new("RGBA", (40, 50), (250, 180, 200, 255)).save(png, format="PNG")
    with engine.begin() as conn:
        made = characters.create_character(
            conn, LocalStore(committed_env / "objects"), actor=member, name="Sakura",
            image=clean_upload(png.getvalue(), max_bytes=10**7, max_pixels=10**7, min_side=16, max_aspect=4.0),
        )
    at = sign_in(app(), "mei@example.com")
    assert [s.value for s in at.subheader] == ["Sakura"]
    assert len(at.image) == 2  # the base, and the base with its face region drawn on it
    assert "Confirm its face region (below) before the first batch." in messages(at)  # no face found: unsure
    x, _, w, _ = at.number_input[:4]
    x.set_value(30)
    w.set_value(20)
    at.button(key=f"FormSubmitter:face-{made.id}-Save face region").click().run()
    assert "does not fit inside the 40×50 base" in messages(at)
    at.number_input[0].set_value(4)
    at.number_input[1].set_value(8)
    at.number_input[2].set_value(20)
    at.number_input[3].set_value(24)
    at.button(key=f"FormSubmitter:face-{made.id}-Save face region").click().run()
    with engine.connect() as conn:
        saved = characters.get_character(conn, actor=member, character_id=made.id)
    assert saved.face_box == (4, 8, 20, 24) and saved.face_source == "user" and not saved.face_unsure
    assert "Confirm its face region (below) before the first batch." not in messages(at)
    rename = next(t for t in at.text_input if t.label == "Name" and t.value == "Sakura")
    rename.input("Sakura (school)")
    at.button(key=f"FormSubmitter:rename-{made.id}-Rename").click().run()
    assert [s.value for s in at.subheader] == ["Sakura (school)"]
    at.button(key="FormSubmitter:create-character-Create character").click().run()
    assert "Choose a base image to upload" in messages(at)


def test_server_side_session_end_signs_the_browser_out(accounts, engine) -> None:
    _, member = accounts
    at = sign_in(app(), "mei@example.com")
    assert [t.value for t in at.title] == ["Characters"]
    with engine.begin() as conn:
        conn.execute(text("UPDATE users SET sessions_valid_after = now() + interval '1 second' WHERE id = :i"),
                     {"i": member.id})  # e.g. an admin reset the password or disabled the account
    at.run()
    assert "Your session has ended" in messages(at)
    assert not at.title
    assert [b.label for b in at.button] == ["Sign in"]  # the form is back at once


def _leading(at: AppTest) -> list[str]:
    """The kinds of the main area's first two elements."""
    return [type(e).__name__ for e in list(at.main.children.values())[:2]]


def test_sign_out_ends_sessions_server_side(accounts, engine) -> None:
    _, member = accounts
    at = sign_in(app(), "mei@example.com")
    with engine.connect() as conn:
        before = users.get_user(conn, email=member.email).sessions_valid_after
    at.sidebar.button(key="studio_sign_out_button").click().run()
    with engine.connect() as conn:
        assert users.get_user(conn, email=member.email).sessions_valid_after > before
    assert [b.label for b in at.button] == ["Sign in"]
    assert "You have signed out." in messages(at)
    assert not at.title
    assert _leading(at) == ["Info", "Block"]  # the notice, then the form
    at.run()  # the next run (the browser's cookie delete answers with one) keeps the notice
    assert "You have signed out." in messages(at)
    # In the same places: the sign-out run also draws the cookie delete, and a form that moved by one left
    # a stale second form in a browser whose rerun was cut short.
    assert _leading(at) == ["Info", "Block"]
    at = sign_in(at, "mei@example.com")  # signing in again starts a fresh, valid session
    assert [t.value for t in at.title] == ["Characters"]
    assert "You have signed out." not in messages(at)


def test_draw_a_base_then_generate_a_preset(accounts, engine, studio) -> None:
    at = sign_in(app(), "mei@example.com")
    at.switch_page("pages/generate.py").run()
    assert "No characters yet" in messages(at)

    at.switch_page("pages/characters.py").run()
    at.text_input[0].input("Hana")
    at.checkbox[0].check()
    at.button(key="FormSubmitter:create-character-Create character").click().run()
    assert not at.exception
    assert [s.value for s in at.subheader] == ["Hana"]

    at.switch_page("pages/generate.py").run()
    assert [t.value for t in at.title] == ["Generate"]
    assert "No worker is running" in messages(at)
    assert "No batches for this character yet" in messages(at)
    studio.start_worker()
    at.multiselect[1].select("blink").run()
    assert "**10** images · **10** credits · you have **30** available" in " ".join(c.value for c in at.caption)
    button = next(b for b in at.button if b.label.startswith("Generate"))
    assert button.label == "Generate 10 images"
    button.click().run()
    assert not at.exception, at.exception
    assert "Batches" in [s.value for s in at.subheader]
    assert "Submitted 10 images; 10 credits held until each image is made." in messages(at)
    # the caption follows the submit at once
    assert "you have **20** available, 10 held by running batches" in " ".join(c.value for c in at.caption)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and len([c for c in grid_cards(at) if c.get("img")]) < 10:
        time.sleep(0.5)
        at.run()
    assert len(at.image) == 1  # the base; the grid draws the rest
    cards = grid_cards(at)
    assert len(cards) == 10 and all(c["img"].startswith("data:image/webp;base64,") for c in cards)
    with engine.connect() as conn:
        statuses = conn.execute(text("SELECT status, count(*) FROM differences GROUP BY status")).all()
    assert [tuple(r) for r in statuses] == [("done", 10)]
    grid_click(at, "approve", cards[0]["id"])
    assert not at.exception, at.exception
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM differences WHERE review = 'approved'")).scalar() == 1

    at.switch_page("pages/credits.py").run()
    assert not at.exception
    assert [m.value for m in at.metric][:3] == ["20", "0", "10"]
    assert len(at.dataframe) == 1


def test_regenerate_in_the_review_grid_adds_an_attempt_beside_the_first(accounts, committed_env, engine) -> None:
    _, member = accounts
    store = LocalStore(committed_env / "objects")
    image, box = characters.generate_base(Features(), size=(96, 128))
    with engine.begin() as conn:
        made = characters.create_character(conn, store, actor=member, name="Hana", image=image, face_box=box,
                                           source="generated")
    request = jobs.JobRequest(expressions=[expressions.get("happy")], variants=["blink"], backend="offline",
                              model="offline", image_size="1K")
    first, items = generate_now(engine, store, OfflineBackend(), actor=member, character_id=made.id, request=request)
    at = sign_in(app(), "mei@example.com")
    at.switch_page("pages/generate.py").run()
    assert "2 of 2 made" in [p.proto.text for p in at.get("progress")]
    blink = next(i for i in items if i.variant == "blink")
    grid_click(at, "again", blink.id)
    assert not at.exception, at.exception
    with engine.connect() as conn:
        newest = jobs.recent_jobs(conn, actor=member, character_id=made.id, limit=1)[0]
        redone = jobs.job_differences(conn, actor=member, job_id=newest.id)
    assert newest.id == first  # the same batch, one more attempt
    assert [(d.expression_key, d.variant, d.attempt, d.status) for d in redone] == [
        ("happy", None, 1, "done"), ("happy", "blink", 1, "done"), ("happy", "blink", 2, "queued")]
    assert "2 of 3 made · 1 in progress" in [p.proto.text for p in at.get("progress")]
    assert "Making Happy 笑顔 · Blink 目閉じ again" in messages(at)
