"""Reflection order/cycles and the fingerprint, on real PostgreSQL."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from seedkit.stores.fingerprint import fingerprint
from seedkit.stores.schema import reflect_schema


def test_reference_schema_order_puts_parents_first(engine: sa.Engine) -> None:
    with engine.connect() as conn:
        info = reflect_schema(conn)
    order = info.insertion_order()
    assert "alembic_version" not in order
    assert order.index("organizations") < order.index("users") < order.index("orders")
    assert order.index("orders") < order.index("order_items") and order.index("products") < order.index(
        "order_items"
    )
    assert info.dependents({"users"}) == {"users", "orders", "order_items", "payments"}


def test_cycles_and_self_references_are_broken_by_nullable_keys(empty_db_url: str) -> None:
    eng = sa.create_engine(empty_db_url)
    with eng.begin() as conn:
        conn.execute(sa.text("CREATE TABLE teams (id int PRIMARY KEY, captain_id int)"))
        conn.execute(
            sa.text(
                "CREATE TABLE players (id int PRIMARY KEY, team_id int NOT NULL REFERENCES teams(id),"
                " mentor_id int REFERENCES players(id))"
            )
        )
        conn.execute(
            sa.text(
                "ALTER TABLE teams ADD CONSTRAINT teams_captain FOREIGN KEY (captain_id) REFERENCES players(id)"
            )
        )
        info = reflect_schema(conn)
    eng.dispose()
    breakers = info.cycle_breakers()
    assert ("teams", "teams_captain") in breakers
    assert ("players", "players_mentor_id_fkey") in breakers
    assert info.insertion_order() == ["teams", "players"]


def test_fingerprint_changes_with_any_value_and_not_with_insert_order(empty_db_url: str) -> None:
    eng = sa.create_engine(empty_db_url)
    with eng.begin() as conn:
        conn.execute(sa.text("CREATE TABLE t (id int PRIMARY KEY, at timestamptz, v numeric)"))
        conn.execute(
            sa.text("INSERT INTO t VALUES (2, '2025-01-01T00:00:00Z', 1.5), (1, '2025-01-02T00:00:00Z', 2)")
        )
    with eng.connect() as conn:
        conn.execute(sa.text("SET TimeZone = 'Asia/Tokyo'"))  # a client's settings must not matter
        first = fingerprint(conn)
    with eng.begin() as conn:
        conn.execute(sa.text("DELETE FROM t"))
        conn.execute(
            sa.text("INSERT INTO t VALUES (1, '2025-01-02T00:00:00Z', 2), (2, '2025-01-01T00:00:00Z', 1.5)")
        )
    with eng.connect() as conn:
        assert fingerprint(conn) == first
    with eng.begin() as conn:
        conn.execute(sa.text("UPDATE t SET v = 1.51 WHERE id = 2"))
    with eng.connect() as conn:
        changed = fingerprint(conn)
    eng.dispose()
    assert changed.digest != first.digest
    assert changed.parts["pg:t"].count == 2


@pytest.mark.mongo
def test_mongo_fingerprint_sees_documents_and_indexes(mongo_db) -> None:  # type: ignore[no-untyped-def]
    mongo_db.events.insert_many([{"_id": 2, "b": 1, "a": 2}, {"_id": 1, "x": "y"}])
    first = fingerprint(mongo=mongo_db)
    assert first.parts["mongo:events"].count == 2
    mongo_db.events.create_index("x")
    with_index = fingerprint(mongo=mongo_db)
    assert with_index.digest != first.digest
    mongo_db.events.update_one({"_id": 1}, {"$set": {"x": "z"}})
    assert fingerprint(mongo=mongo_db).digest != with_index.digest
