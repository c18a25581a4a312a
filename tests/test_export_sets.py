"""Exports of real generated sets, through the CLI and the Exports page."""

import hashlib
import io
import json
import zipfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from psd_tools import PSDImage
from streamlit.testing.v1 import AppTest

from devtools.generation import generate_now
from lib.accounts import users
from lib.backends.offline import OfflineBackend
from lib.catalog import characters
from lib.cli.main import main
from lib.core import settings as settings_module
from lib.core.errors import InvalidInput, NotFound
from lib.core.images import clean_upload
from lib.core.storage import LocalStore
from lib.design import expressions
from lib.design.features import Features
from lib.exports import sets as export_sets
from lib.exports.psd import layer_names
from lib.generation import jobs
from tests.conftest import PASSWORD


@pytest.fixture
def generated(committed_env, engine):
    store = LocalStore(committed_env / "objects")
    with engine.begin() as conn:
        owner = users.create_user(conn, email="yui@example.com", password=PASSWORD)
        other = users.create_user(conn, email="rin@example.com", password=PASSWORD)
    image, box = characters.generate_base(Features(hair_color="#d04080"), size=(192, 256))
    with engine.begin() as conn:
        character = characters.create_character(conn, store, actor=owner, name="結衣 Yui", image=image,
                                                source="generated", face_box=box)
    request = jobs.JobRequest(expressions=[expressions.get(k) for k in ("joy", "sad", "angry")],
                                    variants=["mouth_open"], backend="offline", model="offline", image_size="1K")
    _, items = generate_now(engine, store, OfflineBackend(), actor=owner, character_id=character.id,
                                       request=request)
    return owner, other, character, items, store


def run(*args: str) -> tuple[int, str, str]:
    import contextlib

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(list(args))
    return code, out.getvalue(), err.getvalue()


def test_every_format_from_the_cli(generated, tmp_path: Path) -> None:
    owner, _, character, items, _store = generated
    settings_module.get_settings.cache_clear()
    for fmt in ("zip", "psd", "renpy", "pngtuber", "sillytavern"):
        code, out, err = run("export", str(character.id), "--as", owner.email, "--format", fmt,
                             "--out", str(tmp_path / f"yui.{fmt}"), "--json")
        assert code == 0, err
        assert json.loads(out)["bytes"] == (tmp_path / f"yui.{fmt}").stat().st_size > 0
    with zipfile.ZipFile(tmp_path / "yui.zip") as archive:
        names = archive.namelist()
        manifest = json.loads(archive.read("manifest.json"))
        assert names[-1] == "manifest.json"
        for entry in manifest["files"]:
            assert hashlib.sha256(archive.read(entry["path"])).hexdigest() == entry["sha256"]
    assert manifest["character"]["name"] == "結衣 Yui"
    # the offline renderer draws at the base's size whatever tier the job asked for (1K here)
    assert manifest["generation"]["image_size"] is None and manifest["generation"]["requested_image_size"] == "1K"
    assert (manifest["generation"]["image_width"], manifest["generation"]["image_height"]) == (192, 256)
    assert manifest["generation"]["runs"] == [{"backend": "offline", "model": "offline", "image_size": None,
                                               "requested_image_size": "1K", "template_version": 1, "images": 6}]
    assert len(manifest["files"]) == 1 + len(items)
    psd = PSDImage.open(tmp_path / "yui.psd")
    assert psd.size == (192, 256)
    with zipfile.ZipFile(tmp_path / "yui.sillytavern") as archive:
        pngs = [n for n in archive.namelist() if n.endswith(".png")]
        assert sorted(pngs) == ["anger.png", "joy.png", "sadness.png"]  # joy is a label; sad, angry map to theirs
        assert "covered: 3 of 28" in archive.read("missing.txt").decode()


def test_export_errors_are_clear(generated, tmp_path: Path, engine) -> None:
    owner, other, character, _, _store = generated
    code, _, err = run("export", str(character.id), "--as", other.email, "--format", "zip", "--out",
                       str(tmp_path / "x.zip"))
    assert code == 1 and "not found" in err
    code, _, err = run("export", str(character.id), "--as", owner.email, "--format", "gif", "--out",
                       str(tmp_path / "x.gif"))
    assert code == 1 and "unknown export format 'gif'" in err
    code, _, err = run("export", str(character.id), "--as", owner.email, "--format", "zip", "--out",
                       str(tmp_path / "x.zip"), "--approved-only")
    assert code == 1 and "is approved" in err
    assert not list(tmp_path.glob("x.*"))
    with engine.connect() as conn, pytest.raises(NotFound):
        export_sets.build(conn, actor=other, character_id=character.id)


def test_approved_images_win_and_rejected_never_ship(generated, engine, tmp_path: Path) -> None:
    owner, _, character, items, store = generated
    happy = next(i for i in items if i.expression_key == "joy" and i.variant is None)
    sad = next(i for i in items if i.expression_key == "sad" and i.variant is None)
    with engine.begin() as conn:
        jobs.set_review(conn, actor=owner, difference_id=happy.id, review="approved")
        jobs.set_review(conn, actor=owner, difference_id=sad.id, review="rejected")
        export_set = export_sets.build(conn, actor=owner, character_id=character.id)
        path = export_sets.write(conn, store, actor=owner, character_id=character.id, fmt="zip", approved_only=True)
    keys = {(i.expression_key, i.variant) for i in export_set.items}
    assert ("sad", None) not in keys and ("joy", None) in keys
    with zipfile.ZipFile(path) as archive:
        manifest = json.loads(archive.read("manifest.json"))
    assert [f["role"] for f in manifest["files"] if f["role"] != "base"] == ["expression"]
    path.unlink()


def test_preview_counts_what_an_export_would_ship(generated, engine) -> None:
    owner, other, character, items, _store = generated
    with engine.begin() as conn:
        everything = export_sets.preview(conn, actor=owner, character_id=character.id, approved_only=False)
        assert (len(everything.items), everything.expressions) == (6, 3)
        assert (everything.count("mouth_open"), everything.count("blink")) == (3, 0)
        assert everything.slug == export_sets.build(conn, actor=owner, character_id=character.id).slug
        with pytest.raises(InvalidInput, match="is approved"):
            export_sets.preview(conn, actor=owner, character_id=character.id, approved_only=True)
        sad = next(i for i in items if i.expression_key == "sad" and i.variant is None)
        joy = next(i for i in items if i.expression_key == "joy" and i.variant == "mouth_open")
        jobs.set_review(conn, actor=owner, difference_id=sad.id, review="rejected")
        jobs.set_review(conn, actor=owner, difference_id=joy.id, review="approved")
        approved = export_sets.preview(conn, actor=owner, character_id=character.id, approved_only=True)
        assert [(i.expression_key, i.variant) for i in approved.items] == [("joy", "mouth_open")]
        assert len(export_sets.preview(conn, actor=owner, character_id=character.id, approved_only=False).items) == 5
        with pytest.raises(NotFound):
            export_sets.preview(conn, actor=other, character_id=character.id, approved_only=False)


def test_exports_page(generated) -> None:
    owner, _, _character, _, _ = generated
    at = AppTest.from_file("../pages/exports.py", default_timeout=30).run()
    at.text_input[0].input(owner.email)
    at.text_input[1].input(PASSWORD)
    at.button[0].click().run()
    assert not at.exception
    assert [t.value for t in at.title] == ["Exports"]
    assert "6 images: 3 expressions (3 with mouth open, 0 with blink)" in at.caption[0].value
    assert sum("Download" in html.proto.body for html in at.get("html")) == 5  # tests/test_file_links.py fetches them
    at.toggle[0].set_value(True).run()
    assert "is approved" in " ".join(e.value for e in at.error)


def test_empty_character_cannot_be_exported(committed_env, engine) -> None:
    store = LocalStore(committed_env / "objects")
    with engine.begin() as conn:
        owner = users.create_user(conn, email="new@example.com", password=PASSWORD)
        image = characters.generate_base(Features(), size=(96, 128))[0]
        character = characters.create_character(conn, store, actor=owner, name="Empty", image=image,
                                                source="generated")
        with pytest.raises(InvalidInput, match="no expression images"):
            export_sets.write(conn, store, actor=owner, character_id=character.id, fmt="zip", approved_only=False)
    assert Image.open(io.BytesIO(store.get(character.base_key))).size == (96, 128)


def test_a_real_upload_stacks_back_in_every_layered_export(committed_env, engine, tmp_path: Path) -> None:
    """An artist's sprite (soft edges) uploaded and generated offline: body + each layer is each stored image."""
    from tests.export_support import REAL_DEV, max_difference, paste, premultiplied, rgba, straight_over

    store = LocalStore(committed_env / "objects")
    upload = (REAL_DEV / "tyrano" / "akane_normal.png").read_bytes()
    with engine.begin() as conn:
        owner = users.create_user(conn, email="akane@example.com", password=PASSWORD)
        character = characters.create_character(
            conn, store, actor=owner, name="Akane", source="upload",
            image=clean_upload(upload, max_bytes=10**7, max_pixels=10**7, min_side=64, max_aspect=4.0))
    request = jobs.JobRequest(expressions=[expressions.get(k) for k in ("happy", "sad")],
                              variants=["mouth_open", "blink"], backend="offline", model="offline", image_size="1K")
    generate_now(engine, store, OfflineBackend(), actor=owner, character_id=character.id, request=request)
    with engine.begin() as conn:
        export_set = export_sets.build(conn, actor=owner, character_id=character.id)
        paths = {fmt: export_sets.write(conn, store, actor=owner, character_id=character.id, fmt=fmt,
                                        approved_only=False, directory=tmp_path) for fmt in ("psd", "renpy")}
    assert len(export_set.items) == 6
    psd = PSDImage.open(paths["psd"])
    body = np.asarray(psd[0].topil().convert("RGBA"))
    by_name = {layer.name: layer for layer in psd.descendants()}
    with zipfile.ZipFile(paths["renpy"]) as pack:
        renpy_body = premultiplied(rgba(pack.read("game/images/akane/akane_base.png")))
        for item in export_set.items:
            finished = rgba(store.get(item.image_key))
            layer = by_name[layer_names(item)[1]]
            stacked = straight_over(paste(layer.topil(), layer.left, layer.top, export_set.size), body)
            assert max_difference(stacked, finished) <= 1, item
            stem = {"expression": "face", "mouth_open": "mouth_open", "blink": "blink"}[item.role]
            top = premultiplied(rgba(pack.read(f"game/images/akane/akane_{stem}_{item.expression_key}.png")))
            shown = np.rint(top + renpy_body * (1 - top[..., 3:] / 255))
            assert np.abs(shown - premultiplied(finished)).max() <= 1, item
