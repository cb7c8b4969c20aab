"""Writing rows with PostgreSQL's COPY (psycopg 3), optionally from a background thread.

COPY runs on the psycopg connection under the caller's SQLAlchemy ``Connection``, inside its
transaction. Binary COPY is used when psycopg knows every column type (the server then parses
nothing), text COPY otherwise (enums, domains and other custom types).

With ``background=True`` a writer thread copies chunk *k* while the caller generates chunk
*k + 1*: PostgreSQL ingests on its own core while Python generates. The caller's other queries
on the same connection first wait until the writer is idle (see :meth:`CopyWriter.wait_idle`),
since one connection runs one command at a time.
"""

from __future__ import annotations

import operator
import queue
import sys
import threading
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg import pq, sql
from psycopg.types import uuid as psycopg_uuid
from sqlalchemy.engine import Connection

from seedkit.errors import SeedkitError


class UUIDBinaryDumper(psycopg_uuid.UUIDBinaryDumper):
    """psycopg's binary ``uuid`` dumper (the value's 16 ``bytes``) with ``dump`` a C-level
    attribute getter: psycopg's row formatter calls it per value, and psycopg's own is a Python
    method calling the ``bytes`` property, two Python calls per UUID in the writer thread, which
    holds the GIL meanwhile (the ordinary factories write two UUIDs per row). Same bytes:
    ``tests/test_bulk_copy_types.py`` round-trips every column type."""

    dump = operator.attrgetter("bytes")  # type: ignore[assignment]


@dataclass(frozen=True)
class CopyJob:
    """Rows for one table: ``COPY schema.table (columns) FROM STDIN``."""

    schema: str | None
    table: str
    columns: tuple[str, ...]
    rows: Sequence[Sequence[Any]]


SWITCH_INTERVAL = 0.0005
"""Seconds: the GIL switch interval while rows are generated beside a background writer."""


class CopyWriter:
    """Runs :class:`CopyJob` lists in order on one connection, in the caller's thread or a worker."""

    def __init__(self, connection: Connection, *, background: bool = True) -> None:
        driver = connection.connection.driver_connection
        if not isinstance(driver, psycopg.Connection):
            raise SeedkitError(
                "bulk seeding needs a PostgreSQL connection through psycopg 3 (postgresql+psycopg://)"
            )
        self.driver: psycopg.Connection[Any] = driver
        self._types: dict[tuple[str | None, str], dict[str, int]] = {}
        self._binary: dict[int, bool] = {}
        self._background = background
        self._queue: queue.Queue[list[CopyJob] | None] = queue.Queue(maxsize=1)
        self._error: BaseException | None = None
        self._thread: threading.Thread | None = None
        if background:
            self._thread = threading.Thread(target=self._run, name="seedkit-copy", daemon=True)
            self._thread.start()

    # -- public ---------------------------------------------------------------------------
    @contextmanager
    def generating(self) -> Iterator[None]:
        """The block generates rows while this writer copies in the background: hand it the GIL promptly.

        The writer thread waits on the server many times per COPY (start, each full socket
        buffer, end) and needs the GIL back after each wait. A thread that wants the GIL gets it
        only when the running thread has held it for ``sys.getswitchinterval()`` (5 ms by
        default; CPython's "convoy effect"), so with the main thread generating, each wait costs
        the writer up to that much and the writer falls behind. In the block the interval is at
        most :data:`SWITCH_INTERVAL` (set back after; the interval is the process's, so the host's
        other threads also switch more often meanwhile, which changes no result). Measured on the
        ordinary graph at N = 200,000, 2,000 roots per chunk: 74k rows/s against 59k.
        """
        if self._thread is None:
            yield
            return
        before = sys.getswitchinterval()
        sys.setswitchinterval(min(before, SWITCH_INTERVAL))
        try:
            yield
        finally:
            sys.setswitchinterval(before)

    def submit(self, jobs: list[CopyJob]) -> None:
        """Write ``jobs`` (in order); in background mode, return as soon as the writer takes them."""
        self._raise_pending()
        if not jobs:
            return
        if self._thread is None:
            self._write(jobs)
        else:
            self._queue.put(jobs)

    def wait_idle(self) -> None:
        """Block until everything submitted is written; re-raise a writer error."""
        if self._thread is not None and threading.current_thread() is not self._thread:
            self._queue.join()
        self._raise_pending()

    def close(self, *, raise_errors: bool = True) -> None:
        """Finish pending writes and stop the worker; a write error is raised unless told not to."""
        if self._thread is not None:
            self._queue.join()
            self._queue.put(None)
            self._thread.join()
            self._thread = None
        if raise_errors:
            self._raise_pending()
        else:
            self._error = None

    # -- internals ------------------------------------------------------------------------
    def _raise_pending(self) -> None:
        if self._error is not None:
            error, self._error = self._error, None
            raise error

    def _run(self) -> None:
        while True:
            jobs = self._queue.get()
            try:
                if jobs is None:
                    return
                if self._error is None:  # after a failure, drain without writing
                    self._write(jobs)
            except BaseException as exc:
                self._error = exc
            finally:
                self._queue.task_done()

    def _column_types(self, schema: str | None, table: str) -> dict[str, int]:
        key = (schema, table)
        if key not in self._types:
            name = f"{schema}.{table}" if schema else table
            quoted = sql.Identifier(*name.split(".")).as_string(self.driver)
            rows = self.driver.execute(
                "SELECT attname, atttypid FROM pg_attribute "
                "WHERE attrelid = %s::regclass AND attnum > 0 AND NOT attisdropped",
                (quoted,),
            ).fetchall()
            self._types[key] = {name: int(oid) for name, oid in rows}
        return self._types[key]

    def _binary_dumper(self, oid: int) -> bool:
        """Whether psycopg can dump values of type ``oid`` in binary (not ``bpchar``, enums, domains...)."""
        known = self._binary.get(oid)
        if known is None:
            try:
                self.driver.adapters.get_dumper_by_oid(oid, pq.Format.BINARY)
                known = True
            except psycopg.ProgrammingError:
                known = False
            self._binary[oid] = known
        return known

    def _write(self, jobs: list[CopyJob]) -> None:
        with self.driver.cursor() as cursor:
            cursor.adapters.register_dumper(uuid.UUID, UUIDBinaryDumper)  # this cursor's map only
            for job in jobs:
                types = self._column_types(job.schema, job.table)
                oids = [types[c] for c in job.columns]
                binary = all(self._binary_dumper(oid) for oid in oids)
                target = sql.Identifier(job.schema, job.table) if job.schema else sql.Identifier(job.table)
                statement = sql.SQL("COPY {} ({}) FROM STDIN{}").format(
                    target,
                    sql.SQL(", ").join(map(sql.Identifier, job.columns)),
                    sql.SQL(" (FORMAT BINARY)" if binary else ""),
                )
                with cursor.copy(statement) as copy:
                    if binary:
                        copy.set_types(oids)
                    write = copy.write_row
                    for row in job.rows:
                        write(row)
