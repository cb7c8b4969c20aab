"""Portable snapshots on real PostgreSQL and mongomock: round trips, and refusals that change nothing."""

from __future__ import annotations

import hashlib
import json
import struct
import uuid
import zipfile
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from bson import Decimal128, Int64
from conftest import create_database, drop_database
from isolation_support import seed_domain, stores_fingerprint

from seedkit.errors import SnapshotError
from seedkit.isolation import clear_collections, truncate_tables
from seedkit.snapshots import api as snapshot
from seedkit.stores.fingerprint import fingerprint


@pytest.fixture
def seeded(engine: sa.Engine, mongo_db: Any) -> tuple[sa.Engine, Any]:
    seed_domain(engine, mongo_db)
    return engine, mongo_db


def wipe(engine: sa.Engine, mongo_db: Any) -> None:
    with engine.begin() as conn:
        truncate_tables(conn)
    clear_collections(mongo_db)
    mongo_db.stray.insert_one({"_id": 1})


@pytest.mark.mongo
def test_round_trip_restores_both_stores_exactly(seeded: tuple[sa.Engine, Any], tmp_path: Path) -> None:
    engine, mongo_db = seeded
    before = stores_fingerprint(engine, mongo_db)
    saved = snapshot.save("golden", directory=tmp_path, engine=engine, mongo=mongo_db)
    assert saved.path == tmp_path / "golden.seedkit.zip" and saved.fingerprint == before.digest
    assert saved.revision == ("0001",) and saved.rows > 0 and saved.documents == 9

    wipe(engine, mongo_db)
    assert stores_fingerprint(engine, mongo_db) != before
    snapshot.restore("golden", directory=tmp_path, engine=engine, mongo=mongo_db)
    assert stores_fingerprint(engine, mongo_db) == before
    assert "stray" not in mongo_db.list_collection_names()


@pytest.mark.mongo
def test_same_data_gives_the_same_bytes(seeded: tuple[sa.Engine, Any], tmp_path: Path) -> None:
    engine, mongo_db = seeded
    first = snapshot.save("s", directory=tmp_path, engine=engine, mongo=mongo_db).path.read_bytes()
    with pytest.raises(SnapshotError, match=r"already exists at .*; delete it, or replace it with --force"):
        snapshot.save("s", directory=tmp_path, engine=engine, mongo=mongo_db)
    again = snapshot.save("s", directory=tmp_path, engine=engine, mongo=mongo_db, overwrite=True)
    assert again.path.read_bytes() == first


@pytest.mark.mongo
def test_restores_into_another_database_at_the_same_revision(
    seeded: tuple[sa.Engine, Any], tmp_path: Path, pg_server_url: str, reference_template: str
) -> None:
    engine, _ = seeded
    snapshot.save("portable", directory=tmp_path, engine=engine)
    name = f"test_other_{uuid.uuid4().hex[:8]}"
    other = sa.create_engine(create_database(pg_server_url, name, template=reference_template))
    try:
        snapshot.restore("portable", directory=tmp_path, engine=other)
        assert stores_fingerprint(other) == stores_fingerprint(engine)
    finally:
        other.dispose()
        drop_database(pg_server_url, name)


# --- refusals: the database must be exactly as it was -------------------------------------


@pytest.fixture
def saved_then_changed(
    seeded: tuple[sa.Engine, Any], tmp_path: Path
) -> Iterator[tuple[Path, Callable[[], Any]]]:
    """A snapshot, then the stores changed (so a restore would be visible), and their fingerprint."""
    engine, mongo_db = seeded
    path = snapshot.save("golden", directory=tmp_path, engine=engine, mongo=mongo_db).path
    with engine.begin() as conn:
        conn.execute(sa.text("DELETE FROM payments"))
    mongo_db.notifications.insert_one({"changed": True})
    changed = stores_fingerprint(engine, mongo_db)

    def unchanged() -> bool:
        return bool(stores_fingerprint(engine, mongo_db) == changed)

    yield path, unchanged


def restore_golden(seeded: tuple[sa.Engine, Any], tmp_path: Path) -> None:
    engine, mongo_db = seeded
    snapshot.restore("golden", directory=tmp_path, engine=engine, mongo=mongo_db)


def member_data_offset(path: Path, member: str) -> tuple[int, int]:
    """Where ``member``'s compressed bytes are in the zip file, and how many."""
    with zipfile.ZipFile(path) as archive:
        info = archive.getinfo(member)
    raw = path.read_bytes()
    name_length, extra_length = struct.unpack("<HH", raw[info.header_offset + 26 : info.header_offset + 30])
    return info.header_offset + 30 + name_length + extra_length, info.compress_size


def rewrite_member(path: Path, member: str, change: Callable[[bytes], bytes], *, fix_checksums: bool) -> None:
    """Rewrite a member as a valid zip; with ``fix_checksums`` also update the manifest and its hash."""
    with zipfile.ZipFile(path) as archive:
        contents = {info.filename: archive.read(info.filename) for info in archive.infolist()}
        comment = archive.comment
    contents[member] = change(contents[member])
    if fix_checksums:
        manifest = json.loads(contents["manifest.json"])
        manifest["members"][member] = {
            "sha256": hashlib.sha256(contents[member]).hexdigest(),
            "size": len(contents[member]),
        }
        contents["manifest.json"] = json.dumps(manifest).encode()
        comment = f"sha256={hashlib.sha256(contents['manifest.json']).hexdigest()}".encode()
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in contents.items():
            archive.writestr(name, data)
        archive.comment = comment


@pytest.mark.mongo
@pytest.mark.parametrize("member", ["postgres/users.csv", "mongo/audit_events.jsonl", "manifest.json"])
def test_a_flipped_byte_is_refused_naming_the_member(
    saved_then_changed: tuple[Path, Callable[[], bool]], seeded: Any, tmp_path: Path, member: str
) -> None:
    path, unchanged = saved_then_changed
    start, size = member_data_offset(path, member)
    raw = bytearray(path.read_bytes())
    raw[start + size // 2] ^= 0xFF
    path.write_bytes(bytes(raw))
    with pytest.raises(SnapshotError) as refused:
        restore_golden(seeded, tmp_path)
    assert str(path) in str(refused.value) and repr(member) in str(refused.value)
    assert unchanged()


@pytest.mark.mongo
def test_a_truncated_file_is_refused(saved_then_changed: Any, seeded: Any, tmp_path: Path) -> None:
    path, unchanged = saved_then_changed
    path.write_bytes(path.read_bytes()[: path.stat().st_size * 2 // 3])
    with pytest.raises(SnapshotError, match="truncated or corrupt") as refused:
        restore_golden(seeded, tmp_path)
    assert str(path) in str(refused.value)
    assert unchanged()


@pytest.mark.mongo
def test_a_modified_member_in_a_valid_zip_fails_its_checksum(
    saved_then_changed: Any, seeded: Any, tmp_path: Path
) -> None:
    path, unchanged = saved_then_changed
    rewrite_member(path, "postgres/products.csv", lambda b: b.replace(b".", b"9", 1), fix_checksums=False)
    with pytest.raises(SnapshotError, match=r"member 'postgres/products\.csv': checksum mismatch"):
        restore_golden(seeded, tmp_path)
    assert unchanged()


@pytest.mark.mongo
def test_a_manifest_edited_by_hand_is_refused(saved_then_changed: Any, seeded: Any, tmp_path: Path) -> None:
    path, unchanged = saved_then_changed
    rewrite_member(path, "manifest.json", lambda b: b.replace(b'"0001"', b'"0002"'), fix_checksums=False)
    with pytest.raises(SnapshotError, match=r"member 'manifest\.json': checksum mismatch"):
        restore_golden(seeded, tmp_path)
    assert unchanged()


@pytest.mark.mongo
def test_a_different_schema_revision_is_refused(saved_then_changed: Any, seeded: Any, tmp_path: Path) -> None:
    path, unchanged = saved_then_changed
    engine, _ = seeded
    with engine.begin() as conn:
        conn.execute(sa.text("UPDATE alembic_version SET version_num = '0002'"))
    unchanged_now = stores_fingerprint(engine, seeded[1])  # alembic_version is not in the fingerprint
    with pytest.raises(
        SnapshotError, match=r"taken at revision 0001, but the database is at revision 0002"
    ) as err:
        restore_golden(seeded, tmp_path)
    assert str(path) in str(err.value)
    assert stores_fingerprint(engine, seeded[1]) == unchanged_now and unchanged()


@pytest.mark.mongo
def test_a_never_migrated_database_is_named_so(
    seeded: tuple[sa.Engine, Any], tmp_path: Path, empty_db_url: str
) -> None:
    engine, _ = seeded
    snapshot.save("portable", directory=tmp_path, engine=engine)
    fresh = sa.create_engine(empty_db_url)
    try:
        with pytest.raises(SnapshotError) as err:
            snapshot.restore("portable", directory=tmp_path, engine=fresh)
    finally:
        fresh.dispose()
    assert (
        "was taken at revision 0001, but the database is at revision none (never migrated): migrate"
        in str(err.value)
    )


@pytest.mark.mongo
def test_a_load_failure_rolls_back_the_whole_restore(
    saved_then_changed: Any, seeded: Any, tmp_path: Path
) -> None:
    path, unchanged = saved_then_changed

    def duplicate_last_row(csv: bytes) -> bytes:
        return csv + csv.splitlines(keepends=True)[-1]

    rewrite_member(path, "postgres/orders.csv", duplicate_last_row, fix_checksums=True)
    with pytest.raises(
        SnapshotError, match=r"member 'postgres/orders\.csv': cannot be loaded into table 'orders'"
    ):
        restore_golden(seeded, tmp_path)
    assert (
        unchanged()
    )  # users, organizations... were truncated and reloaded inside the rolled-back transaction


# --- any schema: cycles, identities, sequences, triggers, awkward values ------------------


AWKWARD_SCHEMA = """
CREATE SEQUENCE invoice_numbers START 1000;
CREATE SEQUENCE stamps;
CREATE TABLE teams (id int PRIMARY KEY, name text NOT NULL, captain_id int);
CREATE TABLE players (
    id int GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    team_id int NOT NULL REFERENCES teams(id),
    mentor_id int REFERENCES players(id),
    nick text, photo bytea, tags text[], profile jsonb, rating numeric(6,3), score double precision,
    joined timestamptz, pause interval, updated_by text,
    nick_upper text GENERATED ALWAYS AS (upper(nick)) STORED
);
ALTER TABLE teams ADD CONSTRAINT teams_captain FOREIGN KEY (captain_id) REFERENCES players(id);
CREATE TABLE invoices (id serial PRIMARY KEY, number int NOT NULL DEFAULT nextval('invoice_numbers'));
CREATE FUNCTION stamp() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN NEW.updated_by := 'stamp-' || nextval('stamps'); RETURN NEW; END $$;
CREATE TRIGGER stamp BEFORE INSERT OR UPDATE ON players FOR EACH ROW EXECUTE FUNCTION stamp();
"""

AWKWARD_DATA = """
INSERT INTO teams (id, name) VALUES (1, 'Reds'), (2, 'Blues, "the" best');
INSERT INTO players (team_id, mentor_id, nick, photo, tags, profile, rating, score, joined, pause) VALUES
 (1, NULL, 'ann', '\\x00ff10', ARRAY['a,b', 'c"d', NULL], '{"k": [1, 2.5, null]}', 12.345, 0.1,
  '2025-03-01 12:00:00.123456+02', '1 day 02:03:04'),
 (1, 1, '', NULL, '{}', NULL, NULL, 'NaN', NULL, NULL),
 (2, NULL, NULL, '', ARRAY['line
break'], '"text"', -0.001, 1e-300, '1999-12-31 23:59:59+00', '-3 months');
UPDATE players SET mentor_id = 3 WHERE id = 1;   -- row 1 now sits after row 3 on disk
UPDATE teams SET captain_id = 2 WHERE id = 1;
INSERT INTO invoices DEFAULT VALUES; INSERT INTO invoices DEFAULT VALUES;
SELECT nextval('invoice_numbers');
DELETE FROM invoices WHERE id = 2;
"""


@pytest.fixture
def awkward(empty_db_url: str) -> Iterator[sa.Engine]:
    engine = sa.create_engine(empty_db_url)
    with engine.begin() as conn:
        conn.exec_driver_sql(AWKWARD_SCHEMA)
        conn.exec_driver_sql(AWKWARD_DATA)
    yield engine
    engine.dispose()


def test_cycles_identities_sequences_and_triggers_round_trip(awkward: sa.Engine, tmp_path: Path) -> None:
    before = stores_fingerprint(awkward)
    with awkward.connect() as conn:
        assert conn.execute(sa.text("SELECT updated_by FROM players WHERE id = 1")).scalar_one() == "stamp-4"
    saved = snapshot.save("awkward", directory=tmp_path, engine=awkward)
    with zipfile.ZipFile(saved.path) as archive:
        counted = {
            t["name"]: t["rows"] for t in json.loads(archive.read("manifest.json"))["postgres"]["tables"]
        }
    with awkward.connect() as conn:
        actual = {t: conn.execute(sa.text(f"SELECT count(*) FROM {t}")).scalar_one() for t in counted}
    assert counted == actual == {"teams": 2, "players": 3, "invoices": 1}  # a quoted line break is one row
    with awkward.begin() as conn:
        conn.execute(sa.text("UPDATE players SET updated_by = 'restore must not fire me'"))
        conn.execute(sa.text("UPDATE teams SET captain_id = NULL"))
        conn.execute(sa.text("DELETE FROM players WHERE id = 2"))
        conn.execute(sa.text("INSERT INTO invoices DEFAULT VALUES"))
    restored = snapshot.restore("awkward", directory=tmp_path, engine=awkward)
    assert restored.revision is None
    assert stores_fingerprint(awkward) == before
    with awkward.begin() as conn:
        # sequences continue where they were when the snapshot was taken
        assert (
            conn.execute(sa.text("INSERT INTO players (team_id) VALUES (2) RETURNING id")).scalar_one() == 4
        )
        assert conn.execute(sa.text("INSERT INTO invoices DEFAULT VALUES RETURNING id, number")).one() == (
            3,
            1003,
        )
        # the trigger did not fire during the restore (each firing takes a new stamp), and fires again after
        assert conn.execute(sa.text("SELECT updated_by FROM players WHERE id = 4")).scalar_one() == "stamp-5"
        assert conn.execute(sa.text("SELECT captain_id FROM teams WHERE id = 1")).scalar_one() == 2


# --- Mongo types, list and delete ---------------------------------------------------------


@pytest.mark.mongo
def test_mongo_types_and_indexes_survive(mongo_db: Any, tmp_path: Path) -> None:
    mongo_db.things.create_index([("a", 1), ("b.c", -1)], name="a_bc", unique=True, sparse=True)
    document = {
        "_id": 1,
        "money": Decimal128(Decimal("12.30")),
        "big": Int64(5),
        "small": 5,
        "at": datetime(2025, 1, 2, 3, 4, 5, 678000, tzinfo=UTC),
        "nested": {"list": [1.5, None, "x"]},
    }
    mongo_db.things.insert_one(document)
    before = fingerprint(mongo=mongo_db)
    snapshot.save("m", directory=tmp_path, mongo=mongo_db)
    mongo_db.things.drop()
    snapshot.restore("m", directory=tmp_path, mongo=mongo_db)
    assert fingerprint(mongo=mongo_db) == before
    restored = mongo_db.things.find_one({"_id": 1})
    assert restored == document and type(restored["big"]) is Int64 and type(restored["small"]) is int
    assert mongo_db.things.index_information()["a_bc"]["unique"] is True


@pytest.mark.mongo
def test_list_and_delete(seeded: tuple[sa.Engine, Any], tmp_path: Path) -> None:
    engine, mongo_db = seeded
    snapshot.save("b-second", directory=tmp_path, engine=engine)
    snapshot.save("a-first", directory=tmp_path, engine=engine, mongo=mongo_db)
    (tmp_path / "broken.seedkit.zip").write_bytes(b"not a zip")
    listed = snapshot.list_snapshots(tmp_path)
    assert [s.name for s in listed] == ["a-first", "b-second", "broken"]
    first = listed[0]
    assert (
        first.revision == ("0001",) and first.tables == 6 and first.collections == 2 and first.documents == 9
    )
    assert first.rows == sum(p.count for k, p in stores_fingerprint(engine).parts.items())
    assert first.size == first.path.stat().st_size and first.created is not None
    assert listed[2].error is not None and "unreadable" in listed[2].error
    snapshot.delete("b-second", directory=tmp_path)
    assert [s.name for s in snapshot.list_snapshots(tmp_path)] == ["a-first", "broken"]
    with pytest.raises(SnapshotError, match=r"'nope' not found .*snapshots there: a-first, broken"):
        snapshot.delete("nope", directory=tmp_path)
    with pytest.raises(SnapshotError, match="invalid snapshot name"):
        snapshot.save("../escape", directory=tmp_path, engine=engine)
