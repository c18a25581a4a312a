"""A ZIP writer that streams members, stores PNGs uncompressed and records each file's sha256 and size.

Every writer that produces a ZIP goes through `Archive`, so member paths are always ASCII, every entry
carries a `date_time`, and the manifest can list exactly what was written.
"""

from __future__ import annotations

import hashlib
import time
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass
from typing import BinaryIO

from lib.core.errors import InvalidInput

_CHUNK = 1 << 20


@dataclass(frozen=True)
class Member:
    """One file written into the archive."""

    path: str
    role: str
    sha256: str
    bytes: int


class Archive:
    """Write members into a ZIP on `out`; use as a context manager."""

    def __init__(self, out: BinaryIO, *, date_time: tuple[int, int, int, int, int, int] | None = None) -> None:
        self._zip = zipfile.ZipFile(out, "w", allowZip64=True)
        self._date_time = date_time or time.localtime()[:6]
        self.members: list[Member] = []

    def __enter__(self) -> Archive:
        return self

    def __exit__(self, *exc: object) -> None:
        self._zip.close()

    def write(self, path: str, data: bytes, *, role: str, compress: bool = False) -> Member:
        """Add one file from bytes; PNGs should stay stored (`compress=False`)."""
        return self.write_chunks(path, [data], role=role, compress=compress)

    def write_chunks(self, path: str, chunks: Iterable[bytes], *, role: str, compress: bool = False) -> Member:
        """Add one file streamed from `chunks`, hashing as it goes."""
        info = self._info(path, compress)
        digest = hashlib.sha256()
        size = 0
        with self._zip.open(info, "w") as dest:
            for chunk in chunks:
                view = memoryview(chunk)
                for start in range(0, len(view), _CHUNK):
                    part = view[start : start + _CHUNK]
                    dest.write(part)
                    digest.update(part)
                size += len(view)
        member = Member(path, role, digest.hexdigest(), size)
        self.members.append(member)
        return member

    def _info(self, path: str, compress: bool) -> zipfile.ZipInfo:
        if not path.isascii() or path.startswith("/") or ".." in path.split("/"):
            raise InvalidInput(f"archive member path {path!r} must be a relative ASCII path")
        if any(m.path == path for m in self.members):
            raise InvalidInput(f"archive member {path!r} would be written twice")
        info = zipfile.ZipInfo(path, date_time=self._date_time)
        info.compress_type = zipfile.ZIP_DEFLATED if compress else zipfile.ZIP_STORED
        info.external_attr = 0o644 << 16
        return info
