"""Every application schema and table kind: reflection and the features built on it.

A second schema, a partitioned table, identity and generated columns, a table without a primary
key, an unlogged table, a ``nextval`` default on a shared sequence, and a view that is left alone.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from test_packs_support import write_pack

from seedkit.core.determinism import deterministic
from seedkit.core.ids import label_int
from seedkit.errors import PackError
from seedkit.packs import apply_packs, resolve_packs
from seedkit.stores.fingerprint import fingerprint
from seedkit.stores.schema import application_schemas, reflect_schema
from seedkit.stores.truncate import truncate_tables, used_tables

APP_DDL = (
    "CREATE SCHEMA billing",
    "CREATE TABLE customers (id serial PRIMARY KEY, name text NOT NULL)",
    "CREATE TABLE billing.accounts (id int GENERATED ALWAYS AS IDENTITY PRIMARY KEY,"
    " customer_id int NOT NULL REFERENCES customers(id), label text NOT NULL)",
    "CREATE TABLE billing.invoices (id bigint NOT NULL, issued date NOT NULL,"
    " account_id int NOT NULL REFERENCES billing.accounts(id), amount numeric(10, 2) NOT NULL,"
    " doubled numeric(12, 2) GENERATED ALWAYS AS (amount * 2) STORED,"
    " PRIMARY KEY (id, issued)) PARTITION BY RANGE (issued)",
    "CREATE TABLE billing.invoices_2025 PARTITION OF billing.invoices"
    " FOR VALUES FROM ('2025-01-01') TO ('2026-01-01')",
    "CREATE TABLE billing.invoices_2026 PARTITION OF billing.invoices"
    " FOR VALUES FROM ('2026-01-01') TO ('2027-01-01')",
    "CREATE SEQUENCE shared_numbers",
    "CREATE TABLE notes (body text NOT NULL, n int NOT NULL DEFAULT nextval('shared_numbers'))",
    "CREATE UNLOGGED TABLE cache_entries (key text PRIMARY KEY, value text)",
    "CREATE VIEW big_customers AS SELECT * FROM customers",
    "CREATE TABLE alembic_version (version_num varchar(32) PRIMARY KEY)",
)


@pytest.fixture
def app(empty_db_url: str) -> Iterator[sa.Engine]:
    engine = sa.create_engine(empty_db_url)
    with engine.begin() as conn:
        for statement in APP_DDL:
            conn.execute(sa.text(statement))
    yield engine
    engine.dispose()


def sql(engine: sa.Engine, *statements: str) -> list[Any]:
    with engine.begin() as conn:
        result: list[Any] = []
        for statement in statements:
            cursor = conn.execute(sa.text(statement))
            result = list(cursor) if cursor.returns_rows else []
        return result


def test_reflection_finds_every_application_schema_and_table_kind(app: sa.Engine) -> None:
    assert application_schemas(app) == ("public", "billing")
    info = reflect_schema(app)
    assert list(info.tables) == [
        "billing.accounts",
        "billing.invoices",
        "cache_entries",
        "customers",
        "notes",
    ]  # no partitions, no view, no alembic_version
    invoices = info.tables["billing.invoices"]
    assert (invoices.schema, invoices.name, invoices.kind) == ("billing", "invoices", "partitioned")
    assert invoices.qualified == '"billing"."invoices"'
    assert invoices.columns["doubled"].generated and "doubled" not in invoices.writable_columns
    assert [fk.referred_table for fk in invoices.foreign_keys] == ["billing.accounts"]
    accounts = info.tables["billing.accounts"]
    assert accounts.columns["id"].identity == "always"
    assert accounts.sequences == {"id": '"billing"."accounts_id_seq"'}
    assert [fk.referred_table for fk in accounts.foreign_keys] == ["customers"]
    assert info.tables["customers"].sequences == {"id": '"public"."customers_id_seq"'}
    assert info.tables["notes"].primary_key == () and info.tables["notes"].sequences == {
        "n": '"public"."shared_numbers"'
    }
    assert info.tables["cache_entries"].unlogged
    only_billing = reflect_schema(app, "billing")
    assert list(only_billing.tables) == ["accounts", "invoices"]


def test_fingerprint_covers_every_schema_and_partition_rows(app: sa.Engine) -> None:
    sql(
        app,
        "INSERT INTO customers (name) VALUES ('a')",
        "INSERT INTO billing.accounts (customer_id, label) VALUES (1, 'main')",
        "INSERT INTO billing.invoices VALUES (1, '2025-03-01', 1, 10), (2, '2026-03-01', 1, 20)",
    )
    with app.connect() as conn:
        before = fingerprint(conn)
    assert before.parts["pg:billing.invoices"].count == 2
    assert "pg:billing.invoices_2026" not in before.parts
    sql(app, "UPDATE billing.invoices SET amount = 21 WHERE id = 2")
    with app.connect() as conn:
        after = fingerprint(conn)
    assert after.parts["pg:billing.invoices"] != before.parts["pg:billing.invoices"]
    assert after.parts["pg:customers"] == before.parts["pg:customers"]


def test_truncate_empties_every_schema_and_restarts_every_sequence_it_uses(app: sa.Engine) -> None:
    sql(
        app,
        "INSERT INTO customers (name) VALUES ('a')",
        "INSERT INTO billing.accounts (customer_id, label) VALUES (1, 'main')",
        "INSERT INTO billing.invoices VALUES (1, '2025-03-01', 1, 10)",
        "INSERT INTO notes (body) VALUES ('x'), ('y')",
    )
    with app.begin() as conn:
        assert set(used_tables(conn, list(reflect_schema(conn).tables))) == {
            "billing.accounts",
            "billing.invoices",
            "customers",
            "notes",
        }
        truncate_tables(conn)
    assert sql(app, "SELECT count(*) FROM billing.invoices_2025") == [(0,)]
    assert sql(app, "SELECT count(*) FROM billing.accounts") == [(0,)]
    assert sql(app, "INSERT INTO notes (body) VALUES ('z') RETURNING n") == [(1,)]
    assert sql(app, "INSERT INTO customers (name) VALUES ('b') RETURNING id") == [(1,)]
    with app.begin() as conn:
        assert used_tables(conn, list(reflect_schema(conn).tables)) == ["customers", "notes"]


def load(engine: sa.Engine, root: Path, name: str) -> dict[str, int]:
    with deterministic(0, start="2025-06-01T12:00:00Z") as context, engine.connect() as conn:
        return apply_packs(resolve_packs([name], [root]), connection=conn, mongo=None, context=context)


def test_pack_names_a_table_outside_public_by_its_qualified_name(tmp_path: Path, app: sa.Engine) -> None:
    write_pack(
        tmp_path,
        "books",
        {
            "customers.yaml": """
                acme:
                  name: Acme
            """,
            "billing.accounts.yaml": """
                main:
                  customer_id: "@customers.acme"
                  label: Main
            """,
            "billing.invoices.yaml": """
                march:
                  id: 1
                  issued: 2025-03-01
                  account_id: "@billing.accounts.main"
                  amount: 12.50
            """,
        },
    )
    counts = load(app, tmp_path, "books")
    assert counts == {"pg:customers": 1, "pg:billing.accounts": 1, "pg:billing.invoices": 1}
    account_id = label_int("billing.accounts", "main")
    assert sql(app, "SELECT account_id, doubled FROM billing.invoices_2025") == [
        (account_id, pytest.approx(25))
    ]


def test_ambiguous_dotted_reference_is_refused(tmp_path: Path, app: sa.Engine) -> None:
    sql(app, "CREATE TABLE billing (id int PRIMARY KEY)")
    sql(app, "CREATE TABLE billing.x (id int PRIMARY KEY, ref int)")
    write_pack(
        tmp_path,
        "amb",
        {
            "billing.yaml": """
                accounts.main:
                  id: 1
            """,
            "customers.yaml": """
                acme:
                  name: Acme
            """,
            "billing.accounts.yaml": """
                main:
                  customer_id: "@customers.acme"
                  label: Main
            """,
            "billing.x.yaml": """
                one:
                  ref: "@billing.accounts.main"
            """,
        },
    )
    with pytest.raises(PackError, match=r"ambiguous reference @billing\.accounts\.main"):
        load(app, tmp_path, "amb")


def test_portable_snapshot_of_a_schema_with_a_partitioned_table_round_trips(
    tmp_path: Path, app: sa.Engine
) -> None:
    from seedkit.snapshots import api as snapshot

    sql(
        app,
        "INSERT INTO customers (name) VALUES ('a')",
        "INSERT INTO billing.accounts (customer_id, label) VALUES (1, 'main')",
        "INSERT INTO billing.invoices VALUES (1, '2025-03-01', 1, 10), (2, '2026-03-01', 1, 20)",
    )
    with app.connect() as conn:
        before = fingerprint(conn, schema="billing")
    snapshot.save("billing", directory=tmp_path, engine=app, schema="billing")  # COPY TO refused the parent
    sql(app, "DELETE FROM billing.invoices WHERE id = 2", "UPDATE billing.invoices SET amount = 99")
    snapshot.restore("billing", directory=tmp_path, engine=app, schema="billing")
    with app.connect() as conn:
        assert fingerprint(conn, schema="billing") == before
    assert sql(app, "SELECT id, doubled FROM billing.invoices_2026") == [(2, 40)]


def test_the_schemas_setting_limits_what_seedkit_looks_at(tmp_path: Path, app: sa.Engine) -> None:
    from seedkit.seeding.config import load_settings
    from seedkit.seeding.runner import existing_data
    from seedkit.stores.mongo import connect

    config = tmp_path / "seedkit.toml"
    config.write_text('schemas = ["billing"]\nkeep_tables = ["accounts"]\n')
    settings = load_settings(config)
    assert (settings.schemas, settings.keep_tables) == (("billing",), ("accounts",))
    sql(
        app,
        "INSERT INTO customers (name) VALUES ('a')",
        "INSERT INTO billing.accounts (customer_id, label) VALUES (1, 'main')",
    )
    mongo = connect(None, "schemas_test")
    with app.connect() as conn:
        assert existing_data(conn, mongo)["tables"] == ["billing.accounts", "customers"]
        assert existing_data(conn, mongo, schemas=settings.schemas)["tables"] == ["accounts"]
        assert existing_data(conn, mongo, settings.keep_tables, settings.schemas)["tables"] == []
