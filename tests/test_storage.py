"""Both object stores behave the same; S3 is exercised over real HTTP against a moto server."""

import uuid
from collections.abc import Iterator

import boto3
import pytest
from moto.server import ThreadedMotoServer

from lib.core import storage
from lib.core.errors import NotFound, StorageError
from lib.core.settings import load_settings
from lib.core.storage import LocalStore, S3Store


@pytest.fixture(scope="module")
def moto_endpoint() -> Iterator[str]:
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture
def s3_store(moto_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> storage.ObjectStore:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "studio-test")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "studio-test-secret")
    bucket = f"studio-{uuid.uuid4().hex[:8]}"
    settings = load_settings(s3_bucket=bucket, s3_endpoint_url=moto_endpoint, s3_prefix="prod")
    made = storage.make_store(settings)
    assert isinstance(made, storage.CountedStore) and isinstance(made.inner, S3Store)  # every call counted
    boto3.client("s3", endpoint_url=moto_endpoint, region_name="us-east-1").create_bucket(Bucket=bucket)
    return made


@pytest.fixture(params=["local", "s3"])
def any_store(request: pytest.FixtureRequest, tmp_path) -> storage.ObjectStore:
    if request.param == "local":
        return LocalStore(tmp_path / "objects")
    return request.getfixturevalue("s3_store")


def test_key_layout() -> None:
    user_id, character_id = uuid.uuid4(), uuid.uuid4()
    assert storage.base_key(user_id=user_id, character_id=character_id, name="base-1.png") == (
        f"characters/{user_id}/{character_id}/base/base-1.png"
    )
    assert storage.diff_key(user_id=user_id, character_id=character_id, name="d.png").endswith(
        f"{character_id}/diffs/d.png"
    )


@pytest.mark.parametrize("key", ["../etc/passwd", "/abs", "a//b", "a/../b", "a/b c", "a/.hidden", ""])
def test_unsafe_keys_are_refused(key: str, tmp_path) -> None:
    with pytest.raises(StorageError):
        LocalStore(tmp_path).put(key, b"x")


def test_round_trip_list_and_delete(any_store: storage.ObjectStore) -> None:
    any_store.put("characters/u1/c1/base/a.png", b"base")
    any_store.put("characters/u1/c1/diffs/b.png", b"diff")
    any_store.put("characters/u1/c2/base/c.png", b"other")
    assert any_store.get("characters/u1/c1/base/a.png") == b"base"
    assert any_store.exists("characters/u1/c1/diffs/b.png")
    assert any_store.list("characters/u1/c1/") == ["characters/u1/c1/base/a.png", "characters/u1/c1/diffs/b.png"]
    assert any_store.delete_prefix("characters/u1/c1/") == 2
    assert not any_store.exists("characters/u1/c1/base/a.png")
    assert any_store.get("characters/u1/c2/base/c.png") == b"other"
    with pytest.raises(NotFound):
        any_store.get("characters/u1/c1/base/a.png")


def test_overwrite_replaces_whole_object(any_store: storage.ObjectStore) -> None:
    any_store.put("characters/u/c/base/x.png", b"first version, longer")
    any_store.put("characters/u/c/base/x.png", b"second")
    assert any_store.get("characters/u/c/base/x.png") == b"second"


