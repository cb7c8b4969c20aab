"""Schema-driven generation (issue #10) on a schema with the hard parts (tests/generate_schema.sql).

Every constraint is enforced by PostgreSQL itself: a row that broke one would fail the COPY or
the commit. The tests check what the database cannot: counts, that keys are actually filled,
distributions, determinism across seeds and worker counts, and that bad input is refused
before anything is written.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from seedkit.errors import ConfigError
from seedkit.generate import Existing, PerParent, TableVolume, generate, plan_tables
from seedkit.generate.providers import Integers

SCHEMA = (Path(__file__).parent / "generate_schema.sql").read_text()
BASE = datetime(2025, 1, 1, tzinfo=UTC)
TABLES = (
    "teams",
    "users",
    "categories",
    "challenges",
    "submissions",
    "people",
    "judges",
    "billing.invoices",
)


def volumes(users: int = 120) -> list[TableVolume]:
    return [
        TableVolume("users", users, {"team_id": PerParent(3, 5)}),
        TableVolume("teams", users // 4),
        TableVolume("categories", 25),
        TableVolume("challenges", 30),
        TableVolume("submissions", users * 3),
        TableVolume("people", 40),
        TableVolume("judges", 15),
        TableVolume("billing.invoices", users),
    ]


@pytest.fixture
def hack_url(empty_db_url: str) -> Iterator[str]:
    """A database with tests/generate_schema.sql applied and no rows."""
    engine = sa.create_engine(empty_db_url)
    with engine.begin() as conn:
        conn.exec_driver_sql(SCHEMA)
    engine.dispose()
    yield empty_db_url


def run(url: str, vols: list[TableVolume], *, seed: int = 3, **options: Any) -> dict[str, int]:
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            plan = plan_tables(conn, vols, seed=seed)
            conn.commit()
            with conn.begin():
                written = generate(conn, plan, base=BASE, **options)
        return dict(written)
    finally:
        engine.dispose()


def count(url: str, table: str) -> int:
    engine = sa.create_engine(url)
    with engine.connect() as conn:
        schema, _, name = table.rpartition(".")
        total = conn.exec_driver_sql(f'SELECT count(*) FROM "{schema or "public"}"."{name}"').scalar_one()
    engine.dispose()
    return int(total)


def digest(url: str) -> str:
    """A hash of every generated table's rows, in key order (all schemas)."""
    engine = sa.create_engine(url)
    hasher = hashlib.sha256()
    with engine.connect() as conn:
        for table in TABLES:
            schema, _, name = table.rpartition(".")
            rows = conn.exec_driver_sql(
                f'SELECT t::text FROM "{schema or "public"}"."{name}" AS t ORDER BY 1'
            ).scalars()
            for row in rows:
                hasher.update(row.encode())
    engine.dispose()
    return hasher.hexdigest()


def query(url: str, sql: str) -> list[Any]:
    engine = sa.create_engine(url)
    with engine.connect() as conn:
        rows = list(conn.exec_driver_sql(sql).all())
    engine.dispose()
    return rows


def test_every_table_gets_its_count_and_the_database_accepts_every_row(hack_url: str) -> None:
    written = run(hack_url, volumes(120))
    expected = {v.table: v.count for v in volumes(120)}
    assert written == expected
    for table, number in expected.items():
        assert count(hack_url, table) == number
    # The captain cycle was closed by UPDATE: every team has a captain who is a user.
    assert query(hack_url, "SELECT count(*) FROM teams WHERE captain_id IS NULL") == [(0,)]
    # 3-5 users per team, for the teams that have users; no team has more than 5.
    per_team = [n for (n,) in query(hack_url, "SELECT count(*) FROM users GROUP BY team_id")]
    assert max(per_team) <= 5 and min(per_team) >= 3
    # The category tree has roots and children, children pointing at earlier rows.
    roots, children = query(
        hack_url, "SELECT count(*) FILTER (WHERE parent_id IS NULL), count(parent_id) FROM categories"
    )[0]
    assert roots >= 1 and children >= 1
    # Joined-table inheritance: every judge is a distinct person.
    assert query(hack_url, "SELECT count(*) FROM judges j JOIN people p ON p.id = j.id") == [(15,)]
    # Foreign keys are filled, and point at rows of this run.
    assert query(
        hack_url, "SELECT count(DISTINCT challenge_id) > 1, count(DISTINCT user_id) > 1 FROM submissions"
    )[0] == (True, True)
    # Partitioned table in another schema: every row has a partition, both partitions get rows.
    spread = query(
        hack_url, "SELECT tableoid::regclass::text, count(*) FROM billing.invoices GROUP BY 1 ORDER BY 1"
    )
    assert [name for name, _ in spread] == ["billing.invoices_2024", "billing.invoices_2025"]
    assert sum(n for _, n in spread) == 120
    # Values follow names and CHECKs: emails from the row's names, created_at <= updated_at.
    email, first, last = query(hack_url, "SELECT email, first_name, last_name FROM users LIMIT 1")[0]
    assert email.startswith(f"{first.lower()}.{last.lower()}".replace(" ", "").replace("'", ""))
    assert query(hack_url, "SELECT bool_and(created_at <= updated_at) FROM teams") == [(True,)]


def test_identity_and_serial_sequences_continue_after_the_generated_rows(hack_url: str) -> None:
    run(hack_url, volumes(40))
    engine = sa.create_engine(hack_url)
    with engine.begin() as conn:
        team = conn.exec_driver_sql(
            "INSERT INTO teams (name, slug, size_limit, created_at, updated_at) "
            "VALUES ('late', 'late', 3, now(), now()) RETURNING id"
        ).scalar_one()
        category = conn.exec_driver_sql(
            "INSERT INTO categories (name) VALUES ('x') RETURNING id"
        ).scalar_one()
    engine.dispose()
    assert team == 11 and category == 26


def test_the_same_seed_gives_the_same_rows_for_any_number_of_workers(
    hack_url: str, pg_server_url: str, request: pytest.FixtureRequest
) -> None:
    from conftest import create_database, drop_database

    names = [f"test_gen_{request.node.name[-8:]}_{i}".lower() for i in range(3)]
    urls = []
    try:
        for name in names:
            url = create_database(pg_server_url, name)
            engine = sa.create_engine(url)
            with engine.begin() as conn:
                conn.exec_driver_sql(SCHEMA)
            engine.dispose()
            urls.append(url)
        run(hack_url, volumes(100), partition_size=70)
        run(urls[0], volumes(100), partition_size=70, workers=2)
        run(urls[1], volumes(100), partition_size=70, seed=4)
        run(urls[2], volumes(100), partition_size=71)
        assert digest(hack_url) == digest(urls[0])
        assert digest(urls[1]) != digest(hack_url)  # another seed, other data
        assert digest(urls[2]) != digest(hack_url)  # the partition size shapes the data
    finally:
        for name in names:
            drop_database(pg_server_url, name)


def test_overrides_constant_choice_range_and_function(hack_url: str) -> None:
    run(
        hack_url,
        [
            TableVolume("teams", 10, {"slug": "fixed", "size_limit": [2, 3]}),
            TableVolume(
                "users",
                30,
                {
                    "status": "banned",
                    "age": Integers(30, 31),
                    "handle": lambda rng: f"h{rng.randint(100, 999)}",
                },
            ),
        ],
    )
    assert query(hack_url, "SELECT DISTINCT slug FROM teams") == [("fixed",)]
    assert {n for (n,) in query(hack_url, "SELECT DISTINCT size_limit FROM teams")} <= {2, 3}
    assert query(hack_url, "SELECT DISTINCT status FROM users") == [("banned",)]
    assert {n for (n,) in query(hack_url, "SELECT DISTINCT age FROM users")} <= {30, 31}
    assert all(h.startswith("h") and len(h) == 4 for (h,) in query(hack_url, "SELECT handle FROM users"))


@pytest.mark.parametrize(
    ("vols", "message"),
    [
        (
            [TableVolume("usres", 3)],
            r"volumes\[0\]: table 'usres' does not exist in the database \(did you mean 'users'\?\)",
        ),
        ([TableVolume("billing.invoice", 3)], r"did you mean 'billing.invoices'\?"),
        (
            [TableVolume("teams", 3), TableVolume("users", 3, {"emial": "x"})],
            r"volumes\[1\] \(table users\): override of unknown column 'emial' \(did you mean 'email'\?\)",
        ),
        (
            [TableVolume("teams", 3, {"size_limit": "big"})],
            r"column size_limit \(smallint\): 'big' is not a valid value",
        ),
        (
            [TableVolume("users", 3, {"role": "boss"}), TableVolume("teams", 1)],
            r"column role \(member_role\): 'boss'",
        ),
        (
            [TableVolume("teams", 3), TableVolume("users", 100, {"team_id": PerParent(3, 5)})],
            r"100 rows cannot have 3-5 per teams row: its volume has 3 \(at most 15\)",
        ),
        (
            [TableVolume("people", 5), TableVolume("judges", 6)],
            r"primary key \(id\): only 5 distinct combinations",
        ),
        ([TableVolume("teams", 2), TableVolume("teams", 3)], r"table 'teams' has two volumes"),
    ],
)
def test_bad_input_is_one_line_and_nothing_is_written(
    hack_url: str, vols: list[TableVolume], message: str
) -> None:
    with pytest.raises(ConfigError, match=message) as error:
        run(hack_url, vols)
    assert "\n" not in str(error.value)
    for table in TABLES:
        assert count(hack_url, table) == 0


@pytest.mark.parametrize("bad", [0, -2, "ten", True, 2.5])
def test_a_count_that_is_not_a_positive_whole_number_is_refused(bad: Any) -> None:
    with pytest.raises(ConfigError, match=rf"table 'users': count {bad!r} is not a positive whole number"):
        TableVolume("users", bad)


def test_a_count_beyond_the_largest_is_refused() -> None:
    TableVolume("users", 2**31 - 1)  # the largest is accepted
    with pytest.raises(
        ConfigError, match=r"table 'users': count 2147483648 is more than the largest count, 2147483647$"
    ):
        TableVolume("users", 2**31)


CYCLE = """
CREATE TABLE a (id integer PRIMARY KEY, b_id integer NOT NULL);
CREATE TABLE b (id integer PRIMARY KEY, a_id integer NOT NULL REFERENCES a (id));
ALTER TABLE a ADD CONSTRAINT a_b_fkey FOREIGN KEY (b_id) REFERENCES b (id) {deferrable};
"""


def test_a_not_null_cycle_that_is_not_deferrable_is_refused_naming_it(empty_db_url: str) -> None:
    engine = sa.create_engine(empty_db_url)
    with engine.begin() as conn:
        conn.exec_driver_sql(CYCLE.format(deferrable=""))
    engine.dispose()
    with pytest.raises(ConfigError) as error:
        run(empty_db_url, [TableVolume("a", 3), TableVolume("b", 3)])
    assert str(error.value) == (
        "foreign-key cycle a -> b -> a (a_b_fkey, b_a_id_fkey): every key in it is NOT NULL and not deferrable, "
        "so no row can be inserted first; make one of them nullable or DEFERRABLE"
    )


def test_a_not_null_cycle_through_a_deferrable_key_is_inserted_then_updated(empty_db_url: str) -> None:
    engine = sa.create_engine(empty_db_url)
    with engine.begin() as conn:
        conn.exec_driver_sql(CYCLE.format(deferrable="DEFERRABLE INITIALLY IMMEDIATE"))
    engine.dispose()
    assert run(empty_db_url, [TableVolume("a", 7), TableVolume("b", 4)]) == {"a": 7, "b": 4}
    assert query(empty_db_url, "SELECT count(*) FROM a JOIN b ON b.id = a.b_id") == [(7,)]


UNSATISFIABLE = """
CREATE TABLE odd (id integer PRIMARY KEY, n integer NOT NULL CONSTRAINT odd_n_range CHECK (n > 5 AND n < 3));
CREATE TABLE mod (id integer PRIMARY KEY, n integer NOT NULL CONSTRAINT mod_n_even CHECK (n % 2 = 0 AND n > 10000));
"""


@pytest.mark.parametrize(
    ("table", "message"),
    [
        (
            "odd",
            r"volumes\[0\] \(table odd\): column n: CHECK odd_n_range leaves no possible value; override the column "
            r"\(columns = \{ n = \.\.\. \}\)",
        ),
        (
            "mod",
            r"table mod: generated rows break CHECK constraint mod_n_even "
            r"\(CHECK \(\(\(\(n % 2\) = 0\) AND \(n > 10000\)\)\)\) in \d+ of 5 tries; override n",
        ),
    ],
)
def test_an_unsatisfiable_check_is_refused_before_anything_is_written(
    empty_db_url: str, table: str, message: str
) -> None:
    engine = sa.create_engine(empty_db_url)
    with engine.begin() as conn:
        conn.exec_driver_sql(UNSATISFIABLE.replace("%", "%%"))
    engine.dispose()
    with pytest.raises(ConfigError, match=message):
        run(empty_db_url, [TableVolume(table, 5)])
    assert count(empty_db_url, table) == 0


def test_existing_refers_only_to_rows_that_were_there_before_generation(hack_url: str) -> None:
    engine = sa.create_engine(hack_url)
    with engine.begin() as conn:  # what a pack would have loaded: two labelled challenges
        conn.exec_driver_sql("INSERT INTO categories (id, name) VALUES (500, 'packed')")
        conn.exec_driver_sql(
            "INSERT INTO challenges (id, category_id, title, points) VALUES "
            "('00000000-0000-4000-8000-000000000001', 500, 'easy', 1), "
            "('00000000-0000-4000-8000-000000000002', 500, 'hard', 9)"
        )
    engine.dispose()
    run(
        hack_url,
        [
            TableVolume("teams", 5),
            TableVolume("users", 20),
            TableVolume("challenges", 10),
            TableVolume("submissions", 60, {"challenge_id": Existing()}),
        ],
    )
    assert count(hack_url, "challenges") == 12
    used = {str(c) for (c,) in query(hack_url, "SELECT DISTINCT challenge_id FROM submissions")}
    assert used == {"00000000-0000-4000-8000-000000000001", "00000000-0000-4000-8000-000000000002"}
    # Generated challenges refer to generated categories or the packed one, whichever exist: the
    # categories table has no volume, so its existing row is the only one to refer to.
    assert query(hack_url, "SELECT DISTINCT category_id FROM challenges") == [(500,)]


BOUNDED = """
CREATE TABLE events (
    id integer PRIMARY KEY,
    day date NOT NULL CHECK (day >= '2030-01-01' AND day < '2030-02-01'),
    at timestamptz NOT NULL CHECK (at > '2031-06-01 00:00:00+00')
);
CREATE TABLE regional (id integer, region text NOT NULL, PRIMARY KEY (id, region)) PARTITION BY LIST (region);
CREATE TABLE regional_eu PARTITION OF regional FOR VALUES IN ('eu', 'uk');
CREATE TABLE regional_us PARTITION OF regional FOR VALUES IN ('us');
"""


def test_date_bounds_and_list_partitions_are_satisfied_by_construction(empty_db_url: str) -> None:
    engine = sa.create_engine(empty_db_url)
    with engine.begin() as conn:
        conn.exec_driver_sql(BOUNDED)
    engine.dispose()
    assert run(empty_db_url, [TableVolume("events", 200), TableVolume("regional", 90)]) == {
        "events": 200,
        "regional": 90,
    }
    low, high, first = query(empty_db_url, "SELECT min(day), max(day), min(at) FROM events")[0]
    assert str(low) >= "2030-01-01" and str(high) < "2030-02-01" and first.year == 2031
    assert {r for (r,) in query(empty_db_url, "SELECT DISTINCT region FROM regional")} == {"eu", "uk", "us"}


def test_a_unique_foreign_key_skips_parents_already_used_in_the_table(empty_db_url: str) -> None:
    engine = sa.create_engine(empty_db_url)
    with engine.begin() as conn:
        conn.exec_driver_sql(
            "CREATE TABLE appointments (id int PRIMARY KEY);"
            "CREATE TABLE invoices (id serial PRIMARY KEY,"
            " appointment_id int NOT NULL UNIQUE REFERENCES appointments);"
            "INSERT INTO appointments SELECT generate_series(1, 20);"
            "INSERT INTO invoices (appointment_id) SELECT generate_series(1, 15);"  # written before
        )
    engine.dispose()
    run(empty_db_url, [TableVolume("invoices", 5)])
    used = [row[0] for row in query(empty_db_url, "SELECT appointment_id FROM invoices ORDER BY 1")]
    assert used == list(range(1, 21))
    with pytest.raises(ConfigError) as error:
        run(empty_db_url, [TableVolume("invoices", 1)])
    assert str(error.value) == (
        "table invoices: unique constraint invoices_appointment_id_key (appointment_id): appointments has 20 rows, "
        "20 already used by invoices, 1 more asked for"
    )
    assert count(empty_db_url, "invoices") == 20
