"""Which SQLAlchemy session and Mongo database factories write to, per context (not a module global).

``with seedkit.bind(session=s, mongo=db):`` makes every seedkit factory created inside the block
persist through ``s`` and ``db``. Bindings nest and are per thread/async task (``ContextVar``).
A factory's own ``Meta.sqlalchemy_session`` still wins when set. ``s`` may be an
``AsyncSession`` and ``db`` pymongo's ``AsyncDatabase``: factories then create with
``await Factory.create_async(...)`` (see :mod:`seedkit.factories.asynchronous`).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from pymongo.asynchronous.database import AsyncDatabase
from pymongo.database import Database
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from seedkit.factories.errors import NotBoundError

_session: ContextVar[Session | AsyncSession | None] = ContextVar("seedkit_session", default=None)
_mongo: ContextVar[Database[Any] | AsyncDatabase[Any] | None] = ContextVar("seedkit_mongo", default=None)


@contextmanager
def bind(
    session: Session | AsyncSession | None = None, mongo: Database[Any] | AsyncDatabase[Any] | None = None
) -> Iterator[None]:
    """Bind factories to ``session`` and/or ``mongo`` for the ``with`` block.

    With an ``AsyncSession`` or an async Mongo database bound, factories create with
    ``await Factory.create_async(...)``; ``create()`` then refuses with that hint.
    """
    session_token = _session.set(session) if session is not None else None
    mongo_token = _mongo.set(mongo) if mongo is not None else None
    try:
        yield
    finally:
        if mongo_token is not None:
            _mongo.reset(mongo_token)
        if session_token is not None:
            _session.reset(session_token)


def bound_session() -> Session | AsyncSession | None:
    """The bound SQLAlchemy session, or None."""
    return _session.get()


def current_session() -> Session | AsyncSession:
    """The bound SQLAlchemy session.

    Raises:
        NotBoundError: nothing is bound (a ``RuntimeError``, as factory_boy's "No session provided.").
    """
    session = _session.get()
    if session is None:
        raise NotBoundError(
            "no SQLAlchemy session bound: use `with seedkit.bind(session=...)`, the pytest fixture "
            "`seedkit_session`, or set Meta.sqlalchemy_session"
        )
    return session


def current_mongo() -> Database[Any] | AsyncDatabase[Any]:
    """The bound Mongo database.

    Raises:
        NotBoundError: nothing is bound (a ``RuntimeError``).
    """
    db = _mongo.get()
    if db is None:
        raise NotBoundError(
            "no Mongo database bound: use `with seedkit.bind(mongo=...)` or the pytest fixture `seedkit_mongo`"
        )
    return db
