"""seedkit: deterministic test data for PostgreSQL and MongoDB.

Public API (see docs/): the deterministic core (:func:`deterministic`, :func:`clock`,
:func:`ids`), factory bases (:class:`SQLAlchemyFactory`, :class:`MongoFactory`),
session binding (:func:`bind`), and the reference domain's factories, importable as
``from seedkit import UserFactory``.
"""

from __future__ import annotations

import importlib
from typing import Any

from seedkit.binding import bind
from seedkit.clock import Clock
from seedkit.determinism import Deterministic, clock, current, deterministic, ids
from seedkit.errors import SeedkitError
from seedkit.ids import IdGenerator

__version__ = "0.1.0"

__all__ = [
    "Clock",
    "Deterministic",
    "IdGenerator",
    "MongoFactory",
    "SQLAlchemyFactory",
    "SeedkitError",
    "bind",
    "clock",
    "current",
    "deterministic",
    "ids",
]

_LAZY = {
    "SQLAlchemyFactory": "seedkit.sql_factory",
    "MongoFactory": "seedkit.mongo_factory",
}
_DOMAIN_MODULES = ("factories.model_factories", "factories.document_factories")


def __getattr__(name: str) -> Any:
    """Import factory bases and the reference domain's factories on first use.

    Lazy so that ``import seedkit`` stays light and ``factories`` (which imports seedkit)
    has no import cycle.
    """
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    if name.endswith("Factory"):
        for module_name in _DOMAIN_MODULES:
            module = importlib.import_module(module_name)
            if hasattr(module, name):
                return getattr(module, name)
    raise AttributeError(f"module 'seedkit' has no attribute {name!r}")
