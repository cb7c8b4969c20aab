"""The truncate strategy on real PostgreSQL (and mongomock): real commits, undone after each test."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import sqlalchemy as sa
from isolation_support import app_creates_organization, count_slug, seed_domain, stores_fingerprint

from seedkit.isolation import IsolationError, TruncateStrategy, truncate_tables, used_tables
from seedkit.stores.mongo_state import clear_collections
from seedkit.stores.truncate import schema_tables


@pytest.fixture
def strategy(db_url: str, mongo_db: Any) -> Iterator[TruncateStrategy]:
    engine = sa.create_engine(db_url)
    seed_domain(engine, mongo_db)
    engine.dispose()
    chosen = TruncateStrategy(db_url, mongo_db, reseed=seed_domain)
    chosen.prepare()
    yield chosen
    chosen.close()


@pytest.mark.mongo
def test_a_commit_in_one_test_is_gone_in_the_next_and_the_seed_is_back(strategy: TruncateStrategy) -> None:
    seeded = stores_fingerprint(strategy.engine, strategy.mongo)
    first = strategy.begin()
    app_creates_organization(first.session, "written-by-a")
    first.mongo["audit_events"].insert_one({"action": "a.only"})  # type: ignore[index]
    other_process = sa.create_engine(first.url)  # committed data is visible to any connection
    assert count_slug(other_process, "written-by-a") == 1
    other_process.dispose()
    strategy.end(first)

    second = strategy.begin()
    assert count_slug(second.session, "written-by-a") == 0
    assert second.mongo["audit_events"].count_documents({"action": "a.only"}) == 0  # type: ignore[index]
    assert stores_fingerprint(strategy.engine, strategy.mongo) == seeded
    assert seeded.parts["pg:orders"].count == 6 and seeded.parts["mongo:audit_events"].count == 6
    strategy.end(second)


@pytest.mark.mongo
def test_seeded_data_is_identical_after_50_isolated_tests(strategy: TruncateStrategy) -> None:
    seeded = stores_fingerprint(strategy.engine, strategy.mongo)
    for n in range(50):
        handle = strategy.begin()
        app_creates_organization(handle.session, f"test-{n}")
        handle.session.execute(sa.text("UPDATE products SET price = price + 1"))
        handle.session.commit()
        handle.mongo["notifications"].delete_many({})  # type: ignore[index]
        strategy.end(handle)
    assert stores_fingerprint(strategy.engine, strategy.mongo) == seeded


@pytest.mark.mongo
def test_collections_and_indexes_a_test_made_or_dropped_are_put_back(strategy: TruncateStrategy) -> None:
    """A real server keeps a collection emptied by delete_many; the seed had no such collection."""
    seeded = stores_fingerprint(strategy.engine, strategy.mongo)
    handle = strategy.begin()
    handle.mongo["scratch"].insert_one({"n": 1})  # type: ignore[index]
    handle.mongo["scratch"].create_index("n", name="by_n")  # type: ignore[index]
    handle.mongo["audit_events"].drop_index("subject")  # type: ignore[index]
    handle.mongo["audit_events"].create_index("action", name="by_action")  # type: ignore[index]
    strategy.end(handle)
    assert "scratch" not in strategy.mongo.list_collection_names()  # type: ignore[union-attr]
    assert set(strategy.mongo["audit_events"].index_information()) == {"_id_", "actor_time", "subject"}  # type: ignore[index]
    assert stores_fingerprint(strategy.engine, strategy.mongo) == seeded


@pytest.mark.mongo
def test_without_reseed_tests_start_from_empty_stores_but_alembic_version_stays(
    db_url: str, mongo_db: Any
) -> None:
    engine = sa.create_engine(db_url)
    seed_domain(engine, mongo_db)
    strategy = TruncateStrategy(db_url, mongo_db)
    strategy.prepare()
    strategy.end(strategy.begin())
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM users")).scalar_one() == 0
        assert conn.execute(sa.text("SELECT version_num FROM alembic_version")).scalar_one() == "0001"
    assert mongo_db.audit_events.count_documents({}) == 0
    assert set(mongo_db.audit_events.index_information()) == {"_id_", "actor_time", "subject"}  # indexes kept
    strategy.close()
    engine.dispose()


@pytest.fixture
def wide(empty_db_url: str) -> Iterator[sa.Engine]:
    engine = sa.create_engine(empty_db_url)
    with engine.begin() as conn:
        conn.execute(sa.text("CREATE TABLE parent (id serial PRIMARY KEY)"))
        conn.execute(
            sa.text(
                "CREATE TABLE child (id int GENERATED ALWAYS AS IDENTITY PRIMARY KEY, "
                "parent_id int REFERENCES parent(id))"
            )
        )
        for n in range(20):
            conn.execute(sa.text(f"CREATE TABLE unused_{n} (id bigserial PRIMARY KEY, v text)"))
    yield engine
    engine.dispose()


def test_skip_unused_truncates_only_tables_with_rows_or_used_sequences(wide: sa.Engine) -> None:
    with wide.begin() as conn:
        assert used_tables(conn, schema_tables(conn)) == []
        conn.execute(sa.text("INSERT INTO parent DEFAULT VALUES"))
    with wide.connect() as conn:  # an insert rolled back leaves no row but moves the sequence
        conn.execute(sa.text("INSERT INTO unused_7 (v) VALUES ('x')"))
        conn.rollback()
    with wide.begin() as conn:
        touched = truncate_tables(conn, skip_unused=True)
    assert touched == ["parent", "unused_7"]
    with wide.begin() as conn:
        assert truncate_tables(conn, skip_unused=True) == []
        conn.execute(sa.text("INSERT INTO parent DEFAULT VALUES"))
        conn.execute(sa.text("INSERT INTO unused_7 (v) VALUES ('y')"))
        # RESTART IDENTITY: the sequences start over, as on a fresh database
        assert conn.execute(sa.text("SELECT max(id) FROM parent")).scalar_one() == 1
        assert conn.execute(sa.text("SELECT max(id) FROM unused_7")).scalar_one() == 1


def test_cascade_empties_referencing_tables_even_when_only_the_parent_is_named(wide: sa.Engine) -> None:
    with wide.begin() as conn:
        conn.execute(sa.text("INSERT INTO parent DEFAULT VALUES"))
        conn.execute(sa.text("INSERT INTO child (parent_id) VALUES (1)"))
        truncate_tables(conn, ["parent"])
        assert conn.execute(sa.text("SELECT count(*) FROM child")).scalar_one() == 0


def test_a_connection_holding_a_lock_gives_a_clear_error_instead_of_hanging(wide: sa.Engine) -> None:
    with wide.connect() as holder:
        holder.execute(sa.text("INSERT INTO parent DEFAULT VALUES"))  # transaction left open
        with wide.connect() as conn, pytest.raises(IsolationError, match="idle in transaction"):
            truncate_tables(conn, lock_timeout="200ms")
        holder.rollback()


@pytest.mark.mongo
def test_clearing_mongo_keeps_collections_and_indexes(mongo_db: Any) -> None:
    mongo_db.events.create_index("kind", name="by_kind")
    mongo_db.events.insert_many([{"kind": "a"}, {"kind": "b"}])
    clear_collections(mongo_db)
    assert mongo_db.events.count_documents({}) == 0
    assert "by_kind" in mongo_db.events.index_information()


@pytest.fixture
def two_schemas(empty_db_url: str) -> Iterator[sa.Engine]:
    """``public.parent`` with a row, referenced by ``audit.entry`` (another schema) and ``public.kept``."""
    engine = sa.create_engine(empty_db_url)
    with engine.begin() as conn:
        conn.execute(sa.text("CREATE TABLE parent (id int PRIMARY KEY)"))
        conn.execute(sa.text("CREATE SCHEMA audit"))
        conn.execute(
            sa.text("CREATE TABLE audit.entry (id int PRIMARY KEY, parent_id int REFERENCES parent(id))")
        )
        conn.execute(sa.text("CREATE TABLE kept (id int PRIMARY KEY, parent_id int REFERENCES parent(id))"))
        conn.execute(sa.text("INSERT INTO parent VALUES (1)"))
    yield engine
    engine.dispose()


def _counts(engine: sa.Engine) -> dict[str, int]:
    with engine.connect() as conn:
        return {
            t: conn.execute(sa.text(f"SELECT count(*) FROM {t}")).scalar_one()
            for t in ("parent", "audit.entry", "kept")
        }


def test_cascade_never_empties_rows_in_a_schema_outside_the_configured_ones(two_schemas: sa.Engine) -> None:
    with two_schemas.begin() as conn:
        conn.execute(sa.text("INSERT INTO audit.entry VALUES (1, 1)"))
    before = _counts(two_schemas)
    with two_schemas.begin() as conn, pytest.raises(IsolationError) as refused:
        truncate_tables(conn, schema="public")
    message = str(refused.value)
    assert "audit.entry" in message and "entry_parent_id_fkey" in message and "schemas" in message
    assert _counts(two_schemas) == before == {"parent": 1, "audit.entry": 1, "kept": 0}


def test_cascade_never_empties_a_kept_table_that_holds_rows(two_schemas: sa.Engine) -> None:
    with two_schemas.begin() as conn:
        conn.execute(sa.text("INSERT INTO kept VALUES (1, 1)"))
    with two_schemas.begin() as conn, pytest.raises(IsolationError, match=r"kept .*keep"):
        truncate_tables(conn, schema="public", keep=["kept"])
    assert _counts(two_schemas) == {"parent": 1, "audit.entry": 0, "kept": 1}


def test_empty_tables_beyond_the_configured_ones_do_not_stop_a_truncate(two_schemas: sa.Engine) -> None:
    with two_schemas.begin() as conn:
        assert truncate_tables(conn, schema="public", keep=["kept"]) == ["parent"]
    assert _counts(two_schemas) == {"parent": 0, "audit.entry": 0, "kept": 0}
    with two_schemas.begin() as conn:  # every schema configured: the other schema's rows are seedkit's
        conn.execute(sa.text("INSERT INTO parent VALUES (1)"))
        conn.execute(sa.text("INSERT INTO audit.entry VALUES (1, 1)"))
        assert sorted(truncate_tables(conn)) == ["audit.entry", "kept", "parent"]
    assert _counts(two_schemas) == {"parent": 0, "audit.entry": 0, "kept": 0}
