"""Reading COPY TO STDOUT in blocks: the same bytes as psycopg's row loop, and a connection that
is usable after every way the stream can end (done, refused, failed mid-stream, writer failed)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
import sqlalchemy as sa

from seedkit.errors import SnapshotError
from seedkit.snapshots import api as snapshot
from seedkit.snapshots.copy_out import BLOCK, CopyOutError, copy_out

ROWS = "COPY (SELECT g, repeat('x', g % 50), g * 0.5 FROM generate_series(1, 20000) g) TO STDOUT"


@pytest.fixture
def driver(empty_db_url: str) -> Iterator[psycopg.Connection[Any]]:
    url = sa.engine.make_url(empty_db_url)
    with psycopg.connect(
        host=url.host, port=url.port, user=url.username, password=url.password, dbname=url.database
    ) as conn:
        yield conn


def usable(conn: psycopg.Connection[Any]) -> bool:
    return bool(conn.execute("SELECT 41 + 1").fetchone() == (42,))


def test_the_blocks_are_psycopgs_rows_in_order(driver: psycopg.Connection[Any]) -> None:
    with driver.cursor() as cursor, cursor.copy(ROWS) as copy:
        expected = b"".join(bytes(row) for row in copy)
    blocks: list[bytes] = []
    assert copy_out(driver, ROWS, blocks.append) == 20000
    assert b"".join(blocks) == expected
    assert len(blocks) > 1 and all(len(block) >= BLOCK for block in blocks[:-1])
    assert usable(driver)


def test_a_refused_copy_is_the_servers_first_line(driver: psycopg.Connection[Any]) -> None:
    driver.autocommit = True
    with pytest.raises(CopyOutError, match=r'^ERROR:  relation "nowhere" does not exist$'):
        copy_out(driver, "COPY nowhere TO STDOUT", lambda block: None)
    assert usable(driver)


def test_an_error_in_the_middle_of_the_stream_is_raised(driver: psycopg.Connection[Any]) -> None:
    driver.autocommit = True
    received: list[bytes] = []
    failing = "COPY (SELECT 1 / (15000 - g) FROM generate_series(1, 20000) g) TO STDOUT"
    with pytest.raises(CopyOutError, match="division by zero"):
        copy_out(driver, failing, received.append)
    assert received  # rows before the failure had arrived in blocks
    assert usable(driver)


def test_a_failing_writer_leaves_the_connection_idle(driver: psycopg.Connection[Any]) -> None:
    class DiskFull(Exception):
        pass

    def write(block: bytes) -> None:
        raise DiskFull

    with pytest.raises(DiskFull):
        copy_out(driver, ROWS, write)
    assert usable(driver)  # the rest of the stream was read away, the transaction goes on


def test_a_table_the_role_may_not_read_is_named(empty_db_url: str, tmp_path: Any) -> None:
    engine = sa.create_engine(empty_db_url)
    try:
        with engine.begin() as conn:
            conn.exec_driver_sql(
                "CREATE TABLE open_table (id int); CREATE TABLE secret (id int);"
                "CREATE ROLE snapshot_reader_test; GRANT SELECT ON open_table TO snapshot_reader_test;"
                "GRANT USAGE ON SCHEMA public TO snapshot_reader_test"
            )
        reader = sa.create_engine(empty_db_url)

        @sa.event.listens_for(reader, "connect")
        def become_reader(dbapi_connection: Any, record: Any) -> None:
            with dbapi_connection.cursor() as cursor:
                cursor.execute("SET ROLE snapshot_reader_test")
            dbapi_connection.commit()

        with pytest.raises(
            SnapshotError, match=r'^cannot save table "public"\."secret": ERROR:  permission denied'
        ):
            snapshot.save("denied", directory=tmp_path, engine=reader)
        reader.dispose()
        assert not (tmp_path / "denied.seedkit.zip").exists()
    finally:
        with engine.begin() as conn:
            conn.exec_driver_sql("DROP TABLE open_table, secret; DROP OWNED BY snapshot_reader_test;")
            conn.exec_driver_sql("DROP ROLE snapshot_reader_test")
        engine.dispose()
