"""Mapped attributes whose value the database computes: ``column_property`` over a SQL expression,
``query_expression`` (set by ``with_expression``), ``deferred`` expressions.

On the per-object path such an attribute of a flushed object is expired and loaded with a
``SELECT`` when read (a correlated count sees the rows flushed so far). The bulk paths write
per chunk, so the database cannot give it while rows are built:

- the row path offers no such attribute on its records (reading it raises
  :class:`~seedkit.bulk.row_builder.RowPathUnsupported` naming ``Model.attribute``, and the
  volume takes the ORM path);
- the ORM path would read ``None`` from a pending object: :func:`refuse_reads` gives each object
  a factory creates there a loader for those attributes that raises :class:`FactoryError`
  instead (one line naming the attribute), so seeding stops before the chunk is written and
  never writes other data than the per-object path.

Only models that have such attributes pay anything (one per-instance loader each).
"""

from __future__ import annotations

import functools
from typing import Any

import sqlalchemy as sa

from seedkit.errors import FactoryError

__all__ = ["computed_attributes", "refuse_reads"]


@functools.cache
def computed_attributes(model: type) -> tuple[str, ...]:
    """Keys of ``model``'s column attributes that are SQL expressions, not table columns."""
    mapper: Any = sa.inspect(model)
    return tuple(
        prop.key for prop in mapper.column_attrs if not all(isinstance(c, sa.Column) for c in prop.columns)
    )


def _refuse(model: type, key: str, state: Any, passive: Any) -> Any:
    raise FactoryError(
        f"{model.__name__}.{key} was read from an object the bulk seeder created: the database "
        "computes it (a SQL expression attribute) from rows the bulk paths write only per chunk, so it "
        "would differ from the per-object path; read it after seeding, or compute it in the declaration"
    )


def refuse_reads(obj: Any) -> None:
    """Make reading a computed attribute of ``obj`` (an ORM object created in the bulk run, not
    flushed) raise :class:`FactoryError` instead of giving ``None`` (see the module docstring)."""
    model: Any = type(obj)
    keys = computed_attributes(model)
    if not keys:
        return
    state = sa.inspect(obj)
    callables = dict(state.callables)  # SQLAlchemy's default is an immutable, shared empty dict
    for key in keys:
        if key not in state.dict:
            callables[key] = functools.partial(_refuse, model, key)
    state.callables = callables
