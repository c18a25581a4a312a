"""The words the studio shows, in the reader's language.

Every user-visible string in pages/ and lib/web goes through `_()`: `_("Generate {n} images", n=3)`. The
message id is the English text; values are filled in after translation, so a translation may move them.
"""

from __future__ import annotations


def _(message: str, /, **values: object) -> str:
    """The message in the reader's language, with `values` filled in (`str.format` names)."""
    return message.format(**values) if values else message
