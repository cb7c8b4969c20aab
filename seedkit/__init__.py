"""seedkit: deterministic test data for PostgreSQL and MongoDB.

Public API (see docs/): the deterministic core (:func:`deterministic`, :func:`clock`,
:func:`ids`), factory bases (:class:`SQLAlchemyFactory`, :class:`MongoFactory`),
session binding (:func:`bind`), and the reference domain's factories, importable as
``from seedkit import UserFactory``.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

# Light modules, imported now: the submodules ``seedkit.clock`` and ``seedkit.ids`` must be
# bound before the functions of the same names below, which replace them as attributes.
from seedkit.clock import Clock
from seedkit.errors import SeedkitError
from seedkit.ids import IdGenerator

if TYPE_CHECKING:
    from seedkit.binding import bind
    from seedkit.determinism import Deterministic, activate, current, deterministic
    from seedkit.mongo_factory import MongoFactory
    from seedkit.sql_factory import SQLAlchemyFactory

__version__ = "0.1.0"

__all__ = [
    "Clock",
    "Deterministic",
    "IdGenerator",
    "MongoFactory",
    "SQLAlchemyFactory",
    "SeedkitError",
    "activate",
    "bind",
    "clock",
    "current",
    "deterministic",
    "ids",
]

# Public name -> module that defines it. Imported on first use, so that ``import seedkit`` (which
# pytest does for every project with seedkit installed, through the plugin's entry point) stays
# cheap, and ``factories`` (which imports seedkit) has no import cycle.
_EXPORTS = {
    "bind": "seedkit.binding",
    "Deterministic": "seedkit.determinism",
    "activate": "seedkit.determinism",
    "current": "seedkit.determinism",
    "deterministic": "seedkit.determinism",
    "MongoFactory": "seedkit.mongo_factory",
    "SQLAlchemyFactory": "seedkit.sql_factory",
}
_DOMAIN_MODULES = ("factories.model_factories", "factories.document_factories")


def clock() -> Clock:
    """The active deterministic context's clock (see :func:`seedkit.determinism.clock`)."""
    from seedkit.determinism import clock as active_clock

    return active_clock()


def ids() -> IdGenerator:
    """The active deterministic context's ID generator (see :func:`seedkit.determinism.ids`)."""
    from seedkit.determinism import ids as active_ids

    return active_ids()


def __getattr__(name: str) -> Any:
    """Resolve the public API and the reference domain's ``*Factory`` classes on first use."""
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    if name.endswith("Factory"):
        for module_name in _DOMAIN_MODULES:
            module = importlib.import_module(module_name)
            if hasattr(module, name):
                return getattr(module, name)
    raise AttributeError(f"module 'seedkit' has no attribute {name!r}")
