"""Mapper flush events (``before_insert`` and friends) in bulk seeding.

A session's flush calls a mapper's ``before_insert`` listeners for each new object, in the
order the objects were added, just before its INSERT, and ``after_insert`` after it (the
``MapperEvents`` of SQLAlchemy's ORM events docs). Bulk seeding writes with COPY and never
flushes, so:

- the row path never runs them: :func:`flush_events` names them, and a factory whose model (or
  a model of its factory graph) has one takes the ORM path (:mod:`seedkit.bulk.paths`);
- the ORM path runs them as flush would: :func:`run_before_insert` calls the ``before_insert``
  listeners with the mapper, the connection and each object's state, in insertion order,
  before its row is made (so a listener that sets a column gives the per-object path's value),
  and :func:`run_after_insert` calls ``after_insert`` once the rows are written.

``before_update``/``after_update`` send a factory to the ORM path too; it updates no row it wrote
(it refuses an object changed after its write), so they do not run there, as in a flush of
objects that were not changed.

Session flush events (``before_flush``, ``after_flush``, ``after_flush_postexec``, the
``SessionEvents`` of SQLAlchemy's ORM events docs) belong to a flush of the whole session, which
bulk seeding never makes: :func:`session_flush_listeners` names those that a flush would run
(registered on ``Session``, a subclass, a ``sessionmaker`` or a ``scoped_session``), and the
seeder refuses the volume in one line rather than skip the user's code silently.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection
from sqlalchemy.orm import InstanceState, Mapper, Session, scoped_session, sessionmaker

SESSION_FLUSH_EVENTS = ("before_flush", "after_flush", "after_flush_postexec")
"""The session events a flush runs (once per flush, with the session)."""

FLUSH_EVENTS = ("before_insert", "after_insert", "before_update", "after_update")
"""The mapper events a flush runs per object (``before_delete``/``after_delete``: seeding deletes nothing)."""


def flush_events(mapper: Mapper[Any]) -> tuple[str, ...]:
    """The names among :data:`FLUSH_EVENTS` that have listeners on ``mapper`` (own, inherited
    with ``propagate=True``, or on every ``Mapper``)."""
    return tuple(name for name in FLUSH_EVENTS if getattr(mapper.dispatch, name))


def run_before_insert(objects: Iterable[Any], connection: Connection) -> list[InstanceState[Any]]:
    """Call each object's mapper's ``before_insert`` listeners, in insertion order, as flush would.

    Returns:
        The states of the objects whose mapper has ``after_insert`` listeners, for
        :func:`run_after_insert` once their rows are written (usually empty).
    """
    states = sorted((sa.inspect(obj) for obj in objects), key=lambda state: state.insert_order or 0)
    after: list[InstanceState[Any]] = []
    for state in states:
        mapper = state.mapper
        if mapper.dispatch.before_insert:
            mapper.dispatch.before_insert(mapper, connection, state)
        if mapper.dispatch.after_insert:
            after.append(state)
    return after


def run_after_insert(states: Iterable[InstanceState[Any]], connection: Connection) -> None:
    """Call ``after_insert`` listeners for ``states`` (from :func:`run_before_insert`), rows written."""
    for state in states:
        state.mapper.dispatch.after_insert(state.mapper, connection, state)


def session_flush_listeners(target: Any) -> list[str]:
    """``"event: module.function"`` for each session flush listener (:data:`SESSION_FLUSH_EVENTS`)
    a flush of a session made from ``target`` would run: a ``Session`` (with those registered on
    its class), a ``sessionmaker`` (one of its sessions is made and closed: it connects to
    nothing), a ``scoped_session``; anything else (a plain function returning a session) has
    none that can be read."""
    if isinstance(target, scoped_session):
        target = target.session_factory
    if isinstance(target, sessionmaker):
        made = target()  # a session connects only when used; its dispatch joins the maker's listeners
        try:
            return session_flush_listeners(made)
        finally:
            made.close()
    if not isinstance(target, Session):
        return []
    found = []
    for name in SESSION_FLUSH_EVENTS:
        for listener in getattr(target.dispatch, name):
            function = getattr(listener, "__func__", listener)
            where = getattr(function, "__module__", None) or "?"
            found.append(f"{name}: {where}.{getattr(function, '__qualname__', repr(function))}")
    return found
