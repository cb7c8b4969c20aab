"""Indexes during a snapshot restore (issue #11): the restore drops the indexes it can build
again exactly, loads the rows, then builds them (as ``pg_restore`` does); afterwards every
index, constraint, comment and NOT NULL is as before, and what it cannot rebuild exactly
(a clustering index, an index a view depends on through its primary key, an index with a
statistics target) stays in place during the load."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from isolation_support import stores_fingerprint

from seedkit.errors import SnapshotError
from seedkit.snapshots import api as snapshot

SCHEMA = """
CREATE TABLE rooms (
    id int GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    code text NOT NULL CONSTRAINT rooms_code UNIQUE DEFERRABLE INITIALLY DEFERRED,
    floor int NOT NULL, name text
);
COMMENT ON CONSTRAINT rooms_code ON rooms IS 'one code per room';
COMMENT ON INDEX rooms_code IS 'the code index';
CREATE UNIQUE INDEX rooms_floor_name ON rooms (floor, lower(name)) INCLUDE (code) WHERE name IS NOT NULL;
CREATE INDEX rooms_name_hash ON rooms USING hash (name);
CREATE TABLE bookings (
    id bigint NOT NULL, room_id int NOT NULL REFERENCES rooms (id), during tstzrange NOT NULL,
    note text,
    CONSTRAINT bookings_pkey PRIMARY KEY (id) WITH (fillfactor = 80),
    CONSTRAINT bookings_no_overlap EXCLUDE USING gist (during WITH &&)
);
CREATE INDEX bookings_room ON bookings (room_id) WITH (fillfactor = 70);
CREATE INDEX bookings_note ON bookings (note DESC NULLS LAST) WHERE note IS NOT NULL;
COMMENT ON INDEX bookings_room IS 'by room';
CREATE TABLE guests (id int PRIMARY KEY, name text NOT NULL, room_id int);
CREATE INDEX guests_name ON guests (name);
CLUSTER guests USING guests_name;
CREATE INDEX guests_upper ON guests (upper(name));
ALTER INDEX guests_upper ALTER COLUMN 1 SET STATISTICS 500;
CREATE TABLE keyless (a int NOT NULL, b text);
CREATE UNIQUE INDEX keyless_a ON keyless (a);
ALTER TABLE keyless REPLICA IDENTITY USING INDEX keyless_a;
CREATE VIEW guest_counts AS SELECT g.id, g.name, count(*) AS n FROM guests g GROUP BY g.id;
"""

DATA = """
INSERT INTO rooms (code, floor, name) VALUES ('a1', 1, 'Alpha'), ('b2', 2, NULL), ('c3', 2, 'Gamma');
INSERT INTO bookings VALUES
 (1, 1, '[2025-01-01 10:00+00, 2025-01-01 11:00+00)', 'first'),
 (2, 1, '[2025-01-01 11:00+00, 2025-01-01 12:00+00)', NULL),
 (3, 3, '[2025-01-02 09:00+00, 2025-01-02 10:00+00)', 'late');
INSERT INTO guests VALUES (1, 'Ann', 1), (2, 'Bob', NULL);
INSERT INTO keyless VALUES (1, 'x'), (2, NULL);
"""

CATALOG = (
    (
        "SELECT conrelid::regclass::text, conname, contype, pg_get_constraintdef(oid), "
        "obj_description(oid, 'pg_constraint'), condeferrable, condeferred, convalidated "
        "FROM pg_constraint WHERE connamespace = 'public'::regnamespace ORDER BY 1, 2"
    ),
    (
        "SELECT x.indrelid::regclass::text, i.relname, pg_get_indexdef(x.indexrelid), "
        "obj_description(x.indexrelid, 'pg_class'), x.indisclustered, x.indisreplident, x.indisvalid, "
        "i.reloptions FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid "
        "WHERE i.relnamespace = 'public'::regnamespace ORDER BY 1, 2"
    ),
    (
        "SELECT a.attrelid::regclass::text, a.attname, a.attnotnull, a.attstattarget FROM pg_attribute a "
        "JOIN pg_class c ON c.oid = a.attrelid WHERE c.relnamespace = 'public'::regnamespace "
        "AND a.attnum > 0 AND NOT a.attisdropped ORDER BY 1, 2"
    ),
    "SELECT pg_get_viewdef('guest_counts'::regclass)",
)


@pytest.fixture
def hotel(empty_db_url: str) -> Iterator[sa.Engine]:
    engine = sa.create_engine(empty_db_url)
    with engine.begin() as conn:
        conn.exec_driver_sql(SCHEMA)
        conn.exec_driver_sql(DATA)
    yield engine
    engine.dispose()


def catalog(engine: sa.Engine) -> list[list[tuple[Any, ...]]]:
    with engine.connect() as conn:
        return [[tuple(row) for row in conn.exec_driver_sql(query)] for query in CATALOG]


def scramble(engine: sa.Engine) -> None:
    with engine.begin() as conn:
        conn.exec_driver_sql(
            "DELETE FROM bookings WHERE id = 2; UPDATE rooms SET name = 'Changed' WHERE id = 1;"
            "INSERT INTO guests VALUES (3, 'Cy', 2); DELETE FROM keyless WHERE a = 2;"
        )


def indexes_during_the_load(monkeypatch: pytest.MonkeyPatch) -> dict[str, list[str]]:
    """Table -> the indexes it has when its COPY starts (filled in by the next restore)."""
    from seedkit.snapshots import postgres

    present: dict[str, list[str]] = {}
    real_copy_in = postgres._copy_in

    def spy(driver: Any, snap: Any, entry: dict[str, Any], target: str) -> None:
        names = driver.execute(
            "SELECT i.relname FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid "
            "WHERE x.indrelid = CAST(%s AS regclass) ORDER BY 1",
            [target],
        )
        present[entry["name"]] = [str(name) for (name,) in names]
        real_copy_in(driver, snap, entry, target)

    monkeypatch.setattr(postgres, "_copy_in", spy)
    return present


def test_indexes_and_constraints_come_back_as_they_were_and_only_rebuildable_ones_are_set_aside(
    hotel: sa.Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from seedkit.snapshots import postgres

    monkeypatch.setattr(postgres, "INDEX_REBUILD_ROWS", 1)  # these tables hold 2-3 rows
    before = (stores_fingerprint(hotel), catalog(hotel))
    snapshot.save("hotel", directory=tmp_path, engine=hotel)
    scramble(hotel)
    present = indexes_during_the_load(monkeypatch)
    snapshot.restore("hotel", directory=tmp_path, engine=hotel)
    assert present == {
        "rooms": [],
        "bookings": ["bookings_pkey"],  # storage parameters pg_get_constraintdef() leaves out
        # the clustering index, the primary key the view's GROUP BY relies on, and an index
        # with a statistics target
        "guests": ["guests_name", "guests_pkey", "guests_upper"],
        "keyless": ["keyless_a"],  # the replica identity
    }
    assert (stores_fingerprint(hotel), catalog(hotel)) == before


def test_small_tables_keep_their_indexes_during_the_load(
    hotel: sa.Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Below INDEX_REBUILD_ROWS rows a drop and a build cost more than the load saves."""
    from seedkit.snapshots import postgres

    with hotel.begin() as conn:  # bookings reaches the threshold, the other tables do not
        conn.exec_driver_sql(
            "INSERT INTO bookings SELECT g, 3, tstzrange(timestamptz '2026-01-01' + g * interval '1 hour',"
            " timestamptz '2026-01-01' + (g + 1) * interval '1 hour') FROM generate_series(10, 1009) g"
        )
    assert postgres.INDEX_REBUILD_ROWS == 500
    before = (stores_fingerprint(hotel), catalog(hotel))
    snapshot.save("hotel", directory=tmp_path, engine=hotel)
    scramble(hotel)
    present = indexes_during_the_load(monkeypatch)
    snapshot.restore("hotel", directory=tmp_path, engine=hotel)
    assert present["bookings"] == ["bookings_pkey"]  # 1,002 rows: rebuilt but for the one with options
    assert present["rooms"] == ["rooms_code", "rooms_floor_name", "rooms_name_hash", "rooms_pkey"]
    assert (stores_fingerprint(hotel), catalog(hotel)) == before


@pytest.mark.parametrize("rebuilt", [True, False], ids=["index-rebuilt", "deferred-check-kept"])
def test_a_duplicate_the_rebuilt_unique_index_finds_is_refused_naming_table_and_member(
    hotel: sa.Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, rebuilt: bool
) -> None:
    """Found by the rebuilt unique index, or by the deferrable constraint kept in place (a small
    table), whose deferred check runs before COMMIT, not at it (where it escaped unnamed)."""
    from test_snapshot_load import rewrite

    from seedkit.snapshots import postgres

    if rebuilt:
        monkeypatch.setattr(postgres, "INDEX_REBUILD_ROWS", 1)

    path = snapshot.save("hotel", directory=tmp_path, engine=hotel).path
    scramble(hotel)
    changed = (stores_fingerprint(hotel), catalog(hotel))

    def one_row_more(manifest: dict[str, Any]) -> None:
        (entry,) = [t for t in manifest["postgres"]["tables"] if t["name"] == "rooms"]
        entry["rows"] += 1

    import zipfile

    with zipfile.ZipFile(path) as archive:
        rooms = archive.read("postgres/rooms.csv")
    rewrite(path, {"postgres/rooms.csv": rooms + b"4,a1,3,Delta\n"}, one_row_more)  # code a1 twice
    with pytest.raises(SnapshotError) as err:
        snapshot.restore("hotel", directory=tmp_path, engine=hotel)
    message = str(err.value)
    assert "member 'postgres/rooms.csv': cannot be loaded into table 'rooms'" in message
    assert '"rooms_code"' in message
    assert "\n" not in message
    assert (stores_fingerprint(hotel), catalog(hotel)) == changed
