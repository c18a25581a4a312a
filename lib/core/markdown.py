"""User text inside Streamlit Markdown: one escape, so a name, an outfit or an email is shown as typed.

Streamlit renders bodies, captions, messages and most widget labels as Markdown (GFM, LaTeX, colour
directives, emoji shortcodes); text users typed must never become a link, an image or formatting there.
No Streamlit import: the pages call it through lib.web.widgets, tests call it directly.
"""

from __future__ import annotations

import re

# Characters that start Markdown wherever they stand in Streamlit's renderer: links and images (`[`, `]`, `!`),
# emphasis and code, headings, tables, quotes and HTML, GFM strikethrough, `$` LaTeX, `:red[...]` directives
# and `:emoji:` shortcodes, entities, and the escape itself. `(` and `)` mean nothing without `]` before them,
# so they stay as typed (readable in messages and tests).
_ANYWHERE = re.compile(r"([\\`*_{}\[\]<>#|~$:&!])")
# GFM turns bare `http://…`, `https://…` and `www.…` in the *parsed* text into links, so a backslash cannot
# stop it: an invisible WORD JOINER after the scheme or `www` does (the text reads the same).
_AUTOLINK = re.compile(r"(https?(?=:)|www(?=\.))", re.IGNORECASE)
WORD_JOINER = "\u2060"
_BLOCK_START = re.compile(r"^(\d+)([.)])|^([-+=])")  # an ordered or bulleted list, a setext underline


def escape_markdown(text: object) -> str:
    """User-provided text as literal text inside any Streamlit Markdown (bodies, captions, labels, messages).

    Line breaks and runs of white space become one space (the page would collapse them anyway), so the
    text cannot open a block (a list, a quote, a code block) anywhere but at its start, which is escaped too.
    What stays as typed has no meaning on its own: `(`, `)`, `.`, `-`, `@` (an email address may still show
    as a mail link to that same address).
    """
    unlinked = _AUTOLINK.sub(rf"\1{WORD_JOINER}", " ".join(str(text).split()))
    escaped = _ANYWHERE.sub(r"\\\1", unlinked)
    return _BLOCK_START.sub(lambda m: f"{m[1]}\\{m[2]}" if m[1] else f"\\{m[3]}", escaped, count=1)
