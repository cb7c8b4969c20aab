"""Which SQLAlchemy session and Mongo database factories write to, per context (not a module global).

``with seedkit.bind(session=s, mongo=db):`` makes every seedkit factory created inside the block
persist through ``s`` and ``db``. Bindings nest and are per thread/async task (``ContextVar``).
A factory's own ``Meta.sqlalchemy_session`` still wins when set, unless the binding is made with
``override=True`` (what the bulk path does: every row a volume makes goes through the caller's
connection, whatever session a factory keeps). ``s`` may be an
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
_overriding_session: ContextVar[Session | None] = ContextVar("seedkit_overriding_session", default=None)
_overriding_mongo: ContextVar[Database[Any] | None] = ContextVar("seedkit_overriding_mongo", default=None)


@contextmanager
def bind(
    session: Session | AsyncSession | None = None,
    mongo: Database[Any] | AsyncDatabase[Any] | None = None,
    *,
    override: bool = False,
) -> Iterator[None]:
    """Bind factories to ``session`` and/or ``mongo`` for the ``with`` block.

    With an ``AsyncSession`` or an async Mongo database bound, factories create with
    ``await Factory.create_async(...)``; ``create()`` then refuses with that hint.

    ``override=True`` (synchronous stores only): inside the block, ``session`` and ``mongo``
    also win over what would otherwise be chosen first: a factory's ``Meta.sqlalchemy_session``
    or ``sqlalchemy_session_factory`` (factory_boy's), an explicit ``Meta.sqlalchemy_session =
    None``, a ``_session=``/``_mongo=`` argument and bindings nested in the block. Sub-factories
    and related factories follow, since they are looked up the same way.

    Raises:
        TypeError: ``override=True`` with an ``AsyncSession`` or an async Mongo database.
    """
    if override and (isinstance(session, AsyncSession) or isinstance(mongo, AsyncDatabase)):
        raise TypeError("bind(override=True) takes a synchronous Session and Database")
    tokens: list[tuple[ContextVar[Any], Any]] = []
    if session is not None:
        tokens.append((_session, _session.set(session)))
        if override:
            tokens.append((_overriding_session, _overriding_session.set(session)))  # type: ignore[arg-type]
    if mongo is not None:
        tokens.append((_mongo, _mongo.set(mongo)))
        if override:
            tokens.append((_overriding_mongo, _overriding_mongo.set(mongo)))  # type: ignore[arg-type]
    try:
        yield
    finally:
        for variable, token in reversed(tokens):
            variable.reset(token)


def overriding_session() -> Session | None:
    """The session bound with ``override=True`` (it wins over a factory's own), or None."""
    return _overriding_session.get()


def bound_session() -> Session | AsyncSession | None:
    """The bound SQLAlchemy session (one bound with ``override=True`` first), or None."""
    return _overriding_session.get() or _session.get()


def current_session() -> Session | AsyncSession:
    """The bound SQLAlchemy session.

    Raises:
        NotBoundError: nothing is bound (a ``RuntimeError``, as factory_boy's "No session provided.").
    """
    session = bound_session()
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
    db = _overriding_mongo.get() or _mongo.get()
    if db is None:
        raise NotBoundError(
            "no Mongo database bound: use `with seedkit.bind(mongo=...)` or the pytest fixture `seedkit_mongo`"
        )
    return db
