"""The CLI as staff use it: real processes against the test database."""

import argparse
import ast
import contextlib
import io
import json
import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from PIL import Image

from lib.cli.main import build_parser, main
from lib.core import migrations
from lib.core import settings as settings_module
from lib.credits import ledger
from tests.conftest import PASSWORD

ROOT = Path(__file__).resolve().parent.parent


def cli(*args: str, stdin: str = "") -> subprocess.CompletedProcess:
    """Run the CLI in this process (fast); `test_python_dash_m_lib` covers the real entry point."""
    out, err = io.StringIO(), io.StringIO()
    old_stdin = sys.stdin
    sys.stdin = io.StringIO(stdin)
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                code = main(list(args))
            except SystemExit as exc:  # argparse usage errors
                code = int(exc.code or 0)
    finally:
        sys.stdin = old_stdin
    return subprocess.CompletedProcess(args, code, out.getvalue(), err.getvalue())


def ok_json(*args: str, stdin: str = ""):
    result = cli(*args, "--json", stdin=stdin)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def fails(*args: str, stdin: str = "") -> str:
    result = cli(*args, stdin=stdin)
    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    return lines[0]


@pytest.fixture
def image_file(tmp_path: Path) -> Path:
    path = tmp_path / "base.png"
    Image.new("RGBA", (90, 120), (250, 200, 210, 255)).save(path)
    return path


def test_users_and_characters_end_to_end(committed_env, image_file: Path, tmp_path: Path) -> None:
    latest = migrations.available()[-1]
    assert ok_json("db", "upgrade") == {"version": f"{latest.version:04d}_{latest.name}", "applied_now": []}
    ann = ok_json("users", "add", "Ann@Example.com", "--role", "member", "--plan", "basic", "--password-stdin",
                  stdin=PASSWORD + "\n")
    assert ann["email"] == "ann@example.com" and ann["plan"] == "basic"
    ok_json("users", "add", "ben@example.com", "--password-stdin", stdin=PASSWORD + "\n")

    features = tmp_path / "features.json"
    features.write_text(json.dumps({"hair_color": "#112233", "accessories": ["glasses"]}))
    made = ok_json("characters", "add", "--as", "ann@example.com", "--name", "Sakura", "--image", str(image_file),
                   "--features", str(features))
    assert made["width"] == 90 and made["features"] == {"hair_color": "#112233", "accessories": ["glasses"]}
    x, y, w, h = made["face_box"]
    assert made["face_source"] in ("detected", "estimated") and x + w <= 90 and w >= 16 and h >= 16
    assert made["face_unsure"] == (made["face_source"] == "estimated")
    confirmed = ok_json("characters", "face", made["id"], "--box", f"{x},{y},{w},{h}", "--as", "ann@example.com")
    assert confirmed["face_source"] == "user" and confirmed["face_box"] == [x, y, w, h] and not confirmed["face_unsure"]

    plain = cli("characters", "add", "--as", "ann@example.com", "--name", "Plain", "--image", str(image_file))
    assert plain.returncode == 0 and len(plain.stdout.strip()) == 36  # prints the id
    assert "face box " in plain.stderr and ("unsure" in plain.stderr) == ("(estimated)" in plain.stderr)

    listed = ok_json("characters", "list", "--as", "ann@example.com")
    assert {c["name"] for c in listed} == {"Sakura", "Plain"}
    assert ok_json("characters", "list", "--as", "ben@example.com") == []

    assert "not found" in fails("characters", "delete", made["id"], "--as", "ben@example.com")
    assert ok_json("characters", "delete", made["id"], "--as", "ann@example.com") == {"deleted": made["id"]}
    assert [c["name"] for c in ok_json("characters", "list", "--as", "ann@example.com")] == ["Plain"]


def test_errors_are_one_line_and_nonzero(committed_env, image_file: Path, tmp_path: Path) -> None:
    ok_json("users", "add", "ann@example.com", "--password-stdin", stdin=PASSWORD + "\n")
    assert "already exists" in fails("users", "add", "ann@example.com", "--password-stdin", stdin=PASSWORD + "\n")
    assert "--password-stdin" in fails("users", "add", "c@example.com")
    assert "no user nobody@example.com" in fails("characters", "list", "--as", "nobody@example.com")
    text_file = tmp_path / "notes.png"
    text_file.write_text("not an image")
    assert "not a PNG, JPEG or WebP" in fails("characters", "add", "--as", "ann@example.com", "--name", "X",
                                               "--image", str(text_file))
    assert "cannot read" in fails("characters", "add", "--as", "ann@example.com", "--name", "X",
                                  "--image", str(tmp_path / "missing.png"))
    assert "only admins" in fails("users", "list", "--as", "ann@example.com")
    assert ok_json("characters", "list", "--as", "ann@example.com") == []  # nothing was stored


def test_degenerate_uploads_are_refused_by_the_cli(committed_env, tmp_path: Path) -> None:
    ok_json("users", "add", "ann@example.com", "--password-stdin", stdin=PASSWORD + "\n")
    for width, height in ((100_000, 1), (1, 100_000)):
        path = tmp_path / f"line-{width}x{height}.png"
        Image.new("RGBA", (width, height), (250, 200, 210, 255)).save(path)
        message = fails("characters", "add", "--as", "ann@example.com", "--name", "Line", "--image", str(path))
        assert f"{width}×{height}" in message and "64 px" in message and "4:1" in message
    assert ok_json("characters", "list", "--as", "ann@example.com") == []
    assert not list((committed_env / "objects").rglob("*.png"))


def test_usage_errors_exit_2() -> None:
    result = cli("characters", "frobnicate")
    assert result.returncode == 2 and "invalid choice" in result.stderr


def test_python_dash_m_lib(committed_env) -> None:
    """The real entry point, as a separate process: JSON on stdout, one-line errors on stderr."""
    run = [sys.executable, "-m", "lib"]
    added = subprocess.run([*run, "users", "add", "zoe@example.com", "--password-stdin", "--json"],
                           input=PASSWORD + "\n", capture_output=True, text=True, cwd=ROOT, env=os.environ.copy(),
                           timeout=60)
    assert added.returncode == 0, added.stderr
    assert json.loads(added.stdout)["email"] == "zoe@example.com"
    missing = subprocess.run([*run, "characters", "list", "--as", "nobody@example.com", "--json"],
                             capture_output=True, text=True, cwd=ROOT, env=os.environ.copy(), timeout=60)
    assert missing.returncode == 1 and missing.stdout == ""
    assert missing.stderr == "error: no user nobody@example.com\n"


def test_generate_base_then_a_preset_with_variants(studio, monkeypatch, tmp_path: Path) -> None:
    for name in ("DATABASE_URL", "STUDIO_HOME", "STUDIO_COOKIE_KEY", "WORKER_STALL_SECONDS"):
        monkeypatch.setenv(name, studio.env[name])
    settings_module.get_settings.cache_clear()
    ok_json("users", "add", "kai@example.com", "--password-stdin", stdin=PASSWORD + "\n")
    assert "No worker is running, so nothing was submitted" in fails(
        "generate", str(uuid.uuid4()), "--as", "kai@example.com", "--preset", "basic", "--wait")
    studio.start_worker()
    features = tmp_path / "features.json"
    features.write_text(json.dumps({"hair_color": "#223355", "hair_style": "bob", "eye_color": "#aa3322"}))
    made = ok_json("characters", "add", "--as", "kai@example.com", "--name", "Kai", "--features", str(features),
                   "--generate-base")
    assert made["source"] == "generated" and (made["width"], made["height"]) == (768, 1024)
    result = ok_json("generate", made["id"], "--as", "kai@example.com", "--preset", "basic", "--variants",
                     "mouth_open", "--backend", "offline", "--wait")
    assert [(i["expression"], i["variant"]) for i in result["items"]][:3] == [
        ("neutral", None), ("neutral", "mouth_open"), ("happy", None)]
    assert len(result["items"]) == 10 and {i["status"] for i in result["items"]} == {"done"}
    assert result["status"] == "done" and result["credits_held"] == 10
    assert all(i["image_key"].startswith("characters/") and i["credits"] == 1 for i in result["items"])
    assert ok_json("credits", "kai@example.com") == {
        "email": "kai@example.com", "plan": "free", "quota": 30, "used": 10, "held": 0, "available": 20,
        "period_start": ledger.period_of(ledger.today()).isoformat()}
    assert "only admins" in fails("credits", "grant", "kai@example.com", "5", "--reason", "gift",
                                  "--as", "kai@example.com")
    queued = ok_json("generate", made["id"], "--as", "kai@example.com", "--expressions", "sad")
    assert queued["credits_held"] == 1
    cancelled = cli("jobs", "cancel", queued["job_id"], "--as", "kai@example.com", "--json")
    if cancelled.returncode == 0:  # the worker may already have made it
        assert json.loads(cancelled.stdout)["cancelled_items"] in (0, 1)
    assert "choose at least one expression" in fails("generate", made["id"], "--as", "kai@example.com")
    assert "unknown expression 'grumpy'" in fails("generate", made["id"], "--as", "kai@example.com",
                                                  "--expressions", "grumpy")
    assert "GEMINI_API_KEY" in fails("generate", made["id"], "--as", "kai@example.com", "--expressions", "happy",
                                     "--backend", "gemini")
    assert "either --image PATH or --generate-base" in fails("characters", "add", "--as", "kai@example.com",
                                                             "--name", "X")


def imported_modules(path: Path) -> set[str]:
    """Every module a file imports, at the top or inside a function."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.update([node.module, *(f"{node.module}.{alias.name}" for alias in node.names)])
    return names


def test_the_cli_has_no_import_cycle_and_never_imports_test_support_or_streamlit() -> None:
    """Each command group imports only `lib.cli._common` from its package; `lib.cli.main` gathers them all."""
    for path in sorted((ROOT / "lib").rglob("*.py")):
        imported = imported_modules(path)
        assert not {m for m in imported if m.split(".")[0] == "devtools"}, f"{path} imports devtools"
        if path.parent.name != "cli":
            continue
        assert not {m for m in imported if m.split(".")[0] == "streamlit" or m.startswith("lib.web")}, path
        if path.stem not in ("main", "__init__"):
            own = {m for m in imported if m == "lib.cli" or m.startswith("lib.cli.")}
            assert all(m.startswith("lib.cli._common") for m in own), (path, own)


def commands(parser: argparse.ArgumentParser, prefix: str = "") -> list[str]:
    """Every runnable command line of a parser, e.g. `users add`."""
    groups = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    if not groups:
        return [prefix.strip()]
    return [c for name, sub in groups[0].choices.items() for c in commands(sub, f"{prefix} {name}")]


def test_readme_lists_every_command() -> None:
    readme = (ROOT / "README.md").read_text()
    listed = {c.replace("credits-grant", "credits grant") for c in commands(build_parser())}
    assert {c for c in listed if f"python -m lib {c} " not in readme} == set()
    assert "python -m lib standin" not in readme and "python -m devtools standin --port" in readme


def test_a_reused_grant_key_replays_or_fails_never_pretends(committed_env) -> None:
    ok_json("users", "add", "boss@example.com", "--role", "admin", "--password-stdin", stdin=PASSWORD + "\n")
    for email in ("ann@example.com", "ben@example.com"):
        ok_json("users", "add", email, "--password-stdin", stdin=PASSWORD + "\n")
    grant = ("credits", "grant", "--reason", "gift", "--as", "boss@example.com", "--key", "k1")
    first = ok_json(*grant, "ann@example.com", "5")
    assert first["available"] == 35 and first["replayed"] is False
    again = cli(*grant, "ann@example.com", "5")
    assert again.returncode == 0 and "already recorded under key k1" in again.stdout
    assert "key 'k1' was already used" in fails(*grant, "ben@example.com", "5")
    assert "key 'k1' was already used" in fails(*grant, "ann@example.com", "7")
    assert ok_json("credits", "ann@example.com")["available"] == 35
    assert ok_json("credits", "ben@example.com")["available"] == 30
