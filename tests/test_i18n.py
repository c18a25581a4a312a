"""The Japanese UI: every message the UI code shows has a Japanese entry, no page shows an un-wrapped English
literal through a Streamlit call, and the catalogue's entries keep their `{placeholders}`."""

from __future__ import annotations

import ast
import re
import string
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from devtools.update_catalogue import SOURCES, message_ids
from lib.web import i18n
from tests.conftest import PASSWORD

ROOT = Path(__file__).resolve().parent.parent
# Streamlit calls whose first argument (or these keywords) a person reads.
SHOWN = re.compile(r"(^st\.|\.)(title|header|subheader|caption|markdown|info|warning|error|success|toast|button|"
                   r"form_submit_button|text_input|text_area|number_input|selectbox|multiselect|toggle|checkbox|"
                   r"radio|segmented_control|date_input|file_uploader|metric|expander|popover|progress|"
                   r"download_button|tabs|spinner|Page)$")
OPTIONS = re.compile(r"\.(selectbox|multiselect|radio|segmented_control)$")
KEYWORDS = ("label", "help", "caption", "placeholder", "title", "text")
ALLOWED = {"Language / 言語"}  # the switch names itself in both languages


def _shown_literals(path: Path) -> list[str]:
    """English string literals passed straight to a Streamlit call (not through `_()`), as file:line: text."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if not isinstance(node, ast.Call) or not SHOWN.search(ast.unparse(node.func)):
            continue
        shown = node.args[:1] + [k.value for k in node.keywords if k.arg in KEYWORDS]
        if isinstance(node.func, ast.Attribute) and node.func.attr == "tabs" and node.args \
                and isinstance(node.args[0], ast.List):
            shown = node.args[0].elts
        translated = any(k.arg == "format_func" and ast.unparse(k.value) == "_" for k in node.keywords)
        if OPTIONS.search(ast.unparse(node.func)) and len(node.args) > 1 and isinstance(node.args[1], ast.List) \
                and not translated:
            shown += node.args[1].elts  # literal options are read too ("All plans")
        while any(isinstance(arg, ast.IfExp) for arg in shown):  # both branches of `a if c else b` are shown
            shown = [part for arg in shown
                     for part in ((arg.body, arg.orelse) if isinstance(arg, ast.IfExp) else (arg,))]
        for arg in shown:
            if isinstance(arg, ast.JoinedStr) or (
                    isinstance(arg, ast.Constant) and isinstance(arg.value, str) and re.search("[A-Za-z]{2}", arg.value)
                    and not arg.value.endswith(".py") and arg.value not in ALLOWED):
                found.append(f"{path.relative_to(ROOT)}:{arg.lineno}: {ast.unparse(arg)[:80]}")
    return found


def test_every_message_has_a_japanese_entry() -> None:
    japanese = i18n.catalogue("ja")
    missing = [f"{where}: {message!r}" for message, where in message_ids().items() if not japanese.get(message)]
    assert not missing, "run `python -m devtools.update_catalogue` and translate:\n" + "\n".join(missing)


def test_translations_keep_their_placeholders() -> None:
    def names(text: str) -> set[str]:
        return {field for _, field, _, _ in string.Formatter().parse(text) if field}

    for message, translated in i18n.catalogue("ja").items():
        assert names(translated) == names(message), (message, translated)


def test_pages_show_no_unwrapped_literals() -> None:
    """Every page and the entrypoint: a literal in a Streamlit call that shows it must go through `_()`."""
    found = [hit for path in SOURCES if path.parent.name == "pages" or path.name == "app.py"
             for hit in _shown_literals(path)]
    assert not found, "\n".join(found)


@pytest.mark.parametrize("module", ["auth.py", "history.py", "review.py", "features_form.py"])
def test_shared_widgets_show_no_unwrapped_literals(module: str) -> None:
    found = _shown_literals(ROOT / "lib" / "web" / module)
    assert not found, "\n".join(found)


def test_underscore_translates_and_fills_values(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(i18n, "language", lambda: "ja")
    assert i18n._("Attempt {n} of {count}", n=2, count=3) == "試行 2 / 3"
    assert i18n._("a message nobody translated") == "a message nobody translated"
    monkeypatch.setattr(i18n, "language", lambda: "en")
    assert i18n._("Attempt {n} of {count}", n=2, count=3) == "Attempt 2 of 3"


def test_the_switch_turns_the_pages_japanese(accounts) -> None:
    at = AppTest.from_file("../app.py", default_timeout=30).run()
    assert [b.label for b in at.button] == ["Sign in"]  # AppTest has no browser locale: English
    at.text_input[0].input("mei@example.com")
    at.text_input[1].input(PASSWORD)
    at.button[0].click().run()
    switch = next(w for w in at.get("button_group") if w.proto.label == "Language / 言語")
    switch.set_value("ja").run()
    assert not at.exception, at.exception
    at.switch_page("pages/generate.py").run()
    assert [t.value for t in at.title] == ["生成"]
    assert "サインアウト" in [b.label for b in at.button]
    at.switch_page("pages/credits.py").run()  # remembered for the session on the next page
    assert [t.value for t in at.title] == ["クレジット"]


def _callback_without_the_switch() -> None:
    import streamlit as st

    from lib.web import i18n, state

    if state.LANGUAGE.get() is None:
        state.LANGUAGE.set("ja")
    st.button("go", on_click=i18n._remember_choice)  # the switch's callback, its widget absent from this run


def test_the_switch_callback_keeps_the_choice_when_its_widget_is_gone() -> None:
    """Streamlit can call the callback after it dropped the switch's key (seen on a sign-out's rerun)."""
    at = AppTest.from_function(_callback_without_the_switch).run()
    at.button[0].click().run()
    assert not at.exception, at.exception
    assert at.session_state["studio_language"] == "ja"


def test_variants_are_named_in_both_languages_as_expressions_are(monkeypatch: pytest.MonkeyPatch) -> None:
    """The variant picker, the grid's column headings and the batch picker name a variant "Mouth open 口開け",
    as they name an expression "Happy 笑顔" (they showed the bare key "mouth open" in the Japanese UI)."""
    import datetime as dt
    import uuid

    from lib.generation.workspace import BatchSummary
    from lib.web import history, widgets

    assert widgets.variant_label("mouth_open") == "Mouth open 口開け"
    assert widgets.variant_label("blink") == "Blink 目閉じ"
    assert widgets.variant_label("wink_left") == "wink left"  # not a known variant: its key in words
    monkeypatch.setattr(i18n, "language", lambda: "ja")
    line = history.batch_label(BatchSummary(
        job_id=uuid.uuid4(), created_at=dt.datetime(2026, 12, 1, 4, 16), made_by="mei", preset="basic",
        variants=["mouth_open", "blink"], model="offline", image_size="1K", status="done", items=15, done=15,
        failed=0, cancelled=0, open=0, approved=0, credits=15))
    assert "basic + Mouth open 口開け + Blink 目閉じ" in line and "完了" in line, line
