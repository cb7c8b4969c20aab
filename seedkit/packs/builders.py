"""Factories named by records (``_factory: CustomerFactory``): finding them and building values.

A record gives only the fields that matter; its factory builds the rest with factory_boy's
``build`` strategy (nothing is saved by the factory). The loader then writes the values itself,
so a whole load stays in one transaction.
"""

from __future__ import annotations

import contextvars
import importlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from types import ModuleType
from typing import Any

import sqlalchemy as sa

from seedkit.errors import PackError


def import_modules(modules: Sequence[str | ModuleType]) -> list[ModuleType]:
    """Import the factory modules (names or modules); a PackError names one that fails."""
    result = []
    for module in modules:
        if isinstance(module, ModuleType):
            result.append(module)
            continue
        try:
            result.append(importlib.import_module(module))
        except ImportError as exc:
            raise PackError(f"cannot import factory module {module!r}: {exc}") from None
    return result


def _is_factory(candidate: Any) -> bool:
    return (
        isinstance(candidate, type)
        and callable(getattr(candidate, "build", None))
        and hasattr(candidate, "_meta")
    )


def find_factory(name: str, modules: Sequence[ModuleType]) -> type | None:
    """The factory class ``name`` (a class name in ``modules``, or ``package.module:Class``)."""
    if ":" in name:
        module_name, _, attr = name.partition(":")
        try:
            candidate = getattr(importlib.import_module(module_name), attr, None)
        except ImportError:
            return None
        return candidate if _is_factory(candidate) else None
    for module in modules:
        candidate = getattr(module, name, None)
        if _is_factory(candidate):
            return candidate
    return None


def factories_in(modules: Sequence[ModuleType]) -> list[str]:
    """The names of the factory classes the modules define or import, sorted."""
    return sorted({name for module in modules for name, value in vars(module).items() if _is_factory(value)})


def factory_names(factory: type) -> tuple[set[str], set[str]]:
    """The factory's declared fields and its parameters (``Params``, including traits)."""
    meta: Any = getattr(factory, "_meta", None)
    declarations = set(getattr(meta, "declarations", {}) or {})
    parameters = set(getattr(meta, "parameters", {}) or {})
    return declarations, parameters


@dataclass(frozen=True)
class Built:
    """What a factory built for a record.

    Attributes:
        values: by column or key name (:func:`values_of`).
        parents: the many-to-one relationships the built ORM instance holds an object in (a
            ``SubFactory``'s parent), by their foreign-key columns; a pack writes none of them.
    """

    values: dict[str, Any]
    parents: dict[tuple[str, ...], str]


def build(factory: type, fields: Mapping[str, Any], traits: Sequence[str]) -> Built:
    """Build with ``factory`` (traits switched on); see :class:`Built`.

    The build runs in an empty :class:`contextvars.Context`: no session or Mongo database is
    bound there, so a factory cannot look up or write rows through the caller's session while
    the pack is only planned (its parents are not inserted yet). Randomness, IDs and the clock
    still come from the active deterministic context.
    """
    kwargs = {**fields, **dict.fromkeys(traits, True)}
    built = contextvars.Context().run(factory.build, **kwargs)  # type: ignore[attr-defined]
    return Built(values_of(built), parents_of(built))


def parents_of(built: Any) -> dict[tuple[str, ...], str]:
    """The many-to-one relationships of an ORM instance set to an object, by foreign-key columns."""
    mapper = getattr(sa.inspect(built, raiseerr=False), "mapper", None)
    if mapper is None:
        return {}
    return {
        tuple(column.name for column in relationship.local_columns): relationship.key
        for relationship in mapper.relationships
        if relationship.direction.name == "MANYTOONE" and built.__dict__.get(relationship.key) is not None
    }


def values_of(built: Any) -> dict[str, Any]:
    """A built object's values: a mapping as is; an ORM instance by column name; else its attributes."""
    if isinstance(built, Mapping):
        return dict(built)
    state = sa.inspect(built, raiseerr=False)
    mapper = getattr(state, "mapper", None)
    if mapper is not None:
        values: dict[str, Any] = {}
        for attribute in mapper.column_attrs:
            for column in attribute.columns:
                if attribute.key in built.__dict__ and isinstance(column, sa.Column):
                    values[column.name] = built.__dict__[attribute.key]
        return values
    return {key: value for key, value in vars(built).items() if not key.startswith("_")}
