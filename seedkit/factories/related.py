"""The factories a factory calls: its ``SubFactory`` and ``RelatedFactory`` declarations (with
``ReuseOrCreate`` and ``RelatedFactoryList``), transitively. Error messages use it to name the
factory that made a row of a given model or table."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from types import ModuleType
from typing import Any

import factory


def related_factories(root: type[Any]) -> Iterator[type[Any]]:
    """``root``, then every factory its declarations call, breadth first, each once."""
    seen: set[type[Any]] = set()
    pending = [root]
    while pending:
        factory_class = pending.pop(0)
        if factory_class in seen:
            continue
        seen.add(factory_class)
        yield factory_class
        for declaration in getattr(getattr(factory_class, "_meta", None), "declarations", {}).values():
            if isinstance(declaration, factory.SubFactory | factory.RelatedFactory):
                pending.append(declaration.get_factory())


def factory_making(
    root: type[Any], *, model: type[Any] | None = None, table: str | None = None
) -> type[Any] | None:
    """The first factory among :func:`related_factories` of ``root`` whose model is ``model``, or
    is mapped to ``table`` (``name``, or ``schema.name`` outside ``public``); None if none is."""
    for factory_class in related_factories(root):
        if _makes(factory_class, model, table):
            return factory_class
    return None


def factories_making(table: str, modules: Iterable[ModuleType]) -> list[str]:
    """The names of the factories the modules hold whose model is mapped to ``table``, sorted.

    For rows a factory makes outside its declarations (a post-generation hook calling another
    factory), which :func:`factory_making` cannot follow.
    """
    return sorted(
        {
            name
            for module in modules
            for name, value in vars(module).items()
            if isinstance(value, type) and hasattr(value, "_meta") and _makes(value, None, table)
        }
    )


def _makes(factory_class: type[Any], model: type[Any] | None, table: str | None) -> bool:
    made = getattr(factory_class._meta, "model", None)
    if model is not None and made is model:
        return True
    mapped = getattr(made, "__table__", None)
    if table is None or mapped is None:
        return False
    return (mapped.name if mapped.schema in (None, "public") else f"{mapped.schema}.{mapped.name}") == table
