"""SQL that user code runs while the bulk seeder builds rows: refused, in one line.

On the per-object path every object is flushed as it is created, so a declaration that queries
the database (``object_session(o.clinic).scalar(select(count()).select_from(Patient))``) sees
the rows made before it. The bulk paths write per chunk, after the chunk's declarations ran:
the same query sees fewer rows (none of the chunk's), and the data would differ silently. No
per-object mechanism exists for a bulk volume, so the seeder refuses: while a factory's
declarations run (:func:`refusing_sql`), a ``before_cursor_execute`` listener on every
:class:`~sqlalchemy.engine.Engine` (the user's own engines too) raises :class:`SQLWhileBuilding`
naming the factory and the statement, before the chunk is written.

Not refused: SQLAlchemy's own loads of objects that were already in the database (a lazy load
of a collection, the refresh of an expired attribute: their ``_sa_orm_load_options`` name the
object loaded from, see SQLAlchemy's ``ORMExecuteState.is_relationship_load`` /
``is_column_load``), statements seedkit runs itself (:func:`seedkit_statements`: key
reservations) and statements of other threads (the COPY writer).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Engine

from seedkit.errors import FactoryError

__all__ = ["SQLWhileBuilding", "refusing_sql", "seedkit_statements"]


class SQLWhileBuilding(FactoryError):
    """A factory's declaration ran SQL while the bulk seeder built rows (see the module docstring)."""


_LOCAL = threading.local()


@contextmanager
def seedkit_statements() -> Iterator[None]:
    """Statements run in the block are seedkit's own: :func:`refusing_sql` lets them through."""
    _LOCAL.own = getattr(_LOCAL, "own", 0) + 1
    try:
        yield
    finally:
        _LOCAL.own -= 1


def _own() -> bool:
    return bool(getattr(_LOCAL, "own", 0))


def _loader(context: Any) -> bool:
    options = getattr(context, "execution_options", None) or {}
    load = options.get("_sa_orm_load_options")
    return load is not None and (
        getattr(load, "_lazy_loaded_from", None) is not None
        or getattr(load, "_refresh_state", None) is not None
    )


def _statement_line(statement: str) -> str:
    line = " ".join(statement.split())
    return line if len(line) <= 120 else line[:117] + "..."


@contextmanager
def refusing_sql(factory_name: Callable[[], str]) -> Iterator[None]:
    """While the block runs, SQL that user code executes in this thread raises :class:`SQLWhileBuilding`.

    Args:
        factory_name: gives the name of the factory whose declarations run (read when refusing).
    """
    thread = threading.get_ident()

    def before_cursor_execute(
        conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, executemany: bool
    ) -> None:
        if threading.get_ident() != thread or _own() or _loader(context):
            return
        raise SQLWhileBuilding(
            f"{factory_name()}: its code (a declaration, a hook, its _create) ran SQL while the bulk "
            f"seeder built rows ({_statement_line(statement)}); the bulk paths write per chunk, so it "
            "would not see or order rows as the per-object path does and the data would differ: seed "
            "this factory per object (create_batch in a session), or compute the value without SQL"
        )

    event.listen(Engine, "before_cursor_execute", before_cursor_execute)
    try:
        yield
    finally:
        event.remove(Engine, "before_cursor_execute", before_cursor_execute)
