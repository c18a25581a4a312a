"""The expression library: built-in expressions, presets, talking/blink variants and custom ones.

An `Expression` carries what both renderers need: labels for the UI and exports, an English prompt
fragment that describes only the facial change (for the image model), and `face`, the built-in face
the offline renderer draws (custom expressions borrow one).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

from lib.core.errors import InvalidInput


@dataclass(frozen=True)
class Expression:
    """One facial expression of a character."""

    key: str
    label_en: str
    label_ja: str
    prompt: str
    intensity: int
    face: str


@dataclass(frozen=True)
class Variant:
    """A variation applied on top of any expression (for lip-sync and blinking)."""

    key: str
    label_en: str
    label_ja: str
    prompt: str


# key, English label, Japanese label, intensity, prompt fragment (facial change only).
_BUILTINS: tuple[tuple[str, str, str, int, str], ...] = (
    ("neutral", "Neutral", "通常", 1, "a calm neutral face with relaxed brows and a small closed mouth"),
    ("happy", "Happy", "笑顔", 3, "a bright open-mouthed smile with raised brows and a light blush"),
    ("angry", "Angry", "怒り", 4,
     "brows sharply lowered toward the nose, narrowed glaring eyes, clenched teeth and an anger vein mark"),
    ("sad", "Sad", "悲しみ", 3, "brows tilted up in the middle, downcast half-lidded eyes and a small frown"),
    ("surprised", "Surprised", "驚き", 4,
     "raised brows, wide-open eyes with small irises and an open O-shaped mouth"),
    ("embarrassed", "Embarrassed", "照れ", 3,
     "worried brows, a wavy flustered mouth, strong blush across both cheeks and a sweat drop"),
    ("smug", "Smug", "ドヤ顔", 3, "one brow raised, half-lidded confident eyes and a one-sided smirk"),
    ("worried", "Worried", "心配", 3, "brows tilted up in the middle, uneasy eyes, a wavy mouth and a sweat drop"),
    ("crying", "Crying", "泣き", 5,
     "brows tilted up, teary eyes with tears streaming down both cheeks and an open wailing mouth"),
    ("laughing", "Laughing", "大笑い", 5,
     "eyes squeezed into happy arcs, a wide open laughing mouth and a blush"),
    ("thinking", "Thinking", "考え中", 2, "one brow raised, eyes glancing up to the side and a small pursed mouth"),
    ("sleepy", "Sleepy", "眠い", 2, "relaxed low brows, droopy half-closed eyes and a small yawning mouth"),
    ("admiration", "Admiration", "感嘆", 3,
     "raised brows, sparkling starry eyes, a small open smile and a light blush"),
    ("amusement", "Amusement", "愉快", 3, "soft brows, eyes closed in happy arcs and a cat-like :3 smile"),
    ("anger", "Anger", "激怒", 5,
     "brows sharply lowered, narrowed furious eyes, a shouting open mouth showing teeth and anger vein marks"),
    ("annoyance", "Annoyance", "苛立ち", 3,
     "slightly lowered brows, flat half-lidded eyes, a tight flat mouth and a small anger vein mark"),
    ("approval", "Approval", "賛成", 2, "relaxed brows, gently smiling eyes and a warm closed smile"),
    ("caring", "Caring", "思いやり", 2,
     "softly raised brows, gentle smiling eyes, a tender smile and a light blush"),
    ("confusion", "Confusion", "困惑", 3,
     "one brow up and one down, blank eyes, a wavy mouth, a sweat drop and a question mark"),
    ("curiosity", "Curiosity", "好奇心", 2, "raised brows, bright wide eyes and a small open 'o' mouth"),
    ("desire", "Desire", "欲望", 3,
     "relaxed brows, half-lidded dreamy eyes, a small open smile and a strong blush"),
    ("disappointment", "Disappointment", "失望", 3,
     "brows tilted up, downcast half-lidded eyes, a small frown and gloomy shadow lines on the forehead"),
    ("disapproval", "Disapproval", "不満", 3,
     "one brow lowered and one raised, narrowed sceptical eyes and a small frown"),
    ("disgust", "Disgust", "嫌悪", 4,
     "brows lowered, narrowed eyes, a grimacing mouth showing clenched teeth and gloomy shadow lines"),
    ("embarrassment", "Embarrassment", "恥ずかしさ", 4,
     "eyes squeezed shut like > <, a wavy mouth, a very strong blush and a sweat drop"),
    ("excitement", "Excitement", "興奮", 4,
     "raised brows, sparkling starry eyes, a big open smile, a blush and sparkles around the face"),
    ("fear", "Fear", "恐怖", 4,
     "brows tilted up, wide eyes with tiny irises, a trembling open mouth, sweat drops and shadow lines"),
    ("gratitude", "Gratitude", "感謝", 2,
     "softly raised brows, eyes closed in happy arcs, a warm smile, a light blush and a small heart"),
    ("grief", "Grief", "悲嘆", 5,
     "brows tilted up, eyes shut tight with tears streaming, an open sobbing mouth and gloomy shadow lines"),
    ("joy", "Joy", "喜び", 4,
     "eyes closed in happy arcs, a big open smile, a blush and sparkles around the face"),
    ("love", "Love", "愛情", 4, "soft brows, heart-shaped highlights in the eyes, a sweet smile, blush and hearts"),
    ("nervousness", "Nervousness", "緊張", 3,
     "brows tilted up, eyes with small irises, a wavy mouth and several sweat drops"),
    ("optimism", "Optimism", "楽観", 2, "raised brows, bright sparkling eyes and a confident closed smile"),
    ("pride", "Pride", "誇り", 3, "one brow raised, calmly closed eyes, a satisfied smirk and a sparkle"),
    ("realization", "Realization", "気づき", 3,
     "raised brows, wide eyes, a small open mouth and an exclamation mark"),
    ("relief", "Relief", "安堵", 2, "softly raised brows, calmly closed eyes, a small smile and a sweat drop"),
    ("remorse", "Remorse", "後悔", 3,
     "brows tilted up, downcast half-lidded eyes, a small frown and a single tear"),
    ("sadness", "Sadness", "悲しみ", 3,
     "brows tilted up in the middle, teary eyes, a frown and a single tear on the cheek"),
    ("surprise", "Surprise", "驚き", 4,
     "raised brows, wide-open eyes with tiny irises, an open O-shaped mouth and an exclamation mark"),
)

LIBRARY: Mapping[str, Expression] = MappingProxyType(
    {key: Expression(key, en, ja, prompt, intensity, key) for key, en, ja, intensity, prompt in _BUILTINS}
)

_BASIC = ("neutral", "happy", "angry", "sad", "surprised")
PRESETS: Mapping[str, tuple[str, ...]] = MappingProxyType(
    {
        "basic": _BASIC,
        "visual_novel": _BASIC + ("embarrassed", "smug", "worried", "crying", "laughing", "thinking", "sleepy"),
        # SillyTavern's classifier labels; its expression-pack files are named exactly like these keys.
        "sillytavern": (
            "admiration", "amusement", "anger", "annoyance", "approval", "caring", "confusion",
            "curiosity", "desire", "disappointment", "disapproval", "disgust", "embarrassment",
            "excitement", "fear", "gratitude", "grief", "joy", "love", "nervousness", "optimism",
            "pride", "realization", "relief", "remorse", "sadness", "surprise", "neutral",
        ),
    }
)

VARIANTS: Mapping[str, Variant] = MappingProxyType(
    {
        "mouth_open": Variant(
            "mouth_open", "Mouth open", "口開け",
            "the same expression with the mouth open as if in the middle of talking",
        ),
        "blink": Variant("blink", "Blink", "目閉じ", "the same expression with both eyes closed in a blink"),
    }
)

_KEY_RE = re.compile(r"^[a-z][a-z0-9_]{0,39}$")
_MAX_LABEL = 40
_MAX_PROMPT = 300


def preset(name: str) -> list[Expression]:
    """The expressions of a preset, in display order."""
    if name not in PRESETS:
        raise InvalidInput(f"unknown preset {name!r}; choose one of {', '.join(PRESETS)}")
    return [LIBRARY[key] for key in PRESETS[name]]


def get(key: str) -> Expression:
    """A built-in expression by key."""
    if key not in LIBRARY:
        raise InvalidInput(f"unknown expression {key!r}")
    return LIBRARY[key]


def variant(key: str) -> Variant:
    """A variant (`mouth_open` or `blink`) by key."""
    if key not in VARIANTS:
        raise InvalidInput(f"unknown variant {key!r}; choose one of {', '.join(VARIANTS)}")
    return VARIANTS[key]


def custom_expression(
    *, key: str, label_en: str, label_ja: str, prompt: str, intensity: int, face: str
) -> Expression:
    """A user-defined expression, validated; `face` picks the built-in face the offline renderer draws."""
    if not isinstance(key, str) or not _KEY_RE.match(key):
        raise InvalidInput("key must be 1-40 characters of a-z, 0-9 and _, starting with a letter")
    if key in LIBRARY or key in VARIANTS:
        raise InvalidInput(f"key {key!r} is already a built-in expression or variant")
    label_en = _text(label_en, field="label_en", limit=_MAX_LABEL)
    label_ja = _text(label_ja, field="label_ja", limit=_MAX_LABEL)
    prompt = _text(prompt, field="prompt", limit=_MAX_PROMPT)
    if isinstance(intensity, bool) or not isinstance(intensity, int) or not 1 <= intensity <= 5:
        raise InvalidInput("intensity must be a whole number from 1 to 5")
    if face not in LIBRARY:
        raise InvalidInput(f"face must be one of the built-in expressions, not {face!r}")
    return Expression(key, label_en, label_ja, prompt, intensity, face)


def _text(value: str, *, field: str, limit: int) -> str:
    """A stripped, non-empty, single-line string of at most `limit` characters."""
    if not isinstance(value, str) or not value.strip():
        raise InvalidInput(f"{field} must not be empty")
    value = value.strip()
    if len(value) > limit:
        raise InvalidInput(f"{field} must be at most {limit} characters")
    if any(ch in value for ch in "\r\n\t") or not value.isprintable():
        raise InvalidInput(f"{field} must be a single line of printable text")
    return value
