"""Every built-in column type round-trips through a portable snapshot byte for byte (issue #11):
the restored rows' text, under the fingerprint's fixed settings, equals the saved rows'; and a
file listing its tables in another order (files written before the save copied them in key
order listed them parents first) restores the same."""

from __future__ import annotations

import json
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from isolation_support import stores_fingerprint

from seedkit.snapshots import api as snapshot

TYPES_SCHEMA = """
CREATE TYPE pair AS (a int, b text);
CREATE DOMAIN positive AS numeric CHECK (VALUE > 0);
CREATE TYPE colour AS ENUM ('red', 'green');
CREATE TABLE kinds (
    id smallint PRIMARY KEY, i4 integer, i8 bigint, r4 real, r8 double precision, num numeric,
    num_scaled numeric(20, 6), money_ money, flag boolean, ch char(3), vc varchar(10), tx text,
    nm name, by bytea, d date, t time, ttz timetz, ts timestamp(3), tstz timestamptz, iv interval,
    u uuid, j json, jb jsonb, ip inet, net cidr, mac macaddr, mac8 macaddr8, b bit(4),
    vb varbit, pt point, ln line, seg lseg, bx box, pth path, pg polygon, ci circle,
    tsv tsvector, tsq tsquery, r4r int4range, tsr tstzrange, mr int4multirange, arr int[],
    tarr text[][], pr pair, dom positive, en colour, o oid, pl pg_lsn
);
CREATE TABLE notes (id bigint PRIMARY KEY, kind_id smallint REFERENCES kinds (id), body text);
"""

TYPES_DATA = r"""
INSERT INTO kinds VALUES
 (1, -2147483648, 9223372036854775807, 3.4028235e38, -1.7976931348623157e308, 'NaN',
  -12345678901234.123456, '-12.34', true, 'ab', 'é"x,y', E'tab\there\nnew line \\ back', 'nom',
  '\x00ff5c0a22', '4713-01-01 BC', '23:59:59.999999', '10:00:00-05:30', '2025-02-28 23:59:59.123',
  'infinity', '-178000000 years', 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', '{"b": [1, 1.0, 1e2]}',
  '{"é": null, "k": "line\nbreak", "n": 1.50}', '2001:db8::1/64',
  '10.0.0.0/8', '08:00:2b:01:02:03', '08:00:2b:01:02:03:04:05', B'1010', B'101', '(1.5,-2)',
  '{1,-1,0}', '[(0,0),(1,1)]', '(1,1),(0,0)', '[(0,0),(1,1),(2,0)]', '((0,0),(1,1),(1,0))',
  '<(0,0),2>', 'a fat:2 cat', 'fat & !rat', '[1,10)', '[2025-01-01 00:00+00,)', '{[1,3), [5,7)}',
  '{1,NULL,-3}', '{{"a,b","c\"d"},{NULL,""}}', ROW(7, 'x,"y"'), 0.5, 'green', 4294967295,
  '16/B374D848'),
 (2, NULL, NULL, '-Infinity', 5e-324, '1e-1000', NULL, NULL, false, NULL, '', '', '', '', NULL,
  NULL, NULL, NULL, '-infinity', NULL, NULL, 'null', '[]', NULL, NULL, NULL, NULL, B'0000',
  B'', NULL, NULL, NULL, NULL, NULL, NULL, NULL, '', '', 'empty', NULL, '{}', '{}', '{}',
  ROW(NULL, NULL), NULL, NULL, 0, NULL),
 (3, 0, 0, -0.0, -0.0, '-0.0', 0, 0, NULL, '   ', ' x ', NULL, NULL, NULL, '2000-02-29',
  '00:00', '00:00+14', '1970-01-01 00:00:00', '2000-01-01 00:00:00.000001+00', '1 mon -1 day',
  NULL, NULL, NULL, '::ffff:1.2.3.4', '::/0', NULL, NULL, NULL, NULL, NULL, NULL, NULL,
  NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL);
INSERT INTO notes VALUES (1, 1, 'one'), (2, 3, NULL), (3, NULL, E'\\N'), (4, 2, '\.');
"""


@pytest.fixture
def kinds(empty_db_url: str) -> Iterator[sa.Engine]:
    engine = sa.create_engine(empty_db_url)
    with engine.begin() as conn:
        conn.exec_driver_sql(TYPES_SCHEMA)
        conn.exec_driver_sql(TYPES_DATA)
    yield engine
    engine.dispose()


def row_texts(engine: sa.Engine) -> list[list[str]]:
    """Each table's rows as PostgreSQL's text, under the fingerprint's fixed settings."""
    with engine.begin() as conn:
        conn.exec_driver_sql(
            "SET LOCAL TimeZone = 'UTC'; SET LOCAL DateStyle = 'ISO, YMD'; "
            "SET LOCAL IntervalStyle = 'iso_8601'; SET LOCAL extra_float_digits = 3; "
            "SET LOCAL bytea_output = 'hex'"
        )
        return [
            [str(text) for (text,) in conn.exec_driver_sql(f"SELECT t::text FROM {table} t ORDER BY id")]
            for table in ("kinds", "notes")
        ]


def scramble(engine: sa.Engine) -> None:
    with engine.begin() as conn:
        conn.exec_driver_sql("DELETE FROM notes; UPDATE kinds SET tx = 'changed', jb = '{}'")


def test_every_built_in_type_round_trips_byte_for_byte(kinds: sa.Engine, tmp_path: Path) -> None:
    before = (row_texts(kinds), stores_fingerprint(kinds))
    saved = snapshot.save("kinds", directory=tmp_path, engine=kinds)
    assert saved.fingerprint == before[1].digest
    scramble(kinds)
    assert row_texts(kinds) != before[0]
    snapshot.restore("kinds", directory=tmp_path, engine=kinds, verify=True)
    assert (row_texts(kinds), stores_fingerprint(kinds)) == before


def test_a_file_listing_its_tables_in_another_order_restores_the_same(
    kinds: sa.Engine, tmp_path: Path
) -> None:
    from test_snapshot_load import rewrite

    before = row_texts(kinds)
    path = snapshot.save("kinds", directory=tmp_path, engine=kinds).path
    with zipfile.ZipFile(path) as archive:
        listed = [t["name"] for t in json.loads(archive.read("manifest.json"))["postgres"]["tables"]]
    assert listed == ["kinds", "notes"]

    def children_first(manifest: dict[str, Any]) -> None:
        manifest["postgres"]["tables"].reverse()

    rewrite(path, {}, children_first)
    scramble(kinds)
    snapshot.restore("kinds", directory=tmp_path, engine=kinds)
    assert row_texts(kinds) == before
