"""Colours: RGBA tuples, mixing, and the palette a character's `Features` give."""

from __future__ import annotations

from dataclasses import dataclass

from lib.design.features import Features

Color = tuple[int, int, int, int]  # RGBA

INK: Color = (46, 28, 40, 255)
WHITE: Color = (255, 255, 255, 255)


def _rgb(hex_colour: str) -> Color:
    return (int(hex_colour[1:3], 16), int(hex_colour[3:5], 16), int(hex_colour[5:7], 16), 255)


def mix(a: Color, b: Color, t: float) -> Color:
    return (
        round(a[0] + (b[0] - a[0]) * t),
        round(a[1] + (b[1] - a[1]) * t),
        round(a[2] + (b[2] - a[2]) * t),
        255,
    )


def _multiply(a: Color, b: Color) -> Color:
    return (a[0] * b[0] // 255, a[1] * b[1] // 255, a[2] * b[2] // 255, 255)


@dataclass(frozen=True)
class Palette:
    """The colours one character is drawn in, derived from its features."""

    skin: Color
    skin_shade: Color
    skin_line: Color
    hair: Color
    hair_shade: Color
    hair_light: Color
    hair_line: Color
    eye: Color
    eye_dark: Color
    eye_light: Color
    cloth: Color
    cloth_shade: Color
    cloth_line: Color
    lash: Color
    accent: Color = (214, 66, 92, 255)
    shirt: Color = (246, 244, 250, 255)


def palette(features: Features) -> Palette:
    skin, hair = _rgb(features.skin_tone), _rgb(features.hair_color)
    eye, cloth = _rgb(features.eye_color), _rgb(features.outfit_color)
    shadow: Color = (70, 30, 90, 255)
    return Palette(
        skin=skin,
        skin_shade=mix(skin, (214, 120, 130, 255), 0.33),
        skin_line=mix(skin, (120, 50, 50, 255), 0.62),
        hair=hair,
        hair_shade=_multiply(hair, (205, 180, 225, 255)),
        hair_light=mix(hair, WHITE, 0.42),
        hair_line=mix(hair, INK, 0.7),
        eye=eye,
        eye_dark=mix(eye, (20, 10, 40, 255), 0.55),
        eye_light=mix(eye, WHITE, 0.45),
        cloth=cloth,
        cloth_shade=mix(cloth, shadow, 0.35),
        cloth_line=mix(cloth, INK, 0.75),
        lash=mix(hair, INK, 0.85),
    )
