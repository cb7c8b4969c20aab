"""The changed-rows reset puts back exactly the seeded state, whatever a test committed."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
import sqlalchemy as sa
from seedkit_reference.model_factories import CustomerFactory, OrganizationFactory, ProductFactory

from seedkit.bulk import BulkSeeder
from seedkit.core.determinism import deterministic
from seedkit.isolation.changed import COPY_SCHEMA, LOG_SCHEMA, ChangedRowsStrategy
from seedkit.stores.fingerprint import fingerprint


@pytest.fixture
def seeded(db_url: str) -> Iterator[str]:
    engine = sa.create_engine(db_url)
    with engine.connect() as conn:
        conn.execute(sa.text("CREATE TABLE notes (id serial PRIMARY KEY, body text NOT NULL)"))
        conn.execute(sa.text("CREATE TABLE tags (label text NOT NULL)"))  # no primary key
        conn.execute(sa.text("INSERT INTO notes (body) VALUES ('a'), ('b'); INSERT INTO tags VALUES ('x')"))
        with deterministic(seed=21), BulkSeeder(conn) as seeder:
            seeder.create(OrganizationFactory, 2)
            seeder.create(ProductFactory, 6)
            seeder.create(CustomerFactory, 8, orders="1-2")
        conn.commit()
    engine.dispose()
    yield db_url


def fingerprint_of(url: str) -> str:
    engine = sa.create_engine(url)
    with engine.connect() as conn:
        digest = fingerprint(conn).digest
        sequence = conn.execute(sa.text("SELECT last_value, is_called FROM notes_id_seq")).one()
    engine.dispose()
    return f"{digest}:{tuple(sequence)}"


def one(conn: sa.Connection, sql: str) -> Any:
    return conn.execute(sa.text(sql)).scalar()


def inserts_parents_and_children(conn: sa.Connection) -> None:
    org = one(conn, "SELECT id FROM organizations ORDER BY id LIMIT 1")
    conn.execute(
        sa.text(
            "INSERT INTO users VALUES ('00000000-0000-4000-8000-000000000001', :org, 'new@example.com', 'New', "
            "'customer', now())"
        ),
        {"org": org},
    )
    conn.execute(
        sa.text(
            "INSERT INTO orders VALUES ('00000000-0000-4000-8000-000000000002', "
            "'00000000-0000-4000-8000-000000000001', 'pending', 'EUR', 1, 1, now(), now())"
        )
    )
    conn.execute(sa.text("INSERT INTO notes (body) VALUES ('c'), ('d')"))


def updates_and_deletes(conn: sa.Connection) -> None:
    conn.execute(
        sa.text(
            "UPDATE users SET email = 'changed@example.com' WHERE id = (SELECT id FROM users ORDER BY id LIMIT 1)"
        )
    )
    conn.execute(sa.text("UPDATE orders SET total = total + 1, status = 'cancelled'"))
    conn.execute(
        sa.text("UPDATE order_items SET id = id + 1000000 WHERE id = (SELECT min(id) FROM order_items)")
    )
    order = one(conn, "SELECT order_id FROM payments ORDER BY id LIMIT 1")
    conn.execute(sa.text("DELETE FROM payments WHERE order_id = :o"), {"o": order})
    conn.execute(sa.text("DELETE FROM order_items WHERE order_id = :o"), {"o": order})
    conn.execute(sa.text("DELETE FROM orders WHERE id = :o"), {"o": order})
    conn.execute(sa.text("UPDATE tags SET label = 'y'"))


def truncates(conn: sa.Connection) -> None:
    conn.execute(sa.text("TRUNCATE payments"))
    conn.execute(sa.text("DELETE FROM notes"))


def rolls_back(conn: sa.Connection) -> None:
    conn.execute(sa.text("INSERT INTO notes (body) VALUES ('gone')"))
    conn.execute(sa.text("DELETE FROM order_items"))
    conn.rollback()  # leaves no log entry, but the sequence moved


TESTS: list[Callable[[sa.Connection], None]] = [
    inserts_parents_and_children,
    updates_and_deletes,
    truncates,
    rolls_back,
]


def test_each_test_ends_in_the_seeded_state(seeded: str) -> None:
    expected = fingerprint_of(seeded)
    strategy = ChangedRowsStrategy(seeded)
    strategy.prepare()
    try:
        for write in [*TESTS, *TESTS]:
            handle = strategy.begin()
            other = sa.create_engine(handle.url)  # like a server under test: its own connections
            with other.connect() as conn:
                write(conn)
                if conn.in_transaction():
                    conn.commit()
            other.dispose()
            assert fingerprint_of(seeded) != expected
            strategy.end(handle)
            assert fingerprint_of(seeded) == expected, write.__name__
    finally:
        strategy.close()
    engine = sa.create_engine(seeded)
    with engine.connect() as conn:
        schemas = set(conn.execute(sa.text("SELECT nspname FROM pg_namespace")).scalars())
        triggers = one(conn, "SELECT count(*) FROM pg_trigger WHERE tgname LIKE 'seedkit_log%'")
    engine.dispose()
    assert not {LOG_SCHEMA, COPY_SCHEMA} & schemas
    assert triggers == 0


def test_only_changed_tables_are_touched(seeded: str) -> None:
    strategy = ChangedRowsStrategy(seeded)
    strategy.prepare()
    try:
        assert strategy.reset() == []
        with strategy.engine.begin() as conn:
            conn.execute(
                sa.text("UPDATE products SET name = 'x' WHERE sku = (SELECT min(sku) FROM products)")
            )
        assert strategy.reset() == ["products"]
        assert strategy.reset() == []
    finally:
        strategy.close()


BILLING = """
CREATE SCHEMA billing;
CREATE TABLE billing.users (id serial PRIMARY KEY, email text NOT NULL);  -- public.users's name too
CREATE TABLE billing.accounts (
    id integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    user_id integer NOT NULL REFERENCES billing.users (id),
    opened date NOT NULL
);
CREATE TABLE billing.invoices (
    id bigint NOT NULL, issued date NOT NULL, account_id integer NOT NULL, amount numeric(10, 2) NOT NULL,
    PRIMARY KEY (id, issued)
) PARTITION BY RANGE (issued);
CREATE TABLE billing.invoices_2025 PARTITION OF billing.invoices FOR VALUES FROM ('2025-01-01') TO ('2026-01-01');
CREATE TABLE billing.invoices_2026 PARTITION OF billing.invoices FOR VALUES FROM ('2026-01-01') TO ('2027-01-01');
CREATE TABLE billing.ledger_lines (account_id integer NOT NULL, note text);  -- no primary key
INSERT INTO billing.users (email) SELECT 'user' || n || '@example.com' FROM generate_series(1, 5) n;
INSERT INTO billing.accounts (user_id, opened) SELECT id, DATE '2025-01-01' + id FROM billing.users;
INSERT INTO billing.invoices SELECT n, DATE '2025-06-01' + n * 40, 1 + n % 5, n * 10 FROM generate_series(1, 12) n;
INSERT INTO billing.ledger_lines VALUES (1, 'opened'), (2, 'opened');
"""


def writes_into_billing(conn: sa.Connection) -> None:
    conn.execute(sa.text("INSERT INTO billing.users (email) VALUES ('new@example.com')"))
    conn.execute(sa.text("INSERT INTO billing.accounts (user_id, opened) VALUES (6, '2026-01-01')"))
    conn.execute(sa.text("UPDATE billing.users SET email = 'changed@example.com' WHERE id = 1"))
    conn.execute(sa.text("DELETE FROM billing.invoices WHERE id = 3"))  # through the parent
    conn.execute(sa.text("UPDATE billing.invoices SET amount = 0 WHERE id = 9"))
    conn.execute(sa.text("INSERT INTO billing.invoices_2026 VALUES (99, '2026-05-05', 1, 1)"))  # a partition
    conn.execute(sa.text("DELETE FROM billing.invoices_2025 WHERE id = 1"))
    conn.execute(sa.text("INSERT INTO billing.ledger_lines VALUES (3, 'x')"))
    conn.execute(
        sa.text(
            "UPDATE users SET email = 'public@example.com' WHERE id = (SELECT id FROM users ORDER BY id LIMIT 1)"
        )
    )


def truncates_billing(conn: sa.Connection) -> None:
    conn.execute(sa.text("TRUNCATE billing.invoices, billing.ledger_lines"))
    conn.execute(sa.text("DELETE FROM billing.accounts WHERE id > 2"))


def billing_state(url: str) -> tuple[str, list[Any]]:
    engine = sa.create_engine(url)
    with engine.connect() as conn:
        digest = fingerprint(conn).digest  # every application schema
        sequences = conn.execute(
            sa.text(
                "SELECT sequencename, last_value FROM pg_sequences WHERE schemaname = 'billing' ORDER BY 1"
            )
        ).all()
    engine.dispose()
    return digest, [tuple(row) for row in sequences]


def test_every_application_schema_is_restored(seeded: str) -> None:
    engine = sa.create_engine(seeded)
    with engine.begin() as conn:
        conn.connection.driver_connection.execute(BILLING)  # type: ignore[union-attr]
    engine.dispose()
    expected = billing_state(seeded)
    strategy = ChangedRowsStrategy(seeded)
    strategy.prepare()
    try:
        for write in (writes_into_billing, truncates_billing, writes_into_billing):
            handle = strategy.begin()
            other = sa.create_engine(handle.url)
            with other.begin() as conn:
                write(conn)
            other.dispose()
            assert billing_state(seeded) != expected
            strategy.end(handle)
            assert billing_state(seeded) == expected, write.__name__
        with strategy.engine.begin() as conn:  # reset() names the tables it put back
            writes_into_billing(conn)
        assert strategy.reset() == [
            "billing.accounts",
            "billing.invoices",
            "billing.ledger_lines",
            "billing.users",
            "users",
        ]
        assert billing_state(seeded) == expected
    finally:
        strategy.close()
