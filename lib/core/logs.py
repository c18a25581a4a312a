"""How the studio's processes log: plain text, or one JSON object per line (`LOG_FORMAT=json`).

Work binds its ids with `bound(batch_id=…, item_id=…, user_id=…)`; every line logged inside (this thread or
task) carries them, in either format. Every line passes a redactor that replaces the secrets of the settings
(API keys, webhook secrets, the cookie key, passwords in URLs) with `[redacted]`, whatever logged them.
"""

from __future__ import annotations

import contextvars
import json
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from lib.core.settings import Settings

_BOUND: contextvars.ContextVar[dict[str, str]] = contextvars.ContextVar("studio_log_ids", default={})  # noqa: B039
_STANDARD = set(vars(logging.makeLogRecord({}))) | {"message", "asctime"}


@contextmanager
def bound(**ids: object) -> Iterator[None]:
    """Attach ids (batch_id, item_id, user_id, …) to every line logged inside the block."""
    token = _BOUND.set({**_BOUND.get(), **{k: str(v) for k, v in ids.items() if v is not None}})
    try:
        yield
    finally:
        _BOUND.reset(token)


def bind(**ids: object) -> None:
    """Add ids to the current block (e.g. the user, once the item's row is read)."""
    _BOUND.set({**_BOUND.get(), **{k: str(v) for k, v in ids.items() if v is not None}})


class _Context(logging.Filter):
    """Puts the bound ids on each record (added fields only: other handlers see the record unchanged)."""

    def filter(self, record: logging.LogRecord) -> bool:
        for key, value in _BOUND.get().items():
            setattr(record, key, value)
        return True


class _Scrubbing(logging.Formatter):
    """Another formatter's output with every secret replaced by `[redacted]`, tracebacks included."""

    def __init__(self, inner: logging.Formatter, secrets: list[str]) -> None:
        super().__init__()
        self.inner = inner
        self.secrets = sorted({s for s in secrets if len(s) >= 8}, key=len, reverse=True)

    def format(self, record: logging.LogRecord) -> str:
        text = self.inner.format(record)
        for secret in self.secrets:
            text = text.replace(secret, "[redacted]")
        return text


def _extra(record: logging.LogRecord) -> dict[str, Any]:
    """What was added to a record beyond logging's own fields: the bound ids, a caller's `extra=`."""
    return {k: v for k, v in vars(record).items() if k not in _STANDARD and not k.startswith("_")}


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, the bound ids, and the traceback if any."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {"time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
                                "level": record.levelname, "logger": record.name, "message": record.getMessage()}
        line |= _extra(record)
        if record.exc_info:
            line["traceback"] = self.formatException(record.exc_info)
        elif record.exc_text:
            line["traceback"] = record.exc_text
        return json.dumps(line, default=str, ensure_ascii=False)


class _TextFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        ids = " ".join(f"{k}={v}" for k, v in _extra(record).items())
        return super().format(record) + (f" [{ids}]" if ids else "")


def secrets_of(settings: Settings) -> list[str]:
    """Every secret value the settings hold (what must never reach a log)."""
    found = []
    for name, value in settings:
        if hasattr(value, "get_secret_value"):
            value = value.get_secret_value()
            found.append(value)
            if "://" in value and "@" in value and (password := urlsplit(value).password):
                found.append(password)  # a URL with credentials: its password alone too
        elif name.endswith(("_secret", "_key", "_password")) and isinstance(value, str):
            found.append(value)
    generated = settings.studio_home / "cookie_key"  # the embedded default's generated key, if made yet
    if generated.is_file():
        found.append(generated.read_text().strip())
    return found


def formatter(settings: Settings) -> logging.Formatter:
    """LOG_FORMAT's formatter, with the settings' secrets scrubbed from what it writes."""
    inner = JsonFormatter() if settings.log_format == "json" else _TextFormatter(
        "%(asctime)s %(levelname)s %(name)s: %(message)s")
    return _Scrubbing(inner, secrets_of(settings))


def ids_filter() -> logging.Filter:
    """A handler filter that adds the bound ids to each record (the formatter scrubs secrets)."""
    return _Context()


def configure(settings: Settings, *, level: int = logging.INFO) -> None:
    """Log to stderr in LOG_FORMAT, ids bound and secrets scrubbed; replaces the handlers it (or basicConfig)
    installed before and leaves others (a test's capture) alone."""
    handler = logging.StreamHandler()
    handler.setFormatter(formatter(settings))
    handler.addFilter(ids_filter())
    handler._studio = True  # type: ignore[attr-defined]
    root = logging.getLogger()
    for old in list(root.handlers):
        if getattr(old, "_studio", False) or type(old) is logging.StreamHandler:
            root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
