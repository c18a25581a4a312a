"""Retention: raw model answers expire after RAW_RETENTION_DAYS (local disk and S3 over HTTP), and the S3
bucket gets lifecycle rules (raw expiry by tag, cold storage) that S3 reads back."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest
from sqlalchemy import Engine, text

from devtools.generation import generate_now
from lib.accounts import users
from lib.backends.offline import OfflineBackend
from lib.catalog import characters
from lib.core import storage
from lib.core.errors import InvalidInput
from lib.core.settings import load_settings
from lib.core.storage import LocalStore
from lib.design import expressions
from lib.design.features import Features
from lib.generation import jobs
from lib.ops import retention
from tests.conftest import PASSWORD, wipe
from tests.test_storage import moto_endpoint  # noqa: F401 - the moto server fixture


@pytest.fixture
def committed(engine: Engine) -> Iterator[Engine]:
    yield engine
    wipe(engine)


@pytest.fixture
def s3_settings(moto_endpoint, monkeypatch):  # noqa: F811
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "studio-test")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "studio-test-secret")
    bucket = f"studio-{uuid.uuid4().hex[:8]}"
    boto3.client("s3", endpoint_url=moto_endpoint, region_name="us-east-1").create_bucket(Bucket=bucket)
    return load_settings(s3_bucket=bucket, s3_endpoint_url=moto_endpoint, s3_prefix="prod")


def made(engine: Engine, store, email: str) -> list:
    with engine.begin() as conn:
        user = users.create_user(conn, email=email, password=PASSWORD)
        image, box = characters.generate_base(Features(), size=(96, 128))
        character = characters.create_character(conn, store, actor=user, name="Aoi", image=image,
                                                source="generated", face_box=box)
    request = jobs.JobRequest(expressions=[expressions.get(k) for k in ("joy", "sad")], variants=[],
                              backend="offline", model="offline", image_size="1K")
    return generate_now(engine, store, OfflineBackend(), actor=user, character_id=character.id, request=request)[1]


@pytest.mark.parametrize("kind", ["local", "s3"])
def test_raw_answers_older_than_the_retention_are_deleted_and_forgotten(committed, tmp_path: Path, kind,
                                                                        request) -> None:
    store = LocalStore(tmp_path / "objects") if kind == "local" else \
        storage.make_store(request.getfixturevalue("s3_settings"))
    old, new = made(committed, store, "old@example.com"), made(committed, store, "new@example.com")
    with committed.begin() as conn:
        conn.execute(text("UPDATE differences SET finished_at = now() - interval '31 days' WHERE id = ANY(:ids)"),
                     {"ids": [i.id for i in old]})
        raw = dict(conn.execute(text("SELECT id, raw_key FROM differences")).all())
    assert all(key.endswith(storage.RAW_SUFFIX) and store.exists(key) for key in raw.values())
    assert retention.expire_raw(committed, store, days=0) == 0  # 0 keeps them
    assert retention.expire_raw(committed, store, days=30, batch=1) == 2
    for item in old:
        assert not store.exists(raw[item.id]) and store.exists(item.image_key)  # the finished image stays
    for item in new:
        assert store.exists(raw[item.id])
    with committed.connect() as conn:
        left = dict(conn.execute(text("SELECT id, raw_key FROM differences")).all())
    assert {i.id for i in old} == {k for k, v in left.items() if v is None}
    assert retention.expire_raw(committed, store, days=30) == 0


def test_s3_raw_answers_are_tagged_and_the_bucket_gets_lifecycle_rules(s3_settings) -> None:
    store = storage.make_store(s3_settings)
    store.put("characters/u/c/diffs/x-raw.png", b"raw")
    store.put("characters/u/c/diffs/x.png", b"finished")
    client = storage.s3_client(s3_settings)
    tags = {k: client.get_object_tagging(Bucket=s3_settings.s3_bucket, Key=f"prod/characters/u/c/diffs/{k}")["TagSet"]
            for k in ("x-raw.png", "x.png")}
    assert tags == {"x-raw.png": [{"Key": "kind", "Value": "raw"}], "x.png": []}
    rules = {r["ID"]: r for r in retention.apply_lifecycle(s3_settings)}
    assert rules["studio-raw-answers-expire"]["Expiration"] == {"Days": 30}
    assert rules["studio-raw-answers-expire"]["Filter"]["And"]["Tags"] == [{"Key": "kind", "Value": "raw"}]
    assert rules["studio-cold-storage"]["Transitions"] == [{"Days": 90, "StorageClass": "STANDARD_IA"}]
    assert rules["studio-cold-storage"]["Filter"] == {"Prefix": "prod/"}
    with pytest.raises(InvalidInput, match="for S3"):
        retention.apply_lifecycle(load_settings())
