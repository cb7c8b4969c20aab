"""The snapshot strategy's warm pool of clones, on real PostgreSQL (no timing here: benchmarks/)."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import uuid
from collections.abc import Iterator

import pytest
import sqlalchemy as sa
from conftest import create_database, drop_database

from seedkit.isolation import IsolationError, SnapshotStrategy
from seedkit.isolation.clone_pool import ClonePool
from seedkit.seeding.templates import list_templates
from seedkit.stores.postgres import with_database
from seedkit.stores.postgres_admin import PostgresAdmin


@pytest.fixture
def small_template(pg_server_url: str) -> Iterator[str]:
    """A template holding one table with one seeded row, accepting no connections."""
    name = f"test_pool_tmpl_{uuid.uuid4().hex[:8]}"
    engine = sa.create_engine(create_database(pg_server_url, name))
    with engine.begin() as conn:
        conn.execute(sa.text("CREATE TABLE marks (id serial PRIMARY KEY, note text NOT NULL)"))
        conn.execute(sa.text("INSERT INTO marks (note) VALUES ('seeded')"))
    engine.dispose()
    with PostgresAdmin.connect(pg_server_url) as admin:
        admin.mark_template(name, template=True)
    yield name
    with PostgresAdmin.connect(pg_server_url) as admin:
        admin.drop(name)


def _notes(url: str) -> list[str]:
    engine = sa.create_engine(url)
    with engine.connect() as conn:
        notes = list(conn.execute(sa.text("SELECT note FROM marks ORDER BY id")).scalars())
    engine.dispose()
    return notes


def test_the_pool_never_hands_out_a_database_that_was_used(pg_server_url: str, small_template: str) -> None:
    prefix = f"test_pool_{uuid.uuid4().hex[:8]}"
    strategy = SnapshotStrategy(
        with_database(pg_server_url, small_template),
        server_url=pg_server_url,
        clone_prefix=prefix,
        pool_size=2,
    )
    strategy.prepare()
    seen: list[str] = []
    try:
        for n in range(12):
            if n % 3 == 0:
                assert strategy.wait_warm()  # sometimes warm, sometimes taken right after a test
            handle = strategy.begin()
            name = handle.extra["database"]
            assert name not in seen
            seen.append(name)
            with handle.engine.begin() as conn:
                assert list(conn.execute(sa.text("SELECT note FROM marks")).scalars()) == ["seeded"]
                conn.execute(sa.text("INSERT INTO marks (note) VALUES (:n)"), {"n": f"used by test {n}"})
            strategy.end(handle)
        assert strategy.wait_warm()
        left = list_templates(pg_server_url, prefix=prefix)
        assert len(left) == 2 and not set(left) & set(seen)  # used clones are dropped, never kept ready
    finally:
        strategy.close()
    assert list_templates(pg_server_url, prefix=prefix) == []


def test_a_clone_is_returned_once_and_only_by_the_pool_that_made_it(
    pg_server_url: str, small_template: str
) -> None:
    prefix = f"test_pool_{uuid.uuid4().hex[:8]}"
    pool = ClonePool(pg_server_url, small_template, prefix, size=1).start()
    try:
        name = pool.take()
        assert name.startswith(f"{prefix}_")
        assert _notes(with_database(pg_server_url, name)) == ["seeded"]
        pool.give_back(name)
        with pytest.raises(IsolationError, match=rf"{name}.*not handed out"):
            pool.give_back(name)
        with pytest.raises(IsolationError, match="not handed out"):
            pool.give_back(small_template)  # the template itself is never the pool's to drop
    finally:
        pool.close()
    assert list_templates(pg_server_url, prefix=small_template) == [small_template]
    assert list_templates(pg_server_url, prefix=prefix) == []
    with pytest.raises(IsolationError, match="is closed"):
        pool.take()


def test_close_drops_ready_returned_and_never_returned_clones(
    pg_server_url: str, small_template: str
) -> None:
    prefix = f"test_pool_{uuid.uuid4().hex[:8]}"
    strategy = SnapshotStrategy(
        with_database(pg_server_url, small_template),
        server_url=pg_server_url,
        clone_prefix=prefix,
        pool_size=3,
    )
    strategy.prepare()
    finished = strategy.begin()
    strategy.end(finished)
    strategy.begin()  # a test interrupted before end()
    assert list_templates(pg_server_url, prefix=prefix) != []
    strategy.close()
    assert list_templates(pg_server_url, prefix=prefix) == []
    strategy.close()  # twice is harmless


def test_an_interrupted_process_leaves_no_clone_behind(pg_server_url: str, small_template: str) -> None:
    prefix = f"test_pool_{uuid.uuid4().hex[:8]}"
    script = textwrap.dedent(
        f"""
        from seedkit.isolation import SnapshotStrategy
        strategy = SnapshotStrategy({with_database(pg_server_url, small_template)!r},
                                    server_url={pg_server_url!r}, clone_prefix={prefix!r}, pool_size=2)
        strategy.prepare()
        handle = strategy.begin()
        assert strategy.wait_warm(60)
        print("clones made", flush=True)
        raise KeyboardInterrupt  # as Ctrl-C in the middle of a test: no end(), no close()
        """
    )
    completed = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert "clones made" in completed.stdout, completed.stderr
    assert completed.returncode != 0 and "KeyboardInterrupt" in completed.stderr
    assert list_templates(pg_server_url, prefix=prefix) == []


def test_a_failing_pool_reports_its_error_to_the_test(pg_server_url: str) -> None:
    prefix = f"test_pool_{uuid.uuid4().hex[:8]}"
    pool = ClonePool(pg_server_url, "test_pool_no_such_template", prefix, size=1)
    try:
        with pytest.raises(IsolationError, match=r"stopped: .*test_pool_no_such_template"):
            pool.take()
    finally:
        pool.close()
    assert list_templates(pg_server_url, prefix=prefix) == []


def test_the_clone_strategy_is_passed_to_postgresql(pg_server_url: str, small_template: str) -> None:
    name = f"test_pool_{uuid.uuid4().hex[:8]}"
    with PostgresAdmin.connect(pg_server_url) as admin:
        for strategy in ("FILE_COPY", "wal_log"):
            admin.create(name, template=small_template, strategy=strategy)
            assert _notes(with_database(pg_server_url, name)) == ["seeded"]
            admin.drop(name)
        with pytest.raises(IsolationError, match="WAL_LOG or FILE_COPY"):
            admin.create(name, template=small_template, strategy="COPY; DROP DATABASE postgres")
    with pytest.raises(IsolationError, match="at least 1"):
        ClonePool(pg_server_url, small_template, name, size=0)
    drop_database(pg_server_url, name)
