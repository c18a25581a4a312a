"""The expression library: presets, labels, variants and validation of custom expressions."""

from __future__ import annotations

import re

import pytest

from lib.core.errors import InvalidInput
from lib.design import expressions
from lib.design.expressions import LIBRARY, PRESETS, VARIANTS, custom_expression

# SillyTavern's classifier labels, in its order.
SILLYTAVERN_LABELS = [
    "admiration", "amusement", "anger", "annoyance", "approval", "caring", "confusion", "curiosity",
    "desire", "disappointment", "disapproval", "disgust", "embarrassment", "excitement", "fear",
    "gratitude", "grief", "joy", "love", "nervousness", "optimism", "pride", "realization", "relief",
    "remorse", "sadness", "surprise", "neutral",
]


def test_preset_sizes_and_keys() -> None:
    assert [e.key for e in expressions.preset("basic")] == ["neutral", "happy", "angry", "sad", "surprised"]
    visual_novel = [e.key for e in expressions.preset("visual_novel")]
    assert len(visual_novel) == 12
    assert visual_novel[:5] == list(PRESETS["basic"])
    assert set(visual_novel[5:]) == {"embarrassed", "smug", "worried", "crying", "laughing", "thinking", "sleepy"}
    assert [e.key for e in expressions.preset("sillytavern")] == SILLYTAVERN_LABELS


def test_library_holds_every_preset_member_and_nothing_else() -> None:
    members = {key for keys in PRESETS.values() for key in keys}
    assert set(LIBRARY) == members
    assert len(LIBRARY) == 39


@pytest.mark.parametrize("key", sorted(LIBRARY))
def test_builtin_is_complete(key: str) -> None:
    expression = LIBRARY[key]
    assert expression.key == key == expression.face
    assert re.fullmatch(r"[a-z][a-z0-9_]*", key)
    assert expression.label_en.strip()
    assert re.search(r"[\u3040-\u30ff\u4e00-\u9fff]", expression.label_ja), expression.label_ja
    assert 20 <= len(expression.prompt) <= 300
    assert 1 <= expression.intensity <= 5


def test_japanese_labels_of_the_basics() -> None:
    labels = {key: LIBRARY[key].label_ja for key in PRESETS["basic"]}
    assert labels["angry"] == "怒り"
    assert labels["sad"] == "悲しみ"
    assert labels["surprised"] == "驚き"
    assert LIBRARY["embarrassed"].label_ja == "照れ"


def test_variants() -> None:
    assert set(VARIANTS) == {"mouth_open", "blink"}
    assert expressions.variant("blink").label_ja
    assert "mouth open" in expressions.variant("mouth_open").prompt


def test_lookups_refuse_unknown_names() -> None:
    with pytest.raises(InvalidInput, match="unknown preset"):
        expressions.preset("anime")
    with pytest.raises(InvalidInput, match="unknown expression"):
        expressions.get("furious")
    with pytest.raises(InvalidInput, match="unknown variant"):
        expressions.variant("wink")
    assert expressions.get("joy") is LIBRARY["joy"]


def _custom(**changes: object) -> expressions.Expression:
    fields: dict[str, object] = {
        "key": "pouting",
        "label_en": "Pouting",
        "label_ja": "ふくれっ面",
        "prompt": "puffed cheeks and a pouting mouth",
        "intensity": 2,
        "face": "annoyance",
    }
    fields.update(changes)
    return custom_expression(**fields)  # type: ignore[arg-type]


def test_custom_expression_is_built_and_trimmed() -> None:
    expression = _custom(label_en="  Pouting ")
    assert expression.key == "pouting"
    assert expression.label_en == "Pouting"
    assert expression.face == "annoyance"


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"key": "Pouting"}, "key must be"),
        ({"key": "pout ing"}, "key must be"),
        ({"key": "ふくれ"}, "key must be"),
        ({"key": "x" * 41}, "key must be"),
        ({"key": "joy"}, "already a built-in"),
        ({"key": "blink"}, "already a built-in"),
        ({"label_en": "  "}, "label_en must not be empty"),
        ({"label_ja": ""}, "label_ja must not be empty"),
        ({"label_ja": "あ" * 41}, "at most 40"),
        ({"prompt": "a\nb"}, "single line"),
        ({"prompt": "p" * 301}, "at most 300"),
        ({"intensity": 0}, "intensity"),
        ({"intensity": 6}, "intensity"),
        ({"intensity": True}, "intensity"),
        ({"intensity": 2.0}, "intensity"),
        ({"face": "pouting"}, "face must be"),
        ({"label_en": None}, "label_en"),
    ],
)
def test_custom_expression_validation(changes: dict[str, object], message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        _custom(**changes)
