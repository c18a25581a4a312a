"""What an export reads: a character's approved base and its expression images, as plain data.

The database layer builds an `ExportSet`; the writers only read it and pull image bytes through a
`Fetch` callable (an object-store get), one image at a time, so no writer holds the whole set.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from lib.core.errors import InvalidInput

Fetch = Callable[[str], bytes]
"""Returns the stored bytes (a PNG) for an object-store key."""

VARIANT_KEYS: tuple[str, ...] = ("mouth_open", "blink")
_SLUG_RE = re.compile(r"^[a-z][a-z0-9_]{0,39}$")
_MAX_SLUG = 40


@dataclass(frozen=True)
class ExportItem:
    """One expression image: the expression itself (`variant` None) or its mouth_open / blink variant."""

    expression_key: str
    label_en: str
    label_ja: str
    variant: str | None
    image_key: str
    score: float | None
    approved: bool
    sha256: str | None = None

    @property
    def role(self) -> str:
        """The file's role in an export: `expression`, `mouth_open` or `blink`."""
        return self.variant or "expression"


@dataclass(frozen=True)
class ExportSet:
    """A character's base image and the expression images to export, all the same size."""

    character_id: str
    character_name: str
    slug: str
    base_key: str
    width: int
    height: int
    features: Mapping[str, Any] = field(default_factory=dict)
    generation: Mapping[str, Any] = field(default_factory=dict)
    items: list[ExportItem] = field(default_factory=list)

    def __post_init__(self) -> None:
        if not _SLUG_RE.match(self.slug):
            raise InvalidInput(
                f"slug {self.slug!r} must be 1-40 lower-case ascii letters, digits or _ starting with a letter"
            )
        if self.width < 1 or self.height < 1:
            raise InvalidInput(f"size must be positive, not {self.width}x{self.height}")
        seen: set[tuple[str, str | None]] = set()
        for item in self.items:
            _check_item(item)
            if (item.expression_key, item.variant) in seen:
                raise InvalidInput(f"{item.expression_key!r} {item.role} appears twice in the export set")
            seen.add((item.expression_key, item.variant))

    @property
    def size(self) -> tuple[int, int]:
        return (self.width, self.height)


@dataclass(frozen=True)
class ExpressionGroup:
    """An expression with whichever of its images the set holds; any of them may be missing."""

    key: str
    label_en: str
    label_ja: str
    face: ExportItem | None
    mouth_open: ExportItem | None
    blink: ExportItem | None

    def items(self) -> list[ExportItem]:
        """The images present, face first."""
        return [item for item in (self.face, self.mouth_open, self.blink) if item is not None]

    def missing(self) -> list[str]:
        """Roles (`expression`, `mouth_open`, `blink`) this expression has no image for."""
        have = {"expression": self.face, "mouth_open": self.mouth_open, "blink": self.blink}
        return [role for role, item in have.items() if item is None]


def _check_item(item: ExportItem) -> None:
    if item.variant is not None and item.variant not in VARIANT_KEYS:
        raise InvalidInput(f"unknown variant {item.variant!r}; choose one of {', '.join(VARIANT_KEYS)}")
    if not item.expression_key or not item.image_key:
        raise InvalidInput("every export item needs an expression key and an image key")


def slugify(name: str, fallback: str) -> str:
    """An ascii, lower-case identifier for `name` (Ren'Py tags, file names); `fallback` when nothing is left.

    Japanese names transliterate to nothing, so callers pass e.g. `"char_" + id[:8]` as the fallback.
    """
    for candidate in (name, fallback, "character"):
        slug = _ascii_slug(candidate)
        if slug:
            return slug
    raise AssertionError("unreachable: 'character' always slugifies")


def _ascii_slug(text: str) -> str:
    ascii_text = unicodedata.normalize("NFKD", text or "").encode("ascii", "ignore").decode("ascii")
    slug = re.sub(r"[^a-z0-9]+", "_", ascii_text.lower()).strip("_")
    if slug and not slug[0].isalpha():
        slug = "c_" + slug
    return slug[:_MAX_SLUG].rstrip("_")


def select_items(export_set: ExportSet, approved_only: bool) -> list[ExportItem]:
    """The items to export: all of them, or only the approved ones (refusing an empty result)."""
    if not export_set.items:
        raise InvalidInput(f"{export_set.character_name} has no expression images to export yet")
    if not approved_only:
        return list(export_set.items)
    approved = [item for item in export_set.items if item.approved]
    if not approved:
        raise InvalidInput(
            f"none of {export_set.character_name}'s {len(export_set.items)} expression images is approved; "
            "approve some or export all images"
        )
    return approved


def with_items(export_set: ExportSet, items: list[ExportItem]) -> ExportSet:
    """The same set restricted to `items`."""
    return replace(export_set, items=items)


def expression_groups(export_set: ExportSet) -> list[ExpressionGroup]:
    """The set's items grouped per expression, in the order expressions first appear."""
    order: dict[str, dict[str | None, ExportItem]] = {}
    for item in export_set.items:
        order.setdefault(item.expression_key, {})[item.variant] = item
    groups = []
    for key, by_variant in order.items():
        first = by_variant.get(None) or next(iter(by_variant.values()))
        groups.append(
            ExpressionGroup(
                key=key,
                label_en=first.label_en,
                label_ja=first.label_ja,
                face=by_variant.get(None),
                mouth_open=by_variant.get("mouth_open"),
                blink=by_variant.get("blink"),
            )
        )
    return groups


def require_items(export_set: ExportSet) -> None:
    """Refuse a set with nothing to export, with a message fit for the user."""
    if not export_set.items:
        raise InvalidInput(f"{export_set.character_name} has no expression images to export yet")
