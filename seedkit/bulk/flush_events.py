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
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection
from sqlalchemy.orm import InstanceState, Mapper

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
