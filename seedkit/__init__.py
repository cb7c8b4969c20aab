"""seedkit: deterministic test data for PostgreSQL and MongoDB.

Public API (see docs/): the deterministic core (:func:`deterministic`, :func:`clock`,
:func:`ids`), factory bases (:class:`SQLAlchemyFactory`, :class:`MongoFactory`),
session binding (:func:`bind`), fast value declarations (``from seedkit import values``,
:mod:`seedkit.values`), and the reference domain's factories, importable as
``from seedkit import UserFactory``.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

# Light modules, imported now: the submodules ``seedkit.core.clock`` and ``seedkit.core.ids`` must be
# bound before the functions of the same names below, which replace them as attributes.
from seedkit.core.clock import Clock
from seedkit.core.ids import IdGenerator
from seedkit.errors import SeedkitError

if TYPE_CHECKING:
    from seedkit.core.determinism import Deterministic, activate, current, deterministic
    from seedkit.factories.alchemy import SQLAlchemyFactory
    from seedkit.factories.binding import bind
    from seedkit.factories.mongo import MongoFactory

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
    "bind": "seedkit.factories.binding",
    "Deterministic": "seedkit.core.determinism",
    "activate": "seedkit.core.determinism",
    "current": "seedkit.core.determinism",
    "deterministic": "seedkit.core.determinism",
    "MongoFactory": "seedkit.factories.mongo",
    "SQLAlchemyFactory": "seedkit.factories.alchemy",
}
_DOMAIN_MODULES = ("seedkit_reference.model_factories", "seedkit_reference.document_factories")


def clock() -> Clock:
    """The active deterministic context's clock (see :func:`seedkit.core.determinism.clock`)."""
    from seedkit.core.determinism import clock as active_clock

    return active_clock()


def ids() -> IdGenerator:
    """The active deterministic context's ID generator (see :func:`seedkit.core.determinism.ids`)."""
    from seedkit.core.determinism import ids as active_ids

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
