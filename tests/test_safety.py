"""The production guard in front of truncate, restore and drop: refuses before touching anything."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from conftest import connect_test_mongo, create_database, drop_database
from isolation_support import seed_domain, stores_fingerprint

from seedkit.errors import UnsafeTargetError
from seedkit.isolation import (
    MongoBaseline,
    SnapshotStrategy,
    TruncateStrategy,
    clear_collections,
    drop,
    truncate_and_reload,
    truncate_tables,
)
from seedkit.snapshots import api as snapshot
from seedkit.stores.safety import ENVIRONMENT_VARIABLES, check_destructive

REMOTE = "postgresql+psycopg://app:s3cret-pw@db.example.com:5432/app"


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for variable in (*ENVIRONMENT_VARIABLES, "SEEDKIT_ALLOW_UNSAFE"):
        monkeypatch.delenv(variable, raising=False)


@pytest.fixture
def remote_engine() -> Iterator[sa.Engine]:
    """An engine on a remote-looking URL that records any attempt to connect."""
    engine = sa.create_engine(REMOTE)
    attempts: list[object] = []
    sa.event.listen(engine, "do_connect", lambda *args: attempts.append(args))
    yield engine
    assert attempts == [], "the guard must refuse before connecting"
    engine.dispose()


def test_remote_url_is_refused_without_the_password_and_naming_the_override() -> None:
    with pytest.raises(UnsafeTargetError) as refused:
        check_destructive(REMOTE, action="truncate")
    message = str(refused.value)
    assert "s3cret-pw" not in message and "app:***@db.example.com" in message
    assert "host 'db.example.com' is not local" in message
    assert "--allow-unsafe" in message and "SEEDKIT_ALLOW_UNSAFE=1" in message


def test_truncate_restore_and_drop_refuse_a_remote_url_before_connecting(
    remote_engine: sa.Engine, tmp_path: Path
) -> None:
    with pytest.raises(UnsafeTargetError, match="refusing to truncate"):
        truncate_and_reload(remote_engine)
    with pytest.raises(UnsafeTargetError, match="refusing to use truncate isolation"):
        TruncateStrategy(REMOTE).prepare()
    with pytest.raises(UnsafeTargetError, match="refusing to restore a snapshot into"):
        snapshot.restore("anything", directory=tmp_path, engine=remote_engine)
    with pytest.raises(UnsafeTargetError, match="refusing to drop database"):
        drop(REMOTE, "app")


@pytest.mark.parametrize(("variable", "value"), [("ENV", "production"), ("APP_ENV", "prod")])
def test_production_environment_is_refused_even_on_a_local_test_database(
    engine: sa.Engine, monkeypatch: pytest.MonkeyPatch, variable: str, value: str
) -> None:
    seed_domain(engine)
    before = stores_fingerprint(engine)
    monkeypatch.setenv(variable, value)
    with (
        engine.connect() as conn,
        pytest.raises(UnsafeTargetError, match=f"{variable}={value} says production"),
    ):
        truncate_tables(conn)
    assert stores_fingerprint(engine) == before


def test_the_override_allows_it(engine: sa.Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    seed_domain(engine)
    monkeypatch.setenv("ENV", "production")
    with engine.begin() as conn:
        assert "users" in truncate_tables(conn, allow_unsafe=True)
    assert stores_fingerprint(engine).parts["pg:users"].count == 0
    seed_domain(engine)
    monkeypatch.setenv("SEEDKIT_ALLOW_UNSAFE", "1")
    with engine.begin() as conn:
        truncate_tables(conn)
    assert stores_fingerprint(engine).parts["pg:users"].count == 0


@pytest.fixture
def app_database(pg_server_url: str, reference_template: str) -> Iterator[sa.Engine]:
    """A seeded local database whose name does not say it is for tests."""
    name = f"shop_app_{uuid.uuid4().int % 10**8}"
    engine = sa.create_engine(create_database(pg_server_url, name, template=reference_template))
    seed_domain(engine)
    yield engine
    engine.dispose()
    drop_database(pg_server_url, name)


def test_truncate_and_restore_refuse_a_database_not_named_for_tests_and_leave_it_intact(
    app_database: sa.Engine, tmp_path: Path
) -> None:
    before = stores_fingerprint(app_database)
    snapshot.save("copy", directory=tmp_path, engine=app_database)  # reading is always allowed
    with app_database.connect() as conn, pytest.raises(UnsafeTargetError, match="does not look like a test"):
        truncate_tables(conn)
    with pytest.raises(UnsafeTargetError, match="refusing to restore a snapshot"):
        snapshot.restore("copy", directory=tmp_path, engine=app_database)
    assert stores_fingerprint(app_database) == before
    snapshot.restore("copy", directory=tmp_path, engine=app_database, allow_unsafe=True)
    assert stores_fingerprint(app_database) == before


def test_template_drop_refuses_a_database_not_named_for_tests(
    app_database: sa.Engine, pg_server_url: str
) -> None:
    name = app_database.url.database or ""
    with pytest.raises(UnsafeTargetError, match="refusing to drop database"):
        drop(pg_server_url, name)
    with pytest.raises(UnsafeTargetError):
        SnapshotStrategy(
            app_database.url.render_as_string(hide_password=False), server_url=pg_server_url
        ).prepare()
    with app_database.connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM users")).scalar_one() > 0


@pytest.mark.mongo
def test_mongo_resets_refuse_a_database_not_named_for_tests() -> None:
    name = f"shop{uuid.uuid4().int % 10**8:08d}"  # its own name (no test word), even on a shared server
    shop: Any = connect_test_mongo(name)
    try:
        shop.orders.insert_one({"_id": 1})
        baseline = MongoBaseline.capture(shop)
        with pytest.raises(UnsafeTargetError, match=rf"mongodb://[\w.:]+/{name}\b"):
            clear_collections(shop)
        with pytest.raises(UnsafeTargetError):
            baseline.restore(shop)
        assert shop.orders.count_documents({}) == 1
    finally:
        shop.client.drop_database(name)
        shop.client.close()
