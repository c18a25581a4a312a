"""Cached resources of the web process: settings, the database engine, the object store, image backends.

`st.cache_resource` keeps one of each per process, shared by every session; `transaction()` is how a page
action talks to the database (the caller owns the transaction, lib functions never commit).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import streamlit as st
from sqlalchemy import Connection, Engine

from lib.backends.base import ImageBackend
from lib.backends.factory import make_backend, make_describer
from lib.core import db, migrations
from lib.core.settings import Settings, get_settings
from lib.core.storage import ObjectStore, make_store


@st.cache_resource
def settings() -> Settings:
    value = get_settings()
    value.validate_for_startup()
    return value


@st.cache_resource
def engine() -> Engine:
    eng = db.get_engine(settings())
    migrations.upgrade(eng)
    return eng


@st.cache_resource
def store() -> ObjectStore:
    return make_store(settings())


@st.cache_resource
def backend(name: str) -> ImageBackend:
    """One image backend per process and name (the Gemini client keeps its connection pool)."""
    return make_backend(settings(), name)


@st.cache_resource
def describer() -> Any:
    """One "Describe with Gemini" client per process (ConfigError without GEMINI_API_KEY)."""
    return make_describer(settings())


@contextmanager
def transaction() -> Iterator[Connection]:
    """One database transaction for a page action (committed when the block ends cleanly)."""
    with engine().begin() as conn:
        yield conn
