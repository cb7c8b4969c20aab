"""``create_async`` / ``create_batch_async``: seedkit's factories on asyncio stores.

factory_boy is synchronous: declarations, sub-factories and post-generation hooks call each
other as plain functions. Rather than a second, async copy of that machinery, a factory call
made with ``await UserFactory.create_async(...)`` runs once as the same synchronous code as
``UserFactory.create(...)``, and reaches the asyncio stores as follows:

- an ``AsyncSession`` (SQLAlchemy's asyncio extension, on psycopg's async driver or asyncpg)
  through ``AsyncSession.run_sync``: SQLAlchemy runs the call in a greenlet in which the
  session's ``sync_session`` awaits the driver at every flush. It is SQLAlchemy's own bridge
  (its asyncio ORM is built on it), so flushes, the SAVEPOINT of ``sqlalchemy_get_or_create``
  and relationship loads behave as in the sync path;
- an async Mongo database (pymongo's ``AsyncDatabase``, or mongomock-motor's in-process one):
  the documents the call creates are collected, as ``create_batch`` collects them, and
  inserted afterwards with one awaited ``insert_many`` per collection.

Objects, IDs, timestamps and sequence numbers are therefore those ``create()`` makes in the
same deterministic context: the same code makes them, drawing from the same streams in the
same order. Calls made concurrently on one event loop (``asyncio.gather``) run one after the
other, in the order they were started, so they stay deterministic too (and one
``AsyncSession`` is never used by two tasks at once, which SQLAlchemy forbids).
"""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import Callable
from contextvars import ContextVar
from typing import Any, TypeVar

from sqlalchemy.ext.asyncio import AsyncSession, async_scoped_session
from sqlalchemy.orm import Session

from seedkit.errors import FactoryError
from seedkit.factories.binding import bound_session
from seedkit.factories.mongo import collected_documents, insert_collected_async

__all__ = ["create_async", "create_batch_async", "sync_session_of"]

T = TypeVar("T")

# True while a factory call runs inside ``AsyncSession.run_sync`` (where ``sync_session`` works).
_RUNNING: ContextVar[bool] = ContextVar("seedkit_async_run", default=False)
_LOCKS: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Lock] = weakref.WeakKeyDictionary()


def sync_session_of(session: Any, factory_name: str) -> Session:
    """The synchronous session factory code writes through for ``session``.

    A sync ``Session`` (or ``scoped_session``) is returned as it is. An ``AsyncSession`` is
    usable only inside :func:`create_async`, where its ``sync_session`` is returned.

    Raises:
        FactoryError: ``session`` is an ``AsyncSession`` and the call is ``create()``/``build``
            outside ``create_async``: its flushes could not be awaited.
    """
    if isinstance(session, async_scoped_session):
        session = session()
    if not isinstance(session, AsyncSession):
        return session
    if _RUNNING.get():
        return session.sync_session
    raise FactoryError(
        f"{factory_name} is bound to an AsyncSession: use `await {factory_name}.create_async(...)` "
        f"or `await {factory_name}.create_batch_async(n, ...)` (create() cannot await its flushes)"
    )


def _async_session(factory_class: type[Any], params: dict[str, Any]) -> AsyncSession | None:
    """The first ``AsyncSession`` the call may write through: ``_session=``, the factory's
    ``Meta.sqlalchemy_session``, else the bound one (None when none of them is async)."""
    meta = factory_class._meta
    for candidate in (
        params.get("_session"),
        getattr(meta, "sqlalchemy_session", None),
        bound_session(),
    ):
        if isinstance(candidate, async_scoped_session):
            candidate = candidate()
        if isinstance(candidate, AsyncSession):
            return candidate
    return None


def _lock() -> asyncio.Lock:
    loop = asyncio.get_running_loop()
    lock = _LOCKS.get(loop)
    if lock is None:
        lock = _LOCKS[loop] = asyncio.Lock()
    return lock


async def _run(factory_class: type[Any], params: dict[str, Any], call: Callable[[], T]) -> T:
    """Run the synchronous factory ``call`` with the asyncio stores made usable (module docstring)."""
    async with _lock():
        session = _async_session(factory_class, params)
        with collected_documents() as pending:
            if session is None:
                result = call()
            else:
                token = _RUNNING.set(True)
                try:
                    result = await session.run_sync(lambda _sync_session: call())
                finally:
                    _RUNNING.reset(token)
        if pending:
            await insert_collected_async(pending)
        return result


async def create_async(factory_class: type[Any], params: dict[str, Any]) -> Any:
    """``await factory_class.create_async(**params)``: ``create()`` on the bound asyncio stores.

    Returns what ``create()`` returns (a mapped object, or a Mongo document), flushed to the
    ``AsyncSession`` (or committed, per ``Meta.sqlalchemy_session_persistence``) and inserted
    into the async Mongo database. Sync stores work too (the call then simply runs).

    Raises:
        FactoryError: as ``create()`` (unknown attribute, duplicate key...); on a Mongo error
            nothing of the call is inserted into Mongo.
    """
    return await _run(factory_class, params, lambda: factory_class.create(**params))


async def create_batch_async(factory_class: type[Any], size: int, params: dict[str, Any]) -> list[Any]:
    """``await factory_class.create_batch_async(size, **params)``: ``create_batch()`` on asyncio stores.

    Mongo documents of the whole batch are written with one ``insert_many`` per collection.
    """
    return await _run(factory_class, params, lambda: factory_class.create_batch(size, **params))
