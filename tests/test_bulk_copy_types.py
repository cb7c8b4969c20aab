"""The COPY writer stores every column type exactly as an INSERT of the same values (real PostgreSQL)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, date, datetime, time, timedelta, timezone
from decimal import Decimal
from typing import Any

import pytest
import sqlalchemy as sa

from seedkit.bulk import copy as bulk_copy
from seedkit.bulk.copy import CopyJob, CopyWriter

COLUMNS = (
    ("id", "integer"),
    ("key", "uuid"),
    ("other_key", "uuid"),
    ("name", "text"),
    ("code", "varchar(12)"),
    ("small", "smallint"),
    ("big", "bigint"),
    ("price", "numeric(10, 2)"),
    ("ratio", "double precision"),
    ("flag", "boolean"),
    ("at", "timestamptz"),
    ("naive_at", "timestamp"),
    ("day", "date"),
    ("clock", "time"),
    ("span", "interval"),
    ("raw", "bytea"),
)


def _rows() -> list[tuple[Any, ...]]:
    rows = []
    for i in range(40):
        rows.append(
            (
                i,
                uuid.UUID(int=(i * 0x9E3779B97F4A7C15) % 2**128, version=4),
                uuid.uuid5(uuid.NAMESPACE_DNS, f"row{i}.example.com") if i % 5 else None,
                f'Name {i} é\t\\ "quoted" {"x" * i}',
                f"C-{i:04d}",
                -(2**15) + i,
                2**62 + i,
                Decimal(f"{i * 37}.{i % 100:02d}") * (-1 if i % 3 == 0 else 1),
                i / 7.0,
                i % 2 == 0,
                datetime(2025, 1, 1, tzinfo=UTC) + timedelta(minutes=37 * i, microseconds=i),
                datetime(2024, 2, 29, 12, 0) + timedelta(seconds=i),
                date(2025, 1, 1) + timedelta(days=i),
                time(i % 24, i % 60, i % 60, i),
                timedelta(days=i, seconds=i, microseconds=i),
                bytes(range(i % 256)),
            )
        )
    rows.append(
        (
            999,
            uuid.UUID(int=0),
            None,
            "",
            "",
            0,
            0,
            Decimal("0.00"),
            0.0,
            False,
            None,
            None,
            None,
            None,
            None,
            b"",
        )
    )
    rows.append(
        (
            1000,
            uuid.UUID(int=2**128 - 1),
            None,
            None,
            None,
            2**15 - 1,
            -(2**63),
            Decimal("-99999999.99"),
            -1.5e300,
            True,
            datetime(2025, 6, 1, 12, tzinfo=timezone(timedelta(hours=5))),
            datetime(1970, 1, 1),
            date(1, 1, 1),
            time(23, 59, 59, 999999),
            timedelta(microseconds=-1),
            b"\x00\xff",
        )
    )
    return rows


@pytest.fixture
def conn(db_url: str) -> Iterator[sa.Connection]:
    engine = sa.create_engine(db_url)
    with engine.connect() as connection:
        for table in ("copied", "inserted"):
            columns = ", ".join(f"{name} {kind}" for name, kind in COLUMNS)
            connection.execute(sa.text(f"CREATE TABLE {table} ({columns})"))
        yield connection
        connection.rollback()
    engine.dispose()


def test_every_column_type_copied_reads_back_as_inserted(
    conn: sa.Connection, monkeypatch: pytest.MonkeyPatch
) -> None:
    rows = _rows()
    names = tuple(name for name, _ in COLUMNS)
    dumped: list[Any] = []
    getter = bulk_copy.UUIDBinaryDumper.dump
    counting = staticmethod(lambda value: dumped.append(value) or getter(value))
    monkeypatch.setattr(bulk_copy.UUIDBinaryDumper, "dump", counting)

    writer = CopyWriter(conn, background=False)
    writer.submit([CopyJob(None, "copied", names, rows)])
    writer.close()
    driver = conn.connection.driver_connection
    placeholders = ", ".join(["%s"] * len(names))
    with driver.cursor() as cursor:
        cursor.executemany(f"INSERT INTO inserted ({', '.join(names)}) VALUES ({placeholders})", rows)

    def read(table: str, cast: str) -> list[tuple[Any, ...]]:
        columns = ", ".join(f"{name}{cast}" for name in names)
        return [tuple(row) for row in conn.execute(sa.text(f"SELECT {columns} FROM {table} ORDER BY id"))]

    assert read("copied", "::text") == read(
        "inserted", "::text"
    )  # the stored values, as PostgreSQL prints them
    assert read("copied", "") == sorted(rows, key=lambda row: row[0])  # aware datetimes compare as instants
    assert len(dumped) == sum(
        1 for row in rows for value in row[1:3] if value is not None
    )  # the dumper was used
    assert (
        driver.adapters.get_dumper(uuid.UUID, "b") is not bulk_copy.UUIDBinaryDumper
    )  # the connection's unchanged
