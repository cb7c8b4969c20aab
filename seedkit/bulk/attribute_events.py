"""Attribute event listeners (``set``, ``append``, ``remove``, ``init_collection``...) of a model.

On the per-object path SQLAlchemy runs a mapped attribute's listeners (the ``AttributeEvents``
of its ORM events docs) whenever the attribute changes: setting a column or a many-to-one
parent, and the back-population that appends a new object to its parent's one-to-many
collection (``Clinic.patients``'s ``append`` runs for ``Patient(clinic=c)``). The row path
makes no ORM object and fires none of them, so a factory whose model has user listeners on
any of its mapped attributes, or on the reverse side of one of its relationships, takes the
ORM path (:mod:`seedkit.bulk.paths`), where they run as per object.

SQLAlchemy registers listeners of its own on relationships (cascades, back-population): those
are told apart by the module of the listener function, after unwrapping the ``wrap``
closures SQLAlchemy puts around listeners registered with ``raw=False``/``retval=False``.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Mapper
from sqlalchemy.orm.attributes import manager_of_class

__all__ = ["attribute_listeners", "unwrapped"]

_EVENTS = (
    "set",
    "append",
    "append_wo_mutation",
    "bulk_replace",
    "remove",
    "modified",
    "init_scalar",
    "init_collection",
    "dispose_collection",
)
"""The per-attribute events of ``sqlalchemy.orm.AttributeEvents``."""


def unwrapped(listener: Any) -> Any:
    """The user's function inside SQLAlchemy's ``AttributeEvents._listen`` wrapper, else ``listener``."""
    seen = 0
    while getattr(listener, "__qualname__", "").endswith("_listen.<locals>.wrap") and seen < 5:
        inner = [cell.cell_contents for cell in listener.__closure__ or () if callable(cell.cell_contents)]
        if not inner:
            break
        listener = inner[0]
        seen += 1
    return listener


def _own(listener: Any) -> bool:
    module = getattr(unwrapped(listener), "__module__", None) or ""
    return module == "sqlalchemy" or module.startswith("sqlalchemy.")


def _listened(cls: type, key: str) -> str | None:
    """The first event of ``cls.key`` that a user listener listens to, or None."""
    manager: Any = manager_of_class(cls)
    if manager is None or key not in manager:
        return None
    dispatch = manager[key].impl.dispatch
    for name in _EVENTS:
        if any(not _own(listener) for listener in getattr(dispatch, name, ())):
            return name
    return None


def attribute_listeners(mapper: Mapper[Any]) -> list[str]:
    """User attribute listeners that a new object of ``mapper``'s class fires per object.

    Returns:
        ``"Model.attribute (event)"`` for each mapped attribute of the model with a listener of
        its own, and for each reverse side of the model's relationships (the parent's collection
        a new object is appended to); empty when there is none. SQLAlchemy's own listeners
        (cascades, back-population) are not counted.
    """
    found: list[str] = []
    model = mapper.class_
    for prop in mapper.attrs:
        event = _listened(model, prop.key)
        if event is not None:
            found.append(f"{model.__name__}.{prop.key} ({event})")
    for rel in mapper.relationships:
        for reverse in rel._reverse_property:
            event = _listened(reverse.parent.class_, reverse.key)
            if event is not None:
                found.append(f"{reverse.parent.class_.__name__}.{reverse.key} ({event})")
    return found
