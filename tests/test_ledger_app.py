"""An application outside the reference domain (tests/ledger_app): every promise holds on it.

The ledger has a second schema (``billing``), a serial key, a ``GENERATED ALWAYS`` identity key,
clock defaults (``now()``, ``CURRENT_TIMESTAMP``), random defaults (``uuid.uuid4``,
``gen_random_uuid()``), a data migration (roles) and a partitioned table (invoices).
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from conftest import create_database, drop_database
from test_cli import run_cli

from seedkit.isolation import TruncateStrategy
from seedkit.seeding.config import load_settings
from seedkit.seeding.runner import seed_stores
from seedkit.stores.fingerprint import fingerprint
from seedkit.stores.mongo import connect as connect_mongo

APP = Path(__file__).resolve().parent / "ledger_app"


@pytest.fixture
def ledger(tmp_path: Path) -> Path:
    """A copy of the ledger project (commands write their state beside the configuration)."""
    shutil.copytree(APP, tmp_path / "ledger_app", ignore=shutil.ignore_patterns("__pycache__"))
    return tmp_path / "ledger_app"


@pytest.fixture
def second_db_url(pg_server_url: str) -> Iterator[str]:
    name = "ledger_second_test"
    drop_database(pg_server_url, name)
    yield create_database(pg_server_url, name)
    drop_database(pg_server_url, name)


def seed(ledger: Path, url: str, *args: str) -> dict[str, object]:
    result = run_cli("seed", "--profile", "demo", "--database-url", url, "--json", *args, cwd=ledger)
    assert result.returncode == 0, result.stderr
    report: dict[str, object] = json.loads(result.stdout)
    return report


def query(url: str, statement: str) -> list[tuple[object, ...]]:
    engine = sa.create_engine(url)
    try:
        with engine.begin() as conn:
            result = conn.execute(sa.text(statement))
            return [tuple(row) for row in result] if result.returns_rows else []
    finally:
        engine.dispose()


def test_seeded_twice_from_fresh_databases_gives_one_fingerprint(
    ledger: Path, empty_db_url: str, second_db_url: str
) -> None:
    first = seed(ledger, empty_db_url)  # the migrated roles are no obstacle: they are the baseline
    second = seed(ledger, second_db_url)
    assert first["rows"] == {
        "billing.accounts": 7,
        "billing.invoices": 7,
        "customers": 9,
        "roles": 2,
        "settings": 0,
    }
    assert first["fingerprint"] == second["fingerprint"]
    # the clock and random defaults came from the injected clock and IDs
    assert query(empty_db_url, "SELECT min(created_at) FROM customers")[0][0].year == 2025  # type: ignore[union-attr]
    assert query(empty_db_url, "SELECT count(DISTINCT token) FROM billing.accounts") == [(7,)]


def test_the_application_inserts_after_seeding(ledger: Path, empty_db_url: str) -> None:
    seed(ledger, empty_db_url)
    # serial and identity keys: the sequences were moved past every seeded key
    (customer,) = query(
        empty_db_url,
        "INSERT INTO customers (name, role_id, public_id) VALUES ('New', 2, gen_random_uuid()) RETURNING id",
    )[0]
    assert customer == 1 + max(
        row[0] for row in query(empty_db_url, "SELECT id FROM customers WHERE name <> 'New'")
    )  # type: ignore[operator]
    query(empty_db_url, f"INSERT INTO billing.accounts (customer_id) VALUES ({customer})")
    assert query(empty_db_url, "INSERT INTO roles (name) VALUES ('auditor') RETURNING id") == [(3,)]


def test_fingerprint_check_is_clean_and_names_a_leaky_factory(ledger: Path, empty_db_url: str) -> None:
    # the scratch databases go on the target's server; the target itself stays empty
    clean = run_cli("fingerprint", "--check", "--profile", "demo", "--database-url", empty_db_url, cwd=ledger)
    assert clean.returncode == 0, clean.stdout + clean.stderr
    assert "seeded twice (in two processes, PYTHONHASHSEED=1 and 2): the same data" in clean.stdout

    leaky = run_cli(
        "fingerprint", "--check", "--profile", "leaky", "--json", "--database-url", empty_db_url, cwd=ledger
    )
    assert leaky.returncode == 1, leaky.stderr
    report = json.loads(leaky.stdout)
    assert report["differing"] == ["pg:customers.*", "pg:customers.public_id"]
    assert query(empty_db_url, "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'") == [(0,)]


def test_fingerprint_check_seeds_in_processes_with_different_hash_seeds(
    ledger: Path, empty_db_url: str
) -> None:
    # a set's iteration order follows the process's string-hash salt: one process cannot see it
    (ledger / "ledger" / "sets.py").write_text(
        "import factory.fuzzy\n"
        "from ledger.factories import CustomerFactory\n\n\n"
        "class SetCustomerFactory(CustomerFactory):\n"
        '    name = factory.fuzzy.FuzzyChoice({"alpha", "beta", "gamma", "delta", "eps"})\n'
    )
    config = ledger / "seedkit.toml"
    text = config.read_text().replace('"ledger.dated"]', '"ledger.dated", "ledger.sets"]')
    config.write_text(
        text + '\n[profiles.sets]\nvolumes = [{ factory = "SetCustomerFactory", count = 12 }]\n'
    )

    result = run_cli(
        "fingerprint", "--check", "--profile", "sets", "--database-url", empty_db_url, cwd=ledger
    )
    assert result.returncode == 1, result.stdout + result.stderr
    assert "seeded twice (in two processes, PYTHONHASHSEED=1 and 2) gives different data" in result.stdout
    assert "  pg:customers.name\n" in result.stdout
    assert query(empty_db_url, "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'") == [(0,)]


def test_fingerprint_check_reports_a_seeding_error_from_its_process_in_one_line(
    ledger: Path, empty_db_url: str
) -> None:
    customers = ledger / "packs" / "base" / "customers.yaml"
    customers.write_text(customers.read_text().replace("  role_id: 1\n", "  role_id: 1\n  colour: red\n"))

    result = run_cli(
        "fingerprint", "--check", "--profile", "demo", "--database-url", empty_db_url, cwd=ledger
    )
    assert result.returncode == 2, result.stdout + result.stderr
    assert result.stderr.splitlines() == [
        "error: packs/base/customers.yaml:4, record 'acme', field 'colour': unknown column of table "
        "'customers' (columns: id, name, role_id, public_id, created_at)"
    ]
    assert query(empty_db_url, "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'") == [(0,)]


def test_truncate_strategy_returns_to_the_seeded_state_with_the_migrations_rows(
    ledger: Path, empty_db_url: str
) -> None:
    seed(ledger, empty_db_url)
    engine = sa.create_engine(empty_db_url)
    with engine.connect() as conn:
        seeded = fingerprint(conn).parts
    engine.dispose()
    settings = load_settings(ledger / "seedkit.toml")
    profile = settings.profile("demo")
    mongo = connect_mongo(None, "ledger_test")
    query(empty_db_url, "INSERT INTO settings VALUES ('plugin_version', '7')")

    def reseed(engine: sa.Engine, db: object) -> None:
        with engine.begin() as conn:
            seed_stores(settings, profile, conn, mongo)

    strategy = TruncateStrategy(empty_db_url, mongo, reseed=reseed, keep=settings.keep_tables)
    strategy.prepare()
    try:
        handle = strategy.begin()
        query(
            empty_db_url,
            "INSERT INTO customers (name, role_id, public_id) VALUES ('T', 1, gen_random_uuid())",
        )
        query(empty_db_url, "DELETE FROM billing.invoices")
        strategy.end(handle)
        with strategy.engine.connect() as conn:
            after = fingerprint(conn)
        assert query(empty_db_url, "SELECT name FROM roles ORDER BY id") == [("admin",), ("member",)]
        assert query(empty_db_url, "SELECT value FROM settings") == [("7",)]
        assert after.parts["pg:customers"].count == 9
        # everything but the kept settings row is as seeded (sequences included)
        assert {k: p for k, p in after.parts.items() if k != "pg:settings"} == {
            k: p for k, p in seeded.items() if k != "pg:settings"
        }
        assert query(empty_db_url, "INSERT INTO roles (name) VALUES ('auditor') RETURNING id") == [(3,)]
    finally:
        strategy.close()


def seed_on_day(day: str, ledger: Path, url: str, profile: str) -> dict[str, object]:
    """``seedkit seed --json`` in a process whose wall clock says ``day`` (freezegun, ticking)."""
    args = ["seed", "--profile", profile, "--database-url", url, "--json"]
    code = (
        "import runpy, sys, freezegun\n"
        f"freezegun.freeze_time({day!r}, tick=True).start()\n"
        f"sys.argv = ['seedkit', *{args!r}]\n"
        "runpy.run_module('seedkit.cli', run_name='__main__')\n"
    )
    env = {
        k: v for k, v in os.environ.items() if not k.startswith("SEEDKIT_") and k not in ("ENV", "APP_ENV")
    }
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=ledger, env=env, capture_output=True, text=True, timeout=180
    )
    assert done.returncode == 0, done.stderr
    report: dict[str, object] = json.loads(done.stdout)
    return report


def test_declarations_reading_today_see_the_injected_clock(ledger: Path, empty_db_url: str) -> None:
    result = run_cli("seed", "--profile", "today", "--database-url", empty_db_url, "--json", cwd=ledger)
    assert result.returncode == 0, result.stderr
    start = dt.datetime(2025, 6, 1, 9, 0, tzinfo=dt.UTC)  # the profile's clock_start; "today" is its day
    names = [row[0] for row in query(empty_db_url, "SELECT name FROM customers")]
    assert len(names) == 11 and all(name.endswith("listed 2025-06-01") for name in names), names
    assert all(  # Faker's past_date: within 90 days before the clock's day
        dt.date(2025, 3, 3) <= dt.date.fromisoformat(name[7:17]) < dt.date(2025, 6, 1) for name in names
    )
    # Faker's date_time_this_year ends at the clock's "now"; the stored instants are the clock's year
    (low, high) = query(empty_db_url, "SELECT min(created_at), max(created_at) FROM customers")[0]
    assert dt.datetime(2025, 1, 1, tzinfo=dt.UTC) <= low <= high <= start + dt.timedelta(minutes=5)  # type: ignore[operator]
    # Faker's date_between(-30d, today) and FuzzyDate(2025-05-01) whose end is date.today()
    (first, last) = query(empty_db_url, "SELECT min(issued), max(issued) FROM billing.invoices")[0]
    assert dt.date(2025, 5, 1) <= first <= last <= dt.date(2025, 6, 1)  # type: ignore[operator]
    # FuzzyNaiveDateTime (ends at datetime.now()) and LazyFunction(datetime.now): the clock's instants
    opened = [row[0] for row in query(empty_db_url, "SELECT opened_at FROM billing.accounts")]
    assert len(opened) == 11
    assert all(dt.datetime(2025, 1, 1) <= moment <= dt.datetime(2025, 6, 1, 9, 5) for moment in opened), (
        opened
    )  # type: ignore[operator]
    assert sum(moment >= dt.datetime(2025, 6, 1, 9) for moment in opened) >= 3  # type: ignore[operator]


def test_declarations_reading_today_give_one_fingerprint_on_different_days(
    ledger: Path, empty_db_url: str, second_db_url: str
) -> None:
    first = seed_on_day("2025-09-14 22:30:00", ledger, empty_db_url, "today")
    second = seed_on_day("2026-10-03 03:10:00", ledger, second_db_url, "today")
    assert first["fingerprint"] == second["fingerprint"]
    assert query(second_db_url, "SELECT max(issued) FROM billing.invoices")[0][0] <= dt.date(2025, 6, 1)  # type: ignore[operator]
