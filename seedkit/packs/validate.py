"""Checking packs without writing anything: labels, references, factories and, given a schema, types.

Without a database this finds duplicate labels, dangling references, unknown factories and
traits, and malformed ``@`` values. With a reflected :class:`~seedkit.stores.schema.SchemaInfo` it
also finds unknown tables and columns, values of the wrong type, and missing NOT NULL values,
and plans the rows of records that name a factory as loading does (see :func:`_build_rows`).
"""

from __future__ import annotations

from collections.abc import Sequence
from types import ModuleType

from seedkit.core.clock import Clock
from seedkit.core.determinism import deterministic
from seedkit.errors import PackError
from seedkit.packs.builders import import_modules
from seedkit.packs.labels import Labels
from seedkit.packs.model import MONGO, POSTGRES, Pack, Record
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
    built: list[Record] = []
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
                found = planner.check(record)
                problems.extend(found)
                if (
                    not found
                    and schema is not None
                    and record.factory is not None
                    and data_file.store == POSTGRES
                ):
                    built.append(record)
    if built:
        problems.extend(_build_rows(built, labels, schema, modules))
    unique = {str(problem): problem for problem in problems}  # one report per problem, first seen first
    return list(unique.values())


def _build_rows(
    records: list[Record], labels: Labels, schema: SchemaInfo | None, modules: list[ModuleType]
) -> list[PackError]:
    """Plan the rows of records that name a factory, as loading does, and return its refusals.

    What a factory builds (a NOT NULL column it leaves empty, a ``SubFactory`` parent a pack
    cannot write) is known only by running it: validation runs the loader's own
    :meth:`Planner.row`, in a scratch deterministic context with its own clock, so that it
    refuses exactly what loading would, and the data loaded afterwards is the same.
    """
    problems = []
    planner = Planner(labels, schema, Clock(), modules)
    with deterministic():
        for record in records:
            try:
                planner.row(record)
            except PackError as exc:
                problems.append(exc)
    return problems
