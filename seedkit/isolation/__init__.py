"""Isolation strategies: how every test starts from the seeded data, whatever earlier tests wrote.

=========  ===================================================  ==============================
name       what happens                                         see
=========  ===================================================  ==============================
truncate   real commits; TRUNCATE everything (+ reseed) after   :mod:`.truncate`
rollback   one outer transaction per test, rolled back          :mod:`.rollback`
snapshot   a clone of a seeded template database per test       :mod:`.template`
none       nothing is undone                                    :mod:`.none`
changed    real commits; only the rows a test changed put back  :mod:`.changed`
=========  ===================================================  ==============================

Usage (what the pytest plugin does)::

    strategy = create_strategy("truncate", database_url, mongo_db, reseed=seed_fn)
    strategy.prepare()                 # once, after seeding
    handle = strategy.begin()          # per test: handle.session / handle.bind / handle.url
    ...
    strategy.end(handle)               # back to the seeded state
    strategy.close()
"""

from __future__ import annotations

from typing import Any

from pymongo.database import Database

from seedkit.errors import ConfigError, IsolationError
from seedkit.isolation.base import Handle, Reseed, Strategy
from seedkit.isolation.changed import ChangedRowsStrategy, ChangeTracker
from seedkit.isolation.none import NoIsolation
from seedkit.isolation.rollback import RollbackStrategy
from seedkit.isolation.snapshot import SnapshotStrategy
from seedkit.isolation.truncate import TruncateStrategy, truncate_and_reload

# Tools the strategies are built from, re-exported here for the users of earlier releases; they
# live in the layers that own them (stores: databases and tables; seeding: templates).
from seedkit.seeding.templates import ensure_template, template_name
from seedkit.stores.mongo_state import MongoBaseline, clear_collections
from seedkit.stores.postgres_admin import clone, drop
from seedkit.stores.truncate import truncate_tables, used_tables

TemplateStrategy = SnapshotStrategy
"""The ``snapshot`` strategy's earlier class name, kept as an alias."""

STRATEGIES: dict[str, type[Any]] = {
    TruncateStrategy.name: TruncateStrategy,
    RollbackStrategy.name: RollbackStrategy,
    SnapshotStrategy.name: SnapshotStrategy,
    NoIsolation.name: NoIsolation,
    ChangedRowsStrategy.name: ChangedRowsStrategy,
}


def create_strategy(
    name: str, database_url: str, mongo: Database[Any] | None = None, **options: Any
) -> Strategy:
    """The strategy called ``name`` (a profile's ``isolation``) on the seeded stores.

    ``options`` go to the strategy's class: ``reseed=``/``skip_unused=`` (truncate),
    ``server_url=``/``build=``/``clone_prefix=`` (snapshot), ``schema=`` (truncate, changed),
    ``allow_unsafe=`` (all but none).
    For ``snapshot``, ``database_url`` is the template's URL.
    """
    try:
        cls = STRATEGIES[name]
    except KeyError:
        raise ConfigError(f"unknown isolation strategy {name!r}; known: {', '.join(STRATEGIES)}") from None
    strategy: Strategy = cls(database_url, mongo, **options)
    return strategy


__all__ = [
    "STRATEGIES",
    "ChangeTracker",
    "ChangedRowsStrategy",
    "Handle",
    "IsolationError",
    "MongoBaseline",
    "NoIsolation",
    "Reseed",
    "RollbackStrategy",
    "SnapshotStrategy",
    "Strategy",
    "TemplateStrategy",
    "TruncateStrategy",
    "clear_collections",
    "clone",
    "create_strategy",
    "drop",
    "ensure_template",
    "template_name",
    "truncate_and_reload",
    "truncate_tables",
    "used_tables",
]
