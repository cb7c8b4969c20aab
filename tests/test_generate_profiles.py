"""Table volumes in profiles: `seedkit seed` on a project whose schema seedkit did not create (issue #10)."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest
import sqlalchemy as sa
from test_cli import assert_one_error_line, run_cli
from test_generate import SCHEMA, TABLES, count, digest

from seedkit.errors import ConfigError
from seedkit.seeding.config import load_settings

USERS = (
    '{ table = "users", count = 120, columns = { team_id = { per_parent = "2-6" }, '
    'status = { choice = ["active", "banned"], weights = [3, 1] } } }'
)
CONFIG = f"""
    [profiles.hack]
    seed = 11
    migrate = false
    volumes = [
      {{ table = "teams", count = 30 }},
      {USERS},
      {{ table = "categories", count = 12 }},
      {{ table = "challenges", count = 20 }},
      {{ table = "submissions", count = 300 }},
      {{ table = "people", count = 10 }},
      {{ table = "judges", count = 4 }},
      {{ table = "billing.invoices", count = 50, columns = {{ currency = "EUR", amount = {{ range = [10, 20] }} }} }},
    ]
"""


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "seedkit.toml").write_text(textwrap.dedent(CONFIG).lstrip())
    return tmp_path


def with_schema(url: str) -> str:
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        conn.exec_driver_sql(SCHEMA)
    engine.dispose()
    return url


def test_seed_fills_table_volumes_and_workers_give_the_same_data(
    project: Path, empty_db_url: str, pg_server_url: str
) -> None:
    from conftest import create_database, drop_database

    with_schema(empty_db_url)
    seeded = run_cli("seed", "--profile", "hack", "--database-url", empty_db_url, "--json", cwd=project)
    assert seeded.returncode == 0, seeded.stderr
    report = json.loads(seeded.stdout)
    assert report["rows"]["users"] == 120 and report["rows"]["submissions"] == 300
    assert count(empty_db_url, "billing.invoices") == 50
    engine = sa.create_engine(empty_db_url)
    with engine.connect() as conn:
        statuses = {s for (s,) in conn.exec_driver_sql("SELECT DISTINCT status FROM users")}
        amounts = conn.exec_driver_sql(
            "SELECT min(amount), max(amount), min(currency) FROM billing.invoices"
        ).one()
    engine.dispose()
    assert statuses == {"active", "banned"}
    assert 10 <= amounts[0] <= amounts[1] <= 20 and amounts[2] == "EUR"

    other = create_database(pg_server_url, "test_gen_profile_workers")
    try:
        with_schema(other)
        parallel = run_cli(
            "seed", "--profile", "hack", "--database-url", other, "--workers", "2", "--json", cwd=project
        )
        assert parallel.returncode == 0, parallel.stderr
        assert json.loads(parallel.stdout)["fingerprint"] == report["fingerprint"]
        assert digest(other) == digest(empty_db_url)
    finally:
        drop_database(pg_server_url, "test_gen_profile_workers")


def test_an_unknown_table_in_a_profile_is_one_line_and_nothing_is_written(
    project: Path, empty_db_url: str
) -> None:
    config = project / "seedkit.toml"
    config.write_text(config.read_text().replace('table = "challenges"', 'table = "challenge"'))
    with_schema(empty_db_url)
    seeded = run_cli("seed", "--profile", "hack", "--database-url", empty_db_url, cwd=project)
    assert_one_error_line(
        seeded,
        r"profile 'hack', volumes\[3\]: table 'challenge' does not exist in the database "
        r"\(did you mean 'challenges'\?\)$",
    )
    assert seeded.returncode == 2
    for table in TABLES:
        assert count(empty_db_url, table) == 0


@pytest.mark.parametrize(
    ("before", "after", "reason"),
    [
        (
            "count = 12 }",
            "count = 0 }",
            r"volumes\[2\] \(table categories\) count: 0 is not a positive whole number",
        ),
        (
            "count = 12 }",
            'count = "many" }',
            r"volumes\[2\] \(table categories\) count: 'many' is not a whole number",
        ),
        (
            '{ per_parent = "2-6" }',
            '{ per_parent = "lots" }',
            r"volumes\[1\] \(table users\): columns.team_id: per_parent 'lots' is not a number of children",
        ),
        (
            "weights = [3, 1]",
            "weights = [3]",
            r"volumes\[1\] \(table users\): columns.status: weights needs one number >= 0 per choice \(2\)",
        ),
        ('currency = "EUR"', "currency = { choose = 1 }", r"columns.currency: unknown key\(s\) choose"),
        (
            "range = [10, 20]",
            "range = [20, 10]",
            r"columns.amount: range needs \[low, high\] with low <= high",
        ),
    ],
)
def test_a_bad_table_volume_names_the_file_profile_volume_and_column(
    project: Path, before: str, after: str, reason: str
) -> None:
    config = project / "seedkit.toml"
    config.write_text(config.read_text().replace(before, after, 1))
    with pytest.raises(ConfigError, match=reason) as error:
        load_settings(config)
    assert str(error.value).startswith(f"{config}: profile 'hack': ")


def test_plan_shows_the_insert_order_generators_cycles_and_what_is_not_generated(
    project: Path, empty_db_url: str
) -> None:
    with_schema(empty_db_url)
    engine = sa.create_engine(empty_db_url)
    with engine.begin() as conn:
        conn.exec_driver_sql(
            "CREATE TABLE shapes (id integer PRIMARY KEY, spot point, "
            "words tsvector GENERATED ALWAYS AS (to_tsvector('simple', 'x')) STORED)"
        )
    engine.dispose()
    shown = run_cli("plan", "--profile", "hack", "--database-url", empty_db_url, "--json", cwd=project)
    assert shown.returncode == 0, shown.stderr
    result = json.loads(shown.stdout)
    order = [t["table"] for t in result["tables"]]
    assert order.index("teams") < order.index("users") < order.index("submissions")
    assert order.index("people") < order.index("judges")
    teams = {c["column"]: c for c in result["tables"][order.index("teams")]["columns"]}
    assert teams["captain_id"]["generator"] == "NULL at insert, then a key of users by UPDATE"
    assert teams["size_limit"]["generator"] == "integer 2..8"
    assert "teams_size_limit_check" in teams["size_limit"]["why"]
    users = {c["column"]: c for c in result["tables"][order.index("users")]["columns"]}
    assert users["team_id"]["generator"] == "key of teams (2-6 per parent)"
    assert users["email"]["why"] == "unique (unique constraint users_email_live)"
    assert result["cycles"] == [
        {
            "table": "teams",
            "foreign_key": "teams_captain_id_fkey",
            "columns": ["captain_id"],
            "references": "users",
            "broken_by": "inserted NULL, set by UPDATE once the referenced rows exist",
        }
    ]
    for table in TABLES:  # plan writes nothing
        assert count(empty_db_url, table) == 0

    everything = run_cli("plan", "--database-url", empty_db_url, cwd=project)
    assert everything.returncode == 0, everything.stderr
    assert "insert order (9 tables):" in everything.stdout
    assert "shapes.spot: NULL (type point cannot be generated)" in everything.stdout
    assert (
        "shapes.words: computed by the database (GENERATED ALWAYS AS) (generated column)" in everything.stdout
    )
    assert "teams.captain_id -> users (teams_captain_id_fkey): inserted NULL" in everything.stdout
