"""The web boundary: only lib/web, the entrypoints and the pages import Streamlit, and only they import lib.web."""

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
WEB_SIDE = ("app.py", "studio_app.py", "pages/", "lib/web/")


def imported_modules(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names |= {node.module, *(f"{node.module}.{alias.name}" for alias in node.names)}
    return names


# Tests of the web side's own modules, not of a page: the message catalogue's reads lib.web.i18n (the web
# side's words); the sign-in gate's replaces one step of lib.web.auth for one run (a run cut short).
WEB_MODULE_TESTS = {"tests/test_i18n.py", "tests/test_web_auth.py"}


def python_files() -> list[str]:
    return [str(p.relative_to(ROOT)) for p in sorted(ROOT.glob("**/*.py"))
            if not {".venv", "out", "node_modules"} & set(p.relative_to(ROOT).parts)]


def test_only_the_web_side_imports_streamlit_or_lib_web() -> None:
    """lib/ and devtools/ stay Streamlit-free outside lib/web; nothing outside the web side imports lib.web.

    Benchmarks and tests may drive pages with Streamlit's AppTest; they still never import lib.web.
    """
    crossing = {}
    for name in python_files():
        if name.startswith(WEB_SIDE) or name in WEB_MODULE_TESTS:
            continue
        found = {m for m in imported_modules(ROOT / name) if m.startswith("lib.web")}
        if name.startswith(("lib/", "devtools/")):
            found |= {m for m in imported_modules(ROOT / name)
                      if m.split(".")[0] in ("streamlit", "streamlit_authenticator")}
        if found:
            crossing[name] = sorted(found)
    assert crossing == {}


def test_the_cli_worker_and_api_load_without_streamlit() -> None:
    probe = ("import importlib, pkgutil, sys, lib.cli, lib.worker.app, lib.worker.process, lib.api.webhook, "
             "lib.generation.workspace\n"
             "for m in pkgutil.iter_modules(lib.cli.__path__, 'lib.cli.'): importlib.import_module(m.name)\n"
             "print(sorted(m for m in sys.modules if m.split('.')[0] == 'streamlit'))")
    out = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"


def test_pages_hold_no_sql() -> None:
    for page in sorted((ROOT / "pages").glob("*.py")):
        modules = imported_modules(page)
        assert not {m for m in modules if m.split(".")[0] in ("sqlalchemy", "psycopg")}, page.name
        assert "SELECT " not in page.read_text().upper(), page.name
