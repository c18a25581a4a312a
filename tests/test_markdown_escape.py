"""User text in Markdown: `escape_markdown` leaves exactly the typed text, never a link, image or format."""

import html
import re
import string

from hypothesis import given
from hypothesis import strategies as st
from markdown_it import MarkdownIt

from lib.core.markdown import WORD_JOINER, escape_markdown

ALPHABET = string.printable + "桜笑顔ゆ　\u00a0·×é"
PLANTED = "[sign in here](http://evil.example/login) ![x](http://evil.example/x.png) **bold** :red[x] $x$"


def rendered(source: str) -> str:
    return MarkdownIt("commonmark").enable(["strikethrough", "table"]).render(source)


def only_text(source: str) -> str:
    """The paragraph's text when the source renders as one paragraph without any markup; else fail."""
    found = re.fullmatch(r"<p>([^<>]*)</p>\n", rendered(source))
    assert found, rendered(source)
    return html.unescape(found[1]).replace(WORD_JOINER, "")  # invisible: it only keeps GFM from autolinking


@given(st.text(alphabet=ALPHABET, min_size=1))
def test_any_text_renders_as_one_paragraph_of_exactly_that_text(typed: str) -> None:
    normal = " ".join(typed.split())
    if normal:
        assert only_text(escape_markdown(typed)) == normal


def test_the_planted_name_and_every_markdown_construct_stay_text() -> None:
    cases = [PLANTED, "<img src=x onerror=alert(1)>", "`code`", "~~gone~~", "# heading", "> quote", "- item",
             "+ item", "1. first", "7) seventh", "| a | b |\n|---|---|", "a\n\n    code", "&amp; &#91;", "*a* _b_",
             "line\nbreak  \nhard", ":material/home: :smile: :blue-background[x]", "\\[escaped\\]", "===", "***"]
    for case in cases:
        assert only_text(escape_markdown(case)) == " ".join(case.split())


def test_directives_latex_and_autolinks_never_appear_unescaped() -> None:
    escaped = escape_markdown(PLANTED + " www.evil.example WWW.Evil.example HTTPS://evil.example")
    # GFM's autolink literal needs these exact letters together; the parsed text still reads them.
    assert not re.search(r"https?:|https?\\:|www\.|www\\\.", escaped, re.IGNORECASE), escaped
    assert not re.search(r"(?<!\\)[$:\[\]!]", escaped)


def test_plain_text_is_left_as_typed() -> None:
    for plain in ("Sakura (school)", "mei@example.com", "桜 笑顔", "Hana 2.0, the second", "a-b c+d", "http"):
        assert escape_markdown(plain) == plain
