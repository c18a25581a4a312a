"""The restore drill: a studio with users, characters, finished, failed and cancelled batches, ledger entries,
tokens and notices → `python -m lib backup` → a fresh empty studio → `python -m lib restore` → every row, every
object (sha256) and every balance identical, the same export, and the restored studio serves its pages and
runs a new batch. Also: damaged backups and non-empty studios are refused before anything changes.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import uuid
import zipfile
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from streamlit.testing.v1 import AppTest

from devtools.generation import generate_now
from lib.accounts import tokens, users
from lib.backends.base import GenerationFailed, ImageRequest, ImageResult
from lib.backends.offline import OfflineBackend
from lib.catalog import characters
from lib.core import db, migrations
from lib.core.storage import LocalStore
from lib.credits import ledger
from lib.design import expressions
from lib.design.features import Features
from lib.exports import sets as export_sets
from lib.generation import batches, jobs
from lib.ops import backup
from tests.conftest import COOKIE_KEY, PASSWORD, create_database, drop_database

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.slow


class RefusingBackend:
    """A backend whose every answer is a safety block: items fail as they would at Gemini."""

    name = "offline"
    model = "offline"

    def generate(self, request: ImageRequest) -> ImageResult:
        raise GenerationFailed("safety", "The model refused this image (safety).", permanent=True)


class Studio:
    def __init__(self, url: str, home: Path) -> None:
        self.url, self.home = url, home
        self.engine = sa.create_engine(db.sqlalchemy_url(url))
        self.store = LocalStore(home / "objects")
        self.env = {**os.environ, "DATABASE_URL": url, "STUDIO_HOME": str(home), "STUDIO_COOKIE_KEY": COOKIE_KEY}

    def cli(self, *args: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "lib", *args, "--json"], cwd=ROOT, env=self.env,
                              capture_output=True, text=True, timeout=300)


@pytest.fixture
def studios(server_url: str, tmp_path: Path) -> Iterator[tuple[Studio, Studio]]:
    names = [f"studio_backup_{uuid.uuid4().hex[:8]}" for _ in range(2)]
    made = [Studio(create_database(server_url, name), tmp_path / name) for name in names]
    try:
        yield made[0], made[1]
    finally:
        for studio, name in zip(made, names, strict=True):
            studio.engine.dispose()
            drop_database(server_url, name)


def populate(studio: Studio) -> dict[str, Any]:
    migrations.upgrade(studio.engine)
    store, engine = studio.store, studio.engine
    with engine.begin() as conn:
        admin = users.create_user(conn, email="boss@example.com", password=PASSWORD, role="admin", plan="pro")
        mei = users.create_user(conn, email="mei@example.com", password=PASSWORD, plan="basic")
        ledger.grant(conn, user_id=mei.id, amount=25, key="bonus-1", reason="welcome bonus")
        tokens.create_token(conn, actor=mei, name="nightly", now=datetime.now(UTC))
        image, box = characters.generate_base(Features(hair_color="#c04070"), size=(120, 160))
        drawn = characters.create_character(conn, store, actor=mei, name="結衣 Yui", image=image,
                                            source="generated", face_box=box)
        upload = characters.generate_base(Features(hair_color="#3050a0"), size=(150, 200))[0].png
    with engine.begin() as conn:
        uploaded = characters.create_with_base(conn, store, actor=admin, name="Sora", features=None,
                                               upload=upload, settings=studio_settings(studio))
    request = jobs.JobRequest(expressions=[expressions.get(k) for k in ("joy", "sad")], variants=["blink"],
                              backend="offline", model="offline", image_size="1K")
    generate_now(engine, store, OfflineBackend(), actor=mei, character_id=drawn.id, request=request)
    generate_now(engine, store, RefusingBackend(), actor=admin, character_id=uploaded.id,
                 request=jobs.JobRequest(expressions=[expressions.get("angry")], variants=[], backend="offline",
                                         model="offline", image_size="1K"))
    with engine.begin() as conn:
        queued = batches.submit(conn, actor=mei, character=drawn, request=request, settings=studio_settings(studio))
        batches.cancel(conn, actor=mei, job_id=queued.job_id)
    return {"mei": mei, "admin": admin, "drawn": drawn}


def studio_settings(studio: Studio):
    from lib.core.settings import load_settings

    return load_settings(database_url=studio.url, studio_home=studio.home, studio_cookie_key=COOKIE_KEY)


def every_row(engine: sa.Engine) -> dict[str, list[tuple]]:
    """Every row of every table, in a stable order."""
    with engine.connect() as conn:
        tables = sorted(sa.inspect(conn).get_table_names())
        return {t: list(conn.execute(sa.text(f'SELECT r::text FROM "{t}" AS r ORDER BY 1')).scalars()) for t in tables}


def objects(store: LocalStore) -> dict[str, str]:
    return {key: hashlib.sha256(store.get(key)).hexdigest() for key in store.list("")}


def export_digests(engine: sa.Engine, store: LocalStore, actor, character_id) -> dict[str, str]:
    with engine.connect() as conn:
        path = export_sets.write(conn, store, actor=actor, character_id=character_id, fmt="zip", approved_only=False)
    with zipfile.ZipFile(path) as archive:
        digests = {n: hashlib.sha256(archive.read(n)).hexdigest() for n in archive.namelist() if n != "manifest.json"}
    path.unlink()
    return digests


def test_backup_then_restore_into_an_empty_studio_gives_back_everything(studios, tmp_path: Path) -> None:
    source, target = studios
    made = populate(source)
    before_rows, before_objects = every_row(source.engine), objects(source.store)
    assert before_rows["differences"] and len(before_objects) >= 8
    with source.engine.connect() as conn:
        statuses = set(conn.execute(sa.text("SELECT status FROM generation_jobs")).scalars())
        balances = {u.email: ledger.balance(conn, user_id=u.id) for u in users.list_users(conn, actor=made["admin"])}
    assert statuses == {"done", "failed", "cancelled"}
    exported = export_digests(source.engine, source.store, made["mei"], made["drawn"].id)

    out = tmp_path / "backup"
    done = source.cli("backup", "--out", str(out))
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout)
    assert summary["objects"] == len(before_objects) and summary["database_bytes"] > 0
    manifest = json.loads((out / "manifest.json").read_text())
    assert {o["key"]: o["sha256"] for o in manifest["objects"]} == before_objects

    restored = target.cli("restore", "--from", str(out))
    assert restored.returncode == 0, restored.stderr
    assert every_row(target.engine) == before_rows
    assert objects(target.store) == before_objects
    with target.engine.connect() as conn:
        admin = users.get_user(conn, email="boss@example.com")
        assert {u.email: ledger.balance(conn, user_id=u.id) for u in users.list_users(conn, actor=admin)} == balances
    assert export_digests(target.engine, target.store, made["mei"], made["drawn"].id) == exported

    # The restored studio works: its pages sign in and show the restored character, and a new batch runs.
    request = jobs.JobRequest(expressions=[expressions.get("surprised")], variants=[], backend="offline",
                              model="offline", image_size="1K")
    _, items = generate_now(target.engine, target.store, OfflineBackend(), actor=made["mei"],
                            character_id=made["drawn"].id, request=request)
    assert [i.status for i in items] == ["done"]
    os.environ.update(DATABASE_URL=target.url, STUDIO_HOME=str(target.home), STUDIO_COOKIE_KEY=COOKIE_KEY)
    try:
        import streamlit as st

        from lib.core import settings as settings_module

        settings_module.get_settings.cache_clear()
        st.cache_resource.clear()
        at = AppTest.from_file("../pages/characters.py", default_timeout=60).run()
        at.text_input[0].input("mei@example.com")
        at.text_input[1].input(PASSWORD)
        at.button[0].click().run()
        assert not at.exception
        assert "結衣 Yui" in [h.value for h in at.subheader] + [h.value for h in at.header] + \
            [m.value for m in at.markdown]
    finally:
        for name in ("DATABASE_URL", "STUDIO_HOME", "STUDIO_COOKIE_KEY"):
            os.environ.pop(name, None)
        settings_module.get_settings.cache_clear()
        st.cache_resource.clear()


def test_a_damaged_backup_or_a_used_studio_is_refused_before_anything_changes(studios, tmp_path: Path) -> None:
    source, target = studios
    populate(source)
    out = tmp_path / "backup"
    backup.backup(source.engine, source.store, out=out)
    assert "not empty" in source.cli("backup", "--out", str(out)).stderr  # never over an earlier backup

    victim = next((out / "objects").rglob("*.png"))
    original = victim.read_bytes()
    victim.write_bytes(original[:-1] + bytes([original[-1] ^ 1]))
    refused = target.cli("restore", "--from", str(out))
    assert refused.returncode != 0 and "damaged" in refused.stderr and "Traceback" not in refused.stderr
    assert not target.store.list("")
    victim.write_bytes(original)

    used = source.cli("restore", "--from", str(out))  # the source still has its users
    assert used.returncode != 0 and "restore only into an empty studio" in used.stderr
    assert not (tmp_path / "nothing").exists()
    missing = target.cli("restore", "--from", str(tmp_path / "nothing"))
    assert missing.returncode != 0 and "is it a studio backup" in missing.stderr
