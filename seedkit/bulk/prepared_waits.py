"""A partition never waits on a prepared transaction: the wait is found, cancelled and named.

Two partitions of one run that write the same unique value deadlock in a way PostgreSQL cannot
see: the first ends with ``PREPARE TRANSACTION`` (its rows and locks stay, see
:mod:`seedkit.bulk.coordinator`), the second's insert waits for that transaction to end
(``wait_event`` ``transactionid``), and the coordinator waits for the second before it commits or
rolls back the first. PostgreSQL's deadlock detector knows no coordinator, so the wait lasts
forever.

:class:`PreparedWaitWatch` runs beside a partition's transaction: a thread with its own
connection asks ``pg_blocking_pids(pid)`` of the partition's backend every
:data:`POLL_SECONDS`; PostgreSQL lists a prepared transaction among the blockers as ``0`` (see
"System Information Functions" in the PostgreSQL manual). Nothing but its resolution ends such a
wait, and the coordinator resolves its prepared transactions only once every partition has
ended, so the watch cancels the statement (``pg_cancel_backend``) and the partition fails with
:class:`PreparedTransactionWait`, naming the table and constraint (unique, primary key or
exclusion) PostgreSQL reports in the cancelled statement's context (``while inserting index
tuple ... in relation "..."``).
A ``lock_timeout`` would also end the wait, but after a guessed delay, and it would also end
ordinary waits (on a user's session) that do end.

The watch also sets ``client_connection_check_interval`` (PostgreSQL 14+) on the partition's
session, so a backend whose worker process died (``kill -9``) notices it while it waits and
ends, releasing the run's advisory lock for recovery.
"""

from __future__ import annotations

import re
import threading
from types import TracebackType
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from seedkit.errors import SeedkitError

POLL_SECONDS = 0.2
"""How often the watch asks whether the partition waits on a prepared transaction."""
CLIENT_CHECK = "1s"
"""``client_connection_check_interval`` of a partition's session."""

DEADLOCK = "40P01"
"""SQLSTATE ``deadlock_detected``."""

_RELATION = re.compile(r'in relation "(?P<name>[^"]+)"')
_COPY = re.compile(r"COPY (?P<table>\S+?),? line")
_CONSTRAINT = sa.text(
    "SELECT k.conrelid::regclass::text, k.contype, "
    "ARRAY(SELECT a.attname::text FROM unnest(k.conkey) WITH ORDINALITY AS u(attnum, position) "
    "JOIN pg_attribute a ON a.attrelid = k.conrelid AND a.attnum = u.attnum ORDER BY u.position) "
    "FROM pg_constraint k WHERE k.conindid = to_regclass(:index) ORDER BY k.oid LIMIT 1"
)
_INDEX_TABLE = sa.text("SELECT indrelid::regclass::text FROM pg_index WHERE indexrelid = to_regclass(:index)")


class PreparedTransactionWait(SeedkitError):
    """A partition's write waited on a prepared transaction (another partition's, usually)."""


class PreparedWaitWatch:
    """Cancel ``conn``'s statement when it waits on a prepared transaction (see the module docstring).

    Use as a context manager around the partition's writes; on leaving it with the cancelled
    statement's error, :class:`PreparedTransactionWait` is raised instead, in one line.
    """

    def __init__(self, engine: Engine, conn: Connection) -> None:
        self._engine = engine
        self._pid = int(conn.exec_driver_sql("SELECT pg_backend_pid()").scalar_one())
        if conn.dialect.server_version_info and conn.dialect.server_version_info >= (14,):
            conn.exec_driver_sql(f"SET client_connection_check_interval = '{CLIENT_CHECK}'")
        conn.commit()  # the partition's own transaction begins afterwards, with its snapshot
        self._stop = threading.Event()
        self._cancelled = threading.Event()
        self._thread = threading.Thread(target=self._watch, name="seedkit-prepared-wait", daemon=True)

    def __enter__(self) -> PreparedWaitWatch:
        self._thread.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._stop.set()
        self._thread.join()
        if error is not None and self._cancelled.is_set():
            waited = (
                "a write waited on another partition's prepared transaction, probably a unique value "
                "written by two partitions"
            )
            raise PreparedTransactionWait(self._describe(error, waited)) from error
        if error is not None and _diag_of(error, "sqlstate") == DEADLOCK:
            # Both partitions still open: each waited on the other's row, and PostgreSQL saw it.
            waited = (
                "two partitions' writes waited on each other (a deadlock), probably a unique value "
                "written by both"
            )
            raise PreparedTransactionWait(self._describe(error, waited)) from error

    def _watch(self) -> None:
        with self._engine.connect() as watcher:
            while not self._stop.wait(POLL_SECONDS):
                blocked = watcher.execute(
                    sa.text("SELECT 0 = ANY(pg_blocking_pids(:pid))"), {"pid": self._pid}
                ).scalar()
                watcher.rollback()
                if blocked:
                    self._cancelled.set()
                    watcher.execute(sa.text("SELECT pg_cancel_backend(:pid)"), {"pid": self._pid})
                    watcher.rollback()
                    return

    def _describe(self, error: BaseException, waited: str) -> str:
        """``table T: unique constraint C on (cols): <waited>`` from the failed statement's context."""
        context = _diag_of(error, "context")
        relation = _RELATION.search(context)
        copied = _COPY.search(context)
        table = copied["table"] if copied else None
        what = ""
        if relation is not None:
            with self._engine.connect() as conn:
                found = conn.execute(_CONSTRAINT, {"index": relation["name"]}).first()
                if found is not None:
                    table = table or found[0]
                    kind = {"p": "primary key", "x": "exclusion constraint"}.get(
                        found[1], "unique constraint"
                    )
                    what = f"{kind} {relation['name']} on ({', '.join(found[2])}): "
                elif (
                    indexed := conn.execute(_INDEX_TABLE, {"index": relation["name"]}).scalar()
                ) is not None:
                    table = table or indexed
                    what = f"unique index {relation['name']}: "
                else:  # an exclusion constraint's recheck names the table, not the index
                    table = table or relation["name"]
        where = f"table {table}: " if table else ""
        return f"{where}{what}{waited}"


def _diag_of(error: BaseException, field: str) -> str:
    """A diagnostic field (``context``, ``sqlstate``) PostgreSQL sent with the psycopg error behind
    ``error`` ("" if none)."""
    current: Any = error
    for _ in range(5):
        diag = getattr(current, "diag", None)
        if diag is not None:
            return str(getattr(diag, field) or "")
        current = getattr(current, "orig", None) or current.__cause__ or current.__context__
        if current is None:
            break
    return ""
