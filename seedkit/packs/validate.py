"""Checking packs without writing anything: labels, references, factories and, given a schema, types.

Without a database this finds duplicate labels, dangling references, unknown factories and
traits, and malformed ``@`` values. With a reflected :class:`~seedkit.stores.schema.SchemaInfo` it
also finds unknown tables and columns, values of the wrong type, and missing NOT NULL values.
"""

from __future__ import annotations

from collections.abc import Sequence
from types import ModuleType

from seedkit.core.clock import Clock
from seedkit.errors import PackError
from seedkit.packs.builders import import_modules
from seedkit.packs.labels import Labels
from seedkit.packs.model import MONGO, POSTGRES, Pack
from seedkit.packs.plan import Planner
from seedkit.stores.schema import SchemaInfo

_MONGO_FORBIDDEN = ("$", "\x00")


def validate_packs(
    packs: Sequence[Pack],
    *,
    schema: SchemaInfo | None = None,
    factory_modules: Sequence[str | ModuleType] = (),
) -> list[PackError]:
    """Every problem found in ``packs`` (empty when they can be loaded), in file order."""
    try:
        modules = import_modules(factory_modules)
    except PackError as exc:
        return [exc]
    labels = Labels(packs, schema)
    problems = list(labels.errors)
    planner = Planner(labels, schema, Clock(), modules)
    for pack in packs:
        for data_file in pack.files:
            if data_file.store == POSTGRES and schema is not None and data_file.table not in schema.tables:
                known = ", ".join(schema.tables) or "none"
                problems.append(
                    PackError(f"unknown table {data_file.table!r} (tables: {known})", file=data_file.file)
                )
                continue
            if data_file.store == MONGO and (
                not data_file.table
                or data_file.table.startswith("system.")
                or any(c in data_file.table for c in _MONGO_FORBIDDEN)
            ):
                problems.append(
                    PackError(f"{data_file.table!r} is not a valid collection name", file=data_file.file)
                )
                continue
            for record in data_file.records:
                problems.extend(planner.check(record))
    unique = {str(problem): problem for problem in problems}  # one report per problem, first seen first
    return list(unique.values())
