"""Schema-driven generation: rows for any PostgreSQL schema, from its reflected tables, at COPY speed.

The row engine (see docs/generate.md):

- :mod:`~seedkit.generate.catalog` reads tables and constraints from the system catalogs;
- :mod:`~seedkit.generate.checks` reads CHECK constraints into rules;
- :mod:`~seedkit.generate.providers` and :mod:`~seedkit.generate.references` make column values
  in batches from a seeded random (:mod:`~seedkit.generate.pools` holds realistic values);
- :mod:`~seedkit.generate.choose` picks a provider per column, :mod:`~seedkit.generate.order`
  the insert order, :mod:`~seedkit.generate.plan` assembles both and refuses bad input;
- :mod:`~seedkit.generate.run` generates rows as tuples, partition by partition, and writes
  them with binary COPY while the next partition is generated.

Typical use::

    with engine.connect() as conn, conn.begin():
        plan = plan_tables(conn, [TableVolume("teams", 200), TableVolume("users", 2_000)], seed=7)
        generate(conn, plan, base=datetime(2025, 1, 1, tzinfo=UTC))
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy.engine import Connection

from seedkit.generate.catalog import Catalog, read_catalog
from seedkit.generate.factory import factory_for
from seedkit.generate.plan import Existing, GenerationPlan, PerParent, TableVolume, build_plan
from seedkit.generate.run import generate, try_sample


def plan_tables(
    conn: Connection, volumes: Sequence[TableVolume], *, seed: int = 0, locale: str = "en_US", where: str = ""
) -> GenerationPlan:
    """Reflect the database on ``conn`` and plan ``volumes`` (ConfigError on bad input; nothing is written)."""
    return build_plan(read_catalog(conn), volumes, seed=seed, locale=locale, where=where)


__all__ = [
    "Catalog",
    "Existing",
    "GenerationPlan",
    "PerParent",
    "TableVolume",
    "build_plan",
    "factory_for",
    "generate",
    "plan_tables",
    "read_catalog",
    "try_sample",
]
