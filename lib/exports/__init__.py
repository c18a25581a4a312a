"""Export writers: turn an `ExportSet` (base + expression images) into files artists and tools open.

    export(fmt, export_set, fetch, out)     write one format to a binary file object
    FORMATS                                 format name -> writer, and its file suffix and MIME type
    select_items(export_set, approved_only) the items to export (refuses "nothing approved")

Every writer reads images one at a time through `fetch` (an object-store get) and writes into `out`.
The layered writers (PSD, Ren'Py, PNGTuber) store layers solved by `_stack` so that the body plus one
shown layer is exactly the finished image; `sillytavern` maps our expressions to SillyTavern's labels.
`sets` reads a character's newest finished differences from the database into an `ExportSet`, previews
what an export would ship and writes one to a temporary file.
May import `lib.catalog`, `lib.accounts` and the layers below.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import BinaryIO

from lib.core.errors import InvalidInput
from lib.exports.model import (
    ExportItem,
    ExportSet,
    Fetch,
    require_items,
    select_items,
    slugify,
    with_items,
)
from lib.exports.pngtuber import write_pngtuber
from lib.exports.psd import write_psd
from lib.exports.renpy import write_renpy
from lib.exports.sillytavern import write_sillytavern
from lib.exports.zip import write_zip

__all__ = ["FORMATS", "ExportItem", "ExportSet", "Fetch", "Format", "export", "select_items", "slugify"]


@dataclass(frozen=True)
class Format:
    """An export format: its writer, the suggested file name suffix and MIME type."""

    name: str
    write: Callable[[ExportSet, Fetch, BinaryIO], None]
    suffix: str
    mime: str
    description: str


FORMATS: Mapping[str, Format] = MappingProxyType(
    {
        "zip": Format("zip", write_zip, ".zip", "application/zip", "All PNGs with a manifest"),
        "psd": Format("psd", write_psd, ".psd", "image/vnd.adobe.photoshop", "Layered PSD for artists"),
        "renpy": Format("renpy", write_renpy, "_renpy.zip", "application/zip", "Ren'Py game/ folder"),
        "pngtuber": Format(
            "pngtuber", write_pngtuber, "_pngtuber.zip", "application/zip", "PNGTuber Plus + VTube Studio items"
        ),
        "sillytavern": Format(
            "sillytavern", write_sillytavern, "_sillytavern.zip", "application/zip", "SillyTavern expressions"
        ),
    }
)


def export(fmt: str, export_set: ExportSet, fetch: Fetch, out: BinaryIO, *, approved_only: bool = False) -> None:
    """Write `export_set` in format `fmt` to `out`; unknown formats and empty sets raise `InvalidInput`."""
    if fmt not in FORMATS:
        raise InvalidInput(f"unknown export format {fmt!r}; choose one of {', '.join(FORMATS)}")
    require_items(export_set)
    if approved_only:
        export_set = with_items(export_set, select_items(export_set, approved_only=True))
    FORMATS[fmt].write(export_set, fetch, out)
