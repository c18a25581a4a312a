"""The export input model, item selection and the format registry."""

from __future__ import annotations

import dataclasses
import io

import pytest

from devtools.export_sample import sample_set
from lib.core.errors import InvalidInput
from lib.exports import FORMATS, export, select_items, slugify
from lib.exports.model import ExportItem, ExportSet, expression_groups


@pytest.fixture(scope="module")
def small():
    return sample_set(size=(96, 120), expressions=("happy",), variants=("mouth_open",))


@pytest.mark.parametrize(
    ("name", "fallback", "expected"),
    [("Miyabi Kagura", "x", "miyabi_kagura"), ("雅", "char_1a2b", "char_1a2b"), ("Élodie!", "x", "elodie"),
     ("2B", "x", "c_2b"), ("", "", "character"), ("雅", "雅", "character")],
)
def test_slugify_is_ascii_lower_case(name: str, fallback: str, expected: str) -> None:
    assert slugify(name, fallback) == expected


def test_export_set_refuses_a_non_ascii_slug(small) -> None:
    export_set, _ = small
    with pytest.raises(InvalidInput, match="slug"):
        dataclasses.replace(export_set, slug="雅")


def test_duplicate_item_is_refused(small) -> None:
    export_set, _ = small
    with pytest.raises(InvalidInput, match="twice"):
        dataclasses.replace(export_set, items=[*export_set.items, export_set.items[0]])


def test_select_items_approved_only(small) -> None:
    export_set, _ = small
    items = [dataclasses.replace(export_set.items[0], approved=False), export_set.items[1]]
    assert select_items(dataclasses.replace(export_set, items=items), approved_only=True) == [items[1]]
    none_approved = [dataclasses.replace(item, approved=False) for item in export_set.items]
    with pytest.raises(InvalidInput, match="approve"):
        select_items(dataclasses.replace(export_set, items=none_approved), approved_only=True)


def test_groups_report_missing_variants(small) -> None:
    export_set, _ = small
    (group,) = expression_groups(export_set)
    assert group.missing() == ["blink"]


def test_unknown_format_names_the_known_ones(small) -> None:
    export_set, store = small
    with pytest.raises(InvalidInput, match="zip, psd, renpy, pngtuber, sillytavern"):
        export("gif", export_set, store.__getitem__, io.BytesIO())


@pytest.mark.parametrize("fmt", list(FORMATS))
def test_empty_set_is_refused(small, fmt: str) -> None:
    export_set, store = small
    with pytest.raises(InvalidInput, match="no expression images"):
        export(fmt, dataclasses.replace(export_set, items=[]), store.__getitem__, io.BytesIO())


def test_wrong_size_image_is_refused(small) -> None:
    export_set, store = small
    other, other_store = sample_set(size=(64, 80), expressions=("sadness",), variants=())
    item: ExportItem = other.items[0]
    bad = ExportSet(**{**{f.name: getattr(export_set, f.name) for f in dataclasses.fields(export_set)},
                       "items": [item]})
    fetch = {**other_store, **store}.__getitem__  # keep the right-sized base
    for fmt in FORMATS:
        with pytest.raises(InvalidInput, match="64x80"):
            export(fmt, bad, fetch, io.BytesIO())
