"""Mutable column values (JSON, ARRAY, HSTORE, PickleType dicts and lists) written as flushed.

The per-object path flushes each object right after its creation (``SQLAlchemyFactory._create``):
a dict or list in a JSON or ARRAY column is written as it is then. Changing it in place later
(``o.clinic.settings.setdefault("k", 0)`` in a child's declaration) changes nothing in the
database, since SQLAlchemy does not see in-place changes of a plain dict or list (only a
``MutableDict``/``MutableList`` from ``sqlalchemy.ext.mutable`` tracks them, and then the next
flush writes them: such columns have ``set`` listeners, so their factories take the ORM path,
where seedkit writes the current value, as that flush would).

The bulk paths write per chunk, later. So when an object or record is created (where the
per-object path flushes it: :func:`note_created`), the untracked mutable values of its columns
are copied (``copy.deepcopy``); when the row is written, a column still holding the same object
is written from the copy (:func:`as_created`), while a value assigned since (a hook setting
``obj.settings = {...}``, which a flush would write) is written as it is. Models without such
columns pay nothing but one cached lookup.
"""

from __future__ import annotations

import copy
import functools
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import HSTORE
from sqlalchemy.ext.mutable import Mutable

from seedkit.bulk.attribute_events import unwrapped

__all__ = ["CREATED", "as_created", "mutable_columns", "note_created", "note_value"]

CREATED = "_seedkit_created"
"""Key of the copies in an object's or record's ``__dict__``: ``{attribute: (value, copy)}``."""

_MUTABLE_TYPES = (sa.JSON, sa.ARRAY, sa.PickleType, HSTORE)
_CONTAINERS = (dict, list, set, bytearray)


def _mutable_type(column_type: Any) -> bool:
    while isinstance(column_type, sa.types.TypeDecorator):
        column_type = column_type.impl_instance
    return isinstance(column_type, _MUTABLE_TYPES)


def _tracked(mapper: Any, key: str) -> bool:
    """Whether ``sqlalchemy.ext.mutable`` tracks in-place changes of the attribute ``key``."""
    listeners = mapper.class_manager[key].impl.dispatch.set
    return any(getattr(unwrapped(fn), "__module__", "") == "sqlalchemy.ext.mutable" for fn in listeners)


@functools.cache
def mutable_columns(model: Any) -> tuple[str, ...]:
    """Attribute keys of ``model``'s table columns whose values may be dicts or lists
    (JSON/JSONB, ARRAY, HSTORE, PickleType, also under a ``TypeDecorator``) and whose in-place
    changes no ``MutableDict``/``MutableList`` tracks."""
    mapper: Any = sa.inspect(model)
    return tuple(
        prop.key
        for prop in mapper.column_attrs
        if isinstance(prop.columns[0], sa.Column)
        and _mutable_type(prop.columns[0].type)
        and not _tracked(mapper, prop.key)
    )


def note_value(obj: Any, key: str, value: Any) -> None:
    """Keep a copy of ``value`` of ``obj.key`` as it is when the per-object path would flush it."""
    if isinstance(value, _CONTAINERS) and not isinstance(value, Mutable):
        values = obj.__dict__
        created = values.get(CREATED)
        if created is None:
            created = values[CREATED] = {}
        created[key] = (value, copy.deepcopy(value))


def note_created(obj: Any, keys: tuple[str, ...]) -> None:
    """Keep copies of the mutable values among ``keys`` of ``obj`` (a record or an ORM object
    just created), see :func:`note_value`."""
    values = obj.__dict__
    for key in keys:
        value = values.get(key)
        if value is not None:
            note_value(obj, key, value)


def as_created(obj: Any, row: list[Any], positions: dict[str, int]) -> None:
    """Put into ``row`` (``obj``'s column values, ``positions`` by attribute key) the copies kept
    by :func:`note_created` for the columns that still hold the same object; forget them."""
    created = obj.__dict__.pop(CREATED, None)
    if created is None:
        return
    values = obj.__dict__
    for key, (value, kept) in created.items():
        if values.get(key) is value and key in positions:
            row[positions[key]] = kept
