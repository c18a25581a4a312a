import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

from lib.catalog import prompts
from lib.core.errors import InvalidInput, NotFound, PermissionDenied
from lib.design import expressions
from lib.design.features import Features

FEATURES = Features(hair_color="#e8a0c0", hair_style="twin_tails", hair_length="long", eye_color="#30a060",
                    outfit="sailor uniform", outfit_color="#23325f", accessories=["hair_ribbon", "glasses"],
                    notes="a small mole under the left eye")


def test_colour_names_are_plain_words() -> None:
    assert prompts.colour_name("#e8a0c0") == "pink"
    assert prompts.colour_name("#23325f") == "navy"
    assert prompts.colour_name("#111111") == "black"


def test_prompt_restates_what_must_not_change_then_the_one_change(conn) -> None:
    body = prompts.active_template(conn).body
    prompt = prompts.build_prompt(body, character_name="Momo", features=FEATURES, expression=expressions.get("happy"))
    keep, change = prompt.split("Change only the facial expression:")
    for must_keep in ("Momo", "long twin tails pink hair", "green eyes", "navy sailor uniform",
                      "hair ribbon, glasses", "a small mole under the left eye", "framing", "background"):
        assert must_keep in keep
    assert expressions.get("happy").prompt in change
    assert "happy" not in keep.lower()


def test_variant_prompt_keeps_the_expression_and_changes_only_the_variant(conn) -> None:
    body = prompts.active_template(conn).body
    prompt = prompts.build_prompt(body, character_name="Momo", features=FEATURES, expression=expressions.get("sad"),
                                  variant=expressions.variant("blink"))
    change = prompt.split("Change only the facial expression:")[1]
    assert "keep the sad expression" in change and expressions.variant("blink").prompt in change


@pytest.mark.parametrize(("body", "message"), [
    ("Keep $keep but no change", r"\$change"),
    ("$keep then $change and $colour", "unknown placeholders"),
    ("$keep then $change and $", "malformed"),
])
def test_bad_templates_are_refused(body: str, message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        prompts.check_template(body)


def test_templates_are_versioned_and_exactly_one_is_active(conn, make_user) -> None:
    admin, member = make_user(role="admin"), make_user()
    first = prompts.active_template(conn)
    assert first.version == 1
    with pytest.raises(PermissionDenied):
        prompts.add_template(conn, actor=member, body="$keep $change")
    saved = prompts.add_template(conn, actor=admin, body="Same $name: $keep. Now: $change.", notes="shorter")
    assert saved.version == 2 and not saved.is_active
    assert prompts.active_template(conn).version == 1
    prompts.activate_template(conn, actor=admin, version=2)
    assert prompts.active_template(conn).version == 2
    assert [t.version for t in prompts.list_templates(conn) if t.is_active] == [2]
    with pytest.raises(NotFound):
        prompts.activate_template(conn, actor=admin, version=99)
    with pytest.raises(IntegrityError), conn.begin_nested():
        conn.execute(text("UPDATE prompt_templates SET is_active = true"))  # Postgres allows one active


def test_postgres_refuses_a_template_without_the_required_placeholders(conn) -> None:
    with pytest.raises(IntegrityError), conn.begin_nested():
        conn.execute(text("INSERT INTO prompt_templates (version, body) VALUES (50, 'no placeholders')"))


DEFAULT_WORDS = ("dark plum", "school blazer", "navy", "blue eyes", "fair skin", "long straight", "straight")


def test_no_default_feature_reaches_a_prompt_unless_someone_gave_it(conn) -> None:
    body = prompts.active_template(conn).body
    nothing = prompts.build_prompt(body, character_name="Rin", features=Features(), expression=expressions.get("sad"))
    assert not [w for w in DEFAULT_WORDS if w in nothing.lower()], nothing
    assert "the same hair" in nothing and "the same outfit" in nothing  # still told to keep them, unnamed
    stored = Features.model_validate_json(Features.model_validate({"hair_color": "#f0d070"}).stored_json())
    blonde = prompts.build_prompt(body, character_name="Rin", features=stored, expression=expressions.get("sad"))
    assert "blonde hair" in blonde and not [w for w in DEFAULT_WORDS if w in blonde.lower()], blonde
    kept = Features.model_validate(Features().model_dump())  # a person kept every prefilled default (the form)
    assert "dark plum" in prompts.build_prompt(body, character_name="Rin", features=kept,
                                               expression=expressions.get("sad"))


def test_uploads_without_features_get_the_picture_colours_and_no_defaults(conn, store, make_user) -> None:
    from pathlib import Path

    from lib.catalog import characters
    from lib.core.images import clean_upload

    sprite = Path(__file__).resolve().parents[1].parent / "shared" / "real-dev" / "webgal" / "outfit1_open_eyes.png"
    image = clean_upload(sprite.read_bytes(), max_bytes=10**7, max_pixels=10**7, min_side=64, max_aspect=4.0)
    owner = make_user()
    made = characters.create_character(conn, store, actor=owner, name="Pink",
                                       image=image, features=characters.analyse(image).features)
    again = characters.get_character(conn, actor=owner, character_id=made.id)
    assert again.face_source == "detected" and not again.face_unsure and again.face_points is not None
    assert {"hair_color", "skin_tone"} <= again.features.given() <= {"hair_color", "eye_color", "skin_tone",
                                                                        "outfit_color"}
    prompt = prompts.build_prompt(prompts.active_template(conn).body, character_name="Pink", features=again.features,
                                  expression=expressions.get("happy"))
    assert "pink hair" in prompt and "school blazer" not in prompt and "dark plum" not in prompt
