"""The words for a consistency score, shared by the CLI and the review grid so both say the same thing.

A score reads as: its `total` (0-100), whether it `passed`, its `parts`, its `flags`, and what drift
outside the face paste-back restored (information, never a failure).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

PARTS = {
    "identity": "identity inside the face",
    "change": "requested change",
    "seam": "seam at the face's edge",
    "placement": "placed on the base",
    "preservation": "content outside the face",
    "palette": "colours outside the face",
    "structure": "line art outside the face",
    "framing": "framing",
}
FLAGS = {
    "unchanged_face": "the face did not change as asked",
    "eye_colour_changed": "the eye colour changed",
    "identity_changed": "the face changed where it must not (hair, fringe, outline, accessories)",
    "seam": "a visible seam where the face meets the base",
    "unplaceable": "the answer could not be placed on the base",
    "eyes_not_closed": "blink: the eyes did not close",
    "mouth_not_opened": "mouth open: the mouth did not open",
    "restored_by_paste_back": "drift outside the face, restored by paste-back",
    "framing_drift": "the framing moved",
    "palette_drift": "colours outside the face changed",
    "structure_drift": "line art outside the face changed",
    "content_drift": "content outside the face changed",
    "misaligned": "the answer could not be placed on the base",  # scores stored before "unplaceable"
}
RESTORED = "restored by paste-back"
PASSED, FLAGGED = "passed", "flagged"


@dataclass(frozen=True)
class Reading:
    """A stored score (`Score.to_json()`) in words."""

    total: float
    passed: bool
    verdict: str  # "passed" or "flagged"
    parts: list[tuple[str, float]]  # (words, 0-100)
    flags: list[str]  # failing flags, in words
    restored: list[tuple[str, float]]  # outside-the-face parts that paste-back made moot
    notes: list[str]  # information flags, in words


def part_words(name: str) -> str:
    return PARTS.get(name, name.replace("_", " "))


def flag_words(name: str) -> str:
    return FLAGS.get(name, name.replace("_", " "))


def read(data: Mapping[str, object]) -> Reading:
    """`Score.to_json()` (or the stored `score_parts`) in words."""
    passed = bool(data.get("passed", True))
    parts = data.get("parts") or {}
    restored = data.get("restored") or {}
    flags = [str(f) for f in data.get("flags") or []]  # type: ignore[attr-defined]
    return Reading(
        total=float(data.get("total", 0.0)),  # type: ignore[arg-type]
        passed=passed,
        verdict=PASSED if passed else FLAGGED,
        parts=[(part_words(k), float(v)) for k, v in parts.items()],  # type: ignore[attr-defined]
        flags=[flag_words(f) for f in flags if f != "restored_by_paste_back"],
        restored=[(part_words(k), float(v)) for k, v in restored.items()],  # type: ignore[attr-defined]
        notes=[flag_words(f) for f in flags if f == "restored_by_paste_back"],
    )


def one_line(data: Mapping[str, object]) -> str:
    """The score as one line of text: total, verdict, parts, flags and what paste-back restored."""
    r = read(data)
    text = f"total {r.total:.1f} ({r.verdict}); parts: " + ", ".join(f"{k} {v:.0f}" for k, v in r.parts)
    if r.flags:
        text += "; flags: " + "; ".join(r.flags)
    if r.restored and r.notes:
        text += f"; {RESTORED}: " + ", ".join(f"{k} {v:.0f}" for k, v in r.restored)
    return text
