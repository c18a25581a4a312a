"""Refresh lib/web/locales/*/LC_MESSAGES/studio.po from the `_()` calls in app.py, pages/ and lib/web.

`python -m devtools.update_catalogue` adds new message ids (untranslated) and drops ids no code uses any
more; translations already in the catalogue are kept. tests/test_i18n.py fails while an id has none.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.pofile import read_po, write_po

ROOT = Path(__file__).resolve().parent.parent
SOURCES = [ROOT / "app.py", *sorted((ROOT / "pages").glob("*.py")), *sorted((ROOT / "lib" / "web").glob("*.py"))]
EXTRA = ["Studio", "Admin", "Password", "Side by side", "Base", "Result", "member", "admin"]  # ids built at run time


def message_ids() -> dict[str, str]:
    """Every literal message of `_()` and `_n()` in the UI code, with where it first appears."""
    found: dict[str, str] = {}
    for path in SOURCES:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in ("_", "_n")):
                continue
            for arg in node.args[:1 if node.func.id == "_" else 2]:  # _n(one, many, n): both are messages
                if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
                    found.setdefault(arg.value, f"{path.relative_to(ROOT)}:{node.lineno}")
    return found | {m: "runtime" for m in EXTRA if m not in found}


def main() -> None:
    for po in sorted((ROOT / "lib" / "web" / "locales").glob("*/LC_MESSAGES/studio.po")):
        language = po.parent.parent.name
        with po.open("rb") as f:
            old = {m.id: m.string for m in read_po(f, locale=language) if m.id}
        fresh = Catalog(locale=language, project="Miyabi Character Studio", fuzzy=False)
        for message, where in message_ids().items():
            fresh.add(message, old.get(message, ""), locations=[(where.rsplit(":", 1)[0], 0)] if ":" in where else [])
        with po.open("wb") as f:
            write_po(f, fresh, width=120, omit_header=False, sort_output=False, include_lineno=False)
        missing = sum(1 for m in fresh if m.id and not m.string)
        sys.stdout.write(f"{po.relative_to(ROOT)}: {len(fresh)} messages, {missing} untranslated\n")


if __name__ == "__main__":
    main()
