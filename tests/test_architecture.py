"""The layout keeps its promises: import contracts, module sizes, Streamlit's place, docs that list everything."""

from __future__ import annotations

import ast
import importlib
import pkgutil
import re
import subprocess
import sys
from pathlib import Path

import pytest

import lib
from lib.core import errors

ROOT = Path(__file__).resolve().parent.parent
MAX_LINES = 600
STREAMLIT_HOMES = ("app.py", "studio_app.py", "pages/", "lib/web/")


def _tracked_python() -> list[Path]:
    listed = subprocess.run(["git", "ls-files", "--cached", "--others", "--exclude-standard", "*.py"], cwd=ROOT,
                            capture_output=True, text=True, check=True).stdout.split()
    return [ROOT / p for p in listed if (ROOT / p).exists()]


def _lib_modules() -> list[str]:
    return [m.name for m in pkgutil.walk_packages(lib.__path__, "lib.") if m.name != "lib.__main__"]


def test_import_contracts_hold() -> None:
    """Layers, no cycles (function-level imports included), no test support and no Streamlit outside lib.web."""
    lint = Path(sys.executable).with_name("lint-imports")
    result = subprocess.run([str(lint), "--no-cache"], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "BROKEN" not in result.stdout and "Contracts: 4 kept, 0 broken." in result.stdout


def test_no_lib_module_is_over_the_size_limit() -> None:
    sizes = {p.relative_to(ROOT).as_posix(): len(p.read_text().splitlines()) for p in (ROOT / "lib").rglob("*.py")}
    assert len(sizes) > 40
    assert {p: n for p, n in sizes.items() if n > MAX_LINES} == {}


def _imports_streamlit(path: Path) -> bool:
    for node in ast.walk(ast.parse(path.read_text())):
        names = [a.name for a in node.names] if isinstance(node, ast.Import) else (
            [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
        if any(n == "streamlit" or n.startswith(("streamlit.", "streamlit_authenticator")) for n in names):
            return True
    return False


def test_streamlit_is_imported_only_by_the_web_faces() -> None:
    """app.py, studio_app.py, pages/ and lib/web/ (tests and benchmarks drive pages through AppTest)."""
    importers = {p.relative_to(ROOT).as_posix() for p in _tracked_python() if _imports_streamlit(p)}
    production = {p for p in importers if not p.startswith(("tests/", "benchmarks/"))}
    assert production and {p for p in production if not p.startswith(STREAMLIT_HOMES)} == set()
    assert any(p.startswith("lib/web/") for p in production) and any(p.startswith("pages/") for p in production)


def test_every_package_says_what_it_owns_and_may_import() -> None:
    packages = sorted(p.parent for p in (ROOT / "lib").glob("*/__init__.py")) + [ROOT / "devtools"]
    assert len(packages) >= 17
    for package in packages:
        doc = ast.get_docstring(ast.parse((package / "__init__.py").read_text())) or ""
        assert len(doc) > 120 and "import" in doc, f"{package.name}/__init__.py needs a docstring saying what it " \
                                                    "owns and what it may import"


def _studio_errors() -> set[type]:
    for name in _lib_modules():
        importlib.import_module(name)
    found, todo = set(), [errors.StudioError]
    while todo:
        for sub in todo.pop().__subclasses__():
            if sub.__module__.startswith("lib.") and sub not in found:
                found.add(sub)
                todo.append(sub)
    return found


def test_the_error_tree_lists_every_studio_error() -> None:
    tree = errors.__doc__ or ""
    subclasses = _studio_errors()
    assert len(subclasses) >= 14
    missing = sorted(c.__name__ for c in subclasses if not re.search(rf"[─ ]{c.__name__}\s", tree))
    assert missing == []
    for cls in subclasses:  # an error defined elsewhere names where: [its module or package]
        if cls.__module__ != "lib.core.errors":
            where = re.search(rf"{cls.__name__}\s.*\[([\w.]+)\]", tree)
            assert where and cls.__module__.startswith(where.group(1)), f"{cls.__name__} is in {cls.__module__}"


@pytest.mark.parametrize("package", sorted(p.parent.name for p in (ROOT / "lib").glob("*/__init__.py")))
def test_readme_architecture_names_every_package(package: str) -> None:
    readme = (ROOT / "README.md").read_text()
    section = readme.split("## Architecture", 1)[1].split("\n## ", 1)[0]
    assert re.search(rf"\b{package}/", section), f"README's Architecture section does not list lib/{package}/"
