"""Fixture packs: named, versioned sets of labelled records for PostgreSQL and Mongo.

- :func:`discover_packs` finds packs under the configured pack paths;
- :func:`resolve_packs` reads packs and their dependencies, dependencies first;
- :func:`validate_packs` checks them without writing (with a reflected schema, also types);
- :func:`apply_packs` writes them all or nothing.

The format is described in ``docs/packs.md``.
"""

from __future__ import annotations

from seedkit.packs.loader import apply_packs
from seedkit.packs.manifest import discover_packs, read_pack, resolve_packs
from seedkit.packs.model import DataFile, Pack, Record
from seedkit.packs.validate import validate_packs
from seedkit.packs.values import Ref, RelativeTime

__all__ = [
    "DataFile",
    "Pack",
    "Record",
    "Ref",
    "RelativeTime",
    "apply_packs",
    "discover_packs",
    "read_pack",
    "resolve_packs",
    "validate_packs",
]
