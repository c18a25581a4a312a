"""A character's look, as structured features (stored as JSONB on the character row).

Prompts restate these so a model keeps them; the offline renderer draws from them. Every field has a
default so that the renderer can always draw, but a default is not a feature of anyone: only the fields
that were given (typed, confirmed on the page, read from the picture, or in a features file) are
`given()`, stored, and stated in prompts.
"""

from __future__ import annotations

from typing import Literal, get_args

from pydantic import BaseModel, ConfigDict, Field, field_validator

HairStyle = Literal["straight", "wavy", "twin_tails", "ponytail", "bob", "short_spiky"]
HairLength = Literal["short", "medium", "long"]
HAIR_STYLES: tuple[str, ...] = get_args(HairStyle)
HAIR_LENGTHS: tuple[str, ...] = get_args(HairLength)


class Features(BaseModel):
    """What must stay the same in every expression of a character."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    hair_color: str = Field(default="#3b2a4a", description="CSS hex colour of the hair")
    hair_style: HairStyle = "straight"
    hair_length: HairLength = "long"
    eye_color: str = Field(default="#4a7bd0", description="CSS hex colour of the irises")
    skin_tone: str = Field(default="#ffe3d3", description="CSS hex colour of the skin")
    outfit: str = Field(default="school blazer", max_length=200)
    outfit_color: str = Field(default="#2d3e6e", description="CSS hex colour of the outfit")
    accessories: list[str] = Field(default_factory=list, max_length=10)
    notes: str = Field(default="", max_length=2000)

    def given(self) -> frozenset[str]:
        """The fields someone gave (an empty outfit or notes text gives nothing)."""
        empty = {name for name in ("outfit", "notes") if not getattr(self, name)}
        return frozenset(self.model_fields_set - empty)

    def stored_json(self) -> str:
        """The given fields only, as stored: defaults are never written as if someone had said them."""
        return self.model_dump_json(include=set(self.given()))

    def drawn(self) -> Features:
        """These features with every field given: what a picture drawn from them shows."""
        return Features.model_validate(self.model_dump())

    @field_validator("hair_color", "eye_color", "skin_tone", "outfit_color")
    @classmethod
    def _hex_colour(cls, value: str) -> str:
        text = value.lower()
        if len(text) != 7 or text[0] != "#" or any(c not in "0123456789abcdef" for c in text[1:]):
            raise ValueError(f"{value!r} is not a colour like #a1b2c3")
        return text

    @field_validator("accessories")
    @classmethod
    def _accessories(cls, value: list[str]) -> list[str]:
        cleaned = [item.strip() for item in value if item.strip()]
        if any(len(item) > 60 for item in cleaned):
            raise ValueError("each accessory must be at most 60 characters")
        return [_no_nul(item) for item in cleaned]

    @field_validator("outfit", "notes")
    @classmethod
    def _text(cls, value: str) -> str:
        return _no_nul(value)


def _no_nul(text: str) -> str:
    """Postgres text and JSONB cannot hold NUL: refuse it here with a message, not later with SQL."""
    if "\x00" in text:
        raise ValueError("must not contain a NUL character")
    return text


# Accessories the offline renderer knows how to draw; others are kept in prompts only.
KNOWN_ACCESSORIES = ("glasses", "hair_ribbon", "hairclip", "cat_ears", "earrings", "choker", "hat")


class DescribedFeatures(BaseModel):
    """Features as a model describing a picture answers them (the `response_schema` of "Describe with Gemini").

    The same fields as `Features`, every one required and none with a default, so nothing in the schema
    suggests a value; `features()` validates the answer into `Features` (every field then given).
    """

    hair_color: str = Field(description="hex colour of the hair, like #a1b2c3")
    hair_style: HairStyle
    hair_length: HairLength
    eye_color: str = Field(description="hex colour of the irises, like #a1b2c3")
    skin_tone: str = Field(description="hex colour of the skin, like #a1b2c3")
    outfit: str = Field(description="the clothing in a few words, e.g. sailor uniform")
    outfit_color: str = Field(description="hex colour of the main garment, like #a1b2c3")
    accessories: list[str] = Field(description="worn accessories in one or two words each; empty when none")

    def features(self) -> Features:
        return Features.model_validate(self.model_dump())
