"""The profile runner on real PostgreSQL, and on the suite's Mongo (mongomock, or SEEDKIT_TEST_MONGO_URL)."""

from __future__ import annotations

import dataclasses
import sys
import types
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import bson
import pytest
import sqlalchemy as sa
from conftest import create_database, drop_database, suite_mongo_url
from pymongo.database import Database

from seedkit.errors import ConfigError, FactoryError, SchemaError, SeedkitError, UnsafeTargetError
from seedkit.seeding.config import Profile, Settings, Volume, load_settings
from seedkit.seeding.runner import reset_targets, seed_profile
from seedkit.seeding.targets import Targets, open_targets
from seedkit.stores import mongo_undo
from seedkit.stores.fingerprint import Fingerprint, fingerprint
from seedkit.stores.mongo_undo import IDS, MongoRun

SMALL = (
    Volume("OrganizationFactory", 2),
    Volume("ProductFactory", 4),
    Volume("CustomerFactory", 3, {"orders": 1}),
    Volume("AuditEventFactory", 2),
)


@pytest.fixture
def settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Settings:
    """The built-in (reference domain) settings, state under tmp_path."""
    monkeypatch.delenv("SEEDKIT_CONFIG", raising=False)
    return dataclasses.replace(load_settings(cwd=tmp_path), state_dir=tmp_path / ".seedkit")


def targets_for(url: str, settings: Settings, mongo_name: str) -> Targets:
    """The test's stores; Mongo is mongomock kept in the state dir, as the CLI does, or the suite's server."""
    return Targets(
        database_url=url,
        mongo_url=suite_mongo_url(),
        mongo_database=mongo_name,
        state_dir=settings.state_dir,
        embedded=False,
    )


def current_fingerprint(targets: Targets) -> Fingerprint:
    with open_targets(targets) as (engine, db), engine.connect() as conn:
        return fingerprint(conn, db)


@pytest.mark.mongo
def test_seeding_writes_the_volumes_and_reports_them(
    settings: Settings, db_url: str, mongo_name: str
) -> None:
    targets = targets_for(db_url, settings, mongo_name)
    ticks: list[tuple[str, int, int]] = []
    report = seed_profile(
        settings, Profile("small", seed=3, volumes=SMALL), targets, progress=lambda *t: ticks.append(t)
    )
    # each audit event's actor is a new user of a new organization (UserFactory)
    assert report.rows["organizations"] == 2 + 2
    assert report.rows["products"] == 4
    assert report.rows["users"] == 3 + 2 and report.rows["orders"] == 3 and report.rows["payments"] == 3
    assert report.documents["audit_events"] == 2
    assert report.schema.startswith("alembic upgrade head")
    assert report.fingerprint == current_fingerprint(targets).digest
    assert report.elapsed > 0
    assert ("CustomerFactory x 3", 3, 3) in ticks
    engine = sa.create_engine(db_url)
    with engine.connect() as conn:
        # customers and products are spread over the organizations made by the first volume
        spread = "SELECT count(DISTINCT organization_id) FROM users WHERE role = 'customer'"
        assert conn.execute(sa.text(spread)).scalar() <= 2
    engine.dispose()


@pytest.mark.mongo
def test_same_seed_same_data_other_seed_other_data(settings: Settings, db_url: str, mongo_name: str) -> None:
    targets = targets_for(db_url, settings, mongo_name)
    profile = Profile("small", seed=3, volumes=SMALL)
    first = seed_profile(settings, profile, targets)
    again = seed_profile(settings, profile, targets, reset=True)
    assert again.fingerprint == first.fingerprint and again.reset
    other = seed_profile(settings, profile, targets, reset=True, seed=4)
    assert other.fingerprint != first.fingerprint
    assert other.rows.keys() == first.rows.keys() and other.rows["users"] == first.rows["users"]


@pytest.mark.mongo
def test_seeding_refuses_a_database_that_holds_data(settings: Settings, db_url: str, mongo_name: str) -> None:
    targets = targets_for(db_url, settings, mongo_name)
    profile = Profile("small", seed=3, volumes=SMALL)
    seed_profile(settings, profile, targets)
    before = current_fingerprint(targets)
    with pytest.raises(SeedkitError, match=r"already holds data \(tables .*--reset"):
        seed_profile(settings, profile, targets)
    assert current_fingerprint(targets) == before


@pytest.mark.mongo
def test_a_failure_mid_run_leaves_both_stores_as_they_were(
    settings: Settings, db_url: str, mongo_name: str
) -> None:
    """Reset + seed fails in its last volume: the old rows AND the old documents are back."""
    targets = targets_for(db_url, settings, mongo_name)
    seed_profile(settings, Profile("small", seed=3, volumes=SMALL), targets)
    before = current_fingerprint(targets)
    failing = Profile(
        "failing",
        seed=9,
        volumes=(
            Volume("OrganizationFactory", 3),
            Volume("AuditEventFactory", 5),
            Volume("UserFactory", 1, {"role": "superhero"}),  # violates the role CHECK constraint
        ),
    )
    with pytest.raises(FactoryError, match=r"volumes\[2\] \(UserFactory x 1\).*ck_users_role"):
        seed_profile(settings, failing, targets, reset=True)
    after = current_fingerprint(targets)
    assert after == before
    with open_targets(targets) as (_, db):
        assert not [name for name in db.list_collection_names() if name.startswith("_seedkit")]


@pytest.mark.mongo
def test_a_failure_on_an_empty_database_leaves_it_empty(
    settings: Settings, db_url: str, mongo_name: str
) -> None:
    targets = targets_for(db_url, settings, mongo_name)
    empty = current_fingerprint(targets)
    failing = Profile(
        "failing", volumes=(Volume("AuditEventFactory", 2), Volume("UserFactory", 1, {"role": "boss"}))
    )
    with pytest.raises(FactoryError, match="ck_users_role"):  # refused by PostgreSQL, mid-run
        seed_profile(settings, failing, targets)
    assert current_fingerprint(targets) == empty


@pytest.mark.mongo
def test_unknown_factory_fails_before_anything_is_written(
    settings: Settings, empty_db_url: str, mongo_name: str
) -> None:
    targets = targets_for(empty_db_url, settings, mongo_name)
    profile = Profile("typo", volumes=(Volume("OrganizationFactory", 1), Volume("CustomerFactry", 1)))
    with pytest.raises(
        ConfigError,
        match=r"profile 'typo', volumes\[1\]: factory 'CustomerFactry' not found in .*"
        r"\(did you mean 'CustomerFactory'\?\)",
    ):
        seed_profile(settings, profile, targets)
    engine = sa.create_engine(empty_db_url)
    with engine.connect() as conn:
        assert sa.inspect(conn).get_table_names() == []  # not even migrated
    engine.dispose()


@pytest.mark.mongo
def test_import_path_factories_are_found(settings: Settings, db_url: str, mongo_name: str) -> None:
    targets = targets_for(db_url, settings, mongo_name)
    profile = Profile("paths", volumes=(Volume("seedkit_reference.model_factories:ProductFactory", 2),))
    assert seed_profile(settings, profile, targets).rows["products"] == 2


@pytest.mark.mongo
def test_stale_schema_without_migrate_is_refused(
    settings: Settings, empty_db_url: str, mongo_name: str
) -> None:
    targets = targets_for(empty_db_url, settings, mongo_name)
    profile = Profile("strict", migrate=False, volumes=(Volume("OrganizationFactory", 1),))
    with pytest.raises(SchemaError, match=r"never migrated.*head is 0001"):
        seed_profile(settings, profile, targets)


@pytest.mark.mongo
def test_migration_command_replaces_alembic(settings: Settings, empty_db_url: str, mongo_name: str) -> None:
    ini = settings.root / "migrations" / "alembic.ini"
    profile = Profile(
        "app",
        migration_command=f"{sys.executable} -m alembic -c {ini} upgrade head",
        volumes=(Volume("OrganizationFactory", 1),),
    )
    report = seed_profile(settings, profile, targets_for(empty_db_url, settings, mongo_name))
    assert report.schema.startswith("ran ") and "alembic" in report.schema
    assert report.rows["organizations"] == 1


@pytest.fixture
def production_looking_db(pg_server_url: str) -> Iterator[str]:
    name = f"shop_{uuid.uuid4().hex[:8]}"
    yield create_database(pg_server_url, name)
    drop_database(pg_server_url, name)


@pytest.mark.mongo
def test_reset_is_guarded(settings: Settings, production_looking_db: str, mongo_name: str) -> None:
    targets = targets_for(production_looking_db, settings, mongo_name)
    profile = Profile("small", volumes=(Volume("OrganizationFactory", 1),))
    seed_profile(settings, profile, targets)  # seeding an empty database is not destructive
    before = current_fingerprint(targets)
    with pytest.raises(UnsafeTargetError, match="does not look like a test database"):
        seed_profile(settings, profile, targets, reset=True)
    with pytest.raises(UnsafeTargetError):
        reset_targets(settings, targets)
    assert current_fingerprint(targets) == before
    reset_targets(settings, targets, allow_unsafe=True)
    assert all(part.count == 0 for part in current_fingerprint(targets).parts.values())


@pytest.mark.mongo
def test_reset_empties_rows_and_documents_but_keeps_schema_and_indexes(
    settings: Settings, db_url: str, mongo_name: str
) -> None:
    targets = targets_for(db_url, settings, mongo_name)
    seed_profile(settings, Profile("small", volumes=SMALL), targets)
    with open_targets(targets) as (_, db):
        db.audit_events.create_index("action", name="by_action")
    emptied = reset_targets(settings, targets)
    assert {"users", "orders", "audit_events"} <= set(emptied)
    after = current_fingerprint(targets)
    assert "mongo:audit_events" in after.parts
    assert all(part.count == 0 for part in after.parts.values())
    with open_targets(targets) as (engine, db), engine.connect() as conn:
        assert conn.execute(sa.text("SELECT version_num FROM alembic_version")).scalar() == "0001"
        assert "by_action" in db.audit_events.index_information()


@pytest.mark.mongo
def test_mongo_run_clears_keeping_indexes_and_rolls_back(mongo_db: Database[Any]) -> None:
    mongo_db.events.create_index([("actor", 1), ("at", -1)], name="actor_at", unique=True)
    mongo_db.events.insert_many([{"_id": 1, "actor": "a", "at": 1}, {"_id": 2, "actor": "b", "at": 2}])
    mongo_db.other.insert_one({"_id": "x"})
    before = fingerprint(mongo=mongo_db)

    run = MongoRun(mongo_db)
    run.clear()
    assert mongo_db.events.count_documents({}) == 0
    assert "actor_at" in mongo_db.events.index_information()
    mongo_db.events.insert_one({"_id": 3, "actor": "c", "at": 3})
    mongo_db.created.insert_one({"_id": 4})
    run.rollback()
    assert fingerprint(mongo=mongo_db) == before

    run = MongoRun(mongo_db)
    run.clear()
    mongo_db.events.insert_one({"_id": 5, "actor": "d", "at": 5})
    run.commit()
    assert sorted(mongo_db.list_collection_names()) == ["events", "other"]
    assert [d["_id"] for d in mongo_db.events.find()] == [5]
    assert mongo_db.events.index_information()["actor_at"]["unique"] is True


@pytest.mark.mongo
def test_mongo_run_without_reset_only_removes_its_own_documents(mongo_db: Database[Any]) -> None:
    mongo_db.events.insert_one({"_id": 1})
    run = MongoRun(mongo_db)
    mongo_db.events.insert_many([{"_id": 2}, {"_id": 3}])
    mongo_db.created.insert_one({"_id": 4})
    run.rollback()
    assert [d["_id"] for d in mongo_db.events.find()] == [1]
    assert mongo_db.list_collection_names() == ["events"]


@pytest.mark.mongo
def test_backups_left_by_a_killed_run_are_restored(mongo_db: Database[Any]) -> None:
    mongo_db.events.insert_one({"_id": 1})
    MongoRun(mongo_db).clear()  # ...and the process dies before commit or rollback
    mongo_db.events.insert_one({"_id": 2})
    MongoRun(mongo_db)  # the next run restores the backups (and keeps the ids of its own start)
    assert sorted(mongo_db.list_collection_names()) == [IDS, "events"]
    assert [d["_id"] for d in mongo_db.events.find()] == [1]


@pytest.mark.mongo
@pytest.mark.parametrize("reset", [False, True])
def test_mongo_run_rollback_gives_back_the_indexes_the_run_changed(
    mongo_db: Database[Any], reset: bool
) -> None:
    """A project's index hook runs inside the run: on failure its indexes and collections go too."""
    mongo_db.events.create_index("actor", name="by_actor")
    mongo_db.events.insert_one({"_id": 1, "actor": "a", "at": 1})
    before = fingerprint(mongo=mongo_db)
    run = MongoRun(mongo_db)
    mongo_db.events.create_index("at", name="by_at")
    mongo_db.events.drop_index("by_actor")
    mongo_db.made_by_the_hook.create_index("x", name="by_x")
    if reset:
        run.clear()
    mongo_db.events.insert_one({"_id": 2, "actor": "b", "at": 2})
    run.rollback()
    assert fingerprint(mongo=mongo_db) == before
    assert sorted(mongo_db.events.index_information()) == ["_id_", "by_actor"]
    assert mongo_db.list_collection_names() == ["events"]


@pytest.mark.mongo
def test_a_constraint_checked_at_commit_is_one_error_and_nothing_stays(
    settings: Settings, db_url: str, mongo_name: str
) -> None:
    engine = sa.create_engine(db_url)
    with engine.begin() as conn:
        conn.execute(
            sa.text(
                "ALTER TABLE products ADD CONSTRAINT one_name UNIQUE (name) DEFERRABLE INITIALLY DEFERRED"
            )
        )
    engine.dispose()
    targets = targets_for(db_url, settings, mongo_name)
    empty = current_fingerprint(targets)
    profile = Profile(
        "twins", volumes=(Volume("AuditEventFactory", 1), Volume("ProductFactory", 2, {"name": "Twin"}))
    )
    with pytest.raises(SeedkitError, match=r"PostgreSQL refused the seeding: .*one_name"):
        seed_profile(settings, profile, targets)
    assert current_fingerprint(targets) == empty


def _measured(
    original: Callable[..., Any], payload: Callable[..., int], sizes: list[int], measuring: list[bool]
) -> Callable[..., Any]:
    """``original`` (a collection method), noting its payload's BSON size in ``sizes`` while ``measuring[0]``."""

    def wrapper(self: Any, *args: Any, **kwargs: Any) -> Any:
        if args and not isinstance(args[0], dict):  # insert_many's documents: maybe a generator
            args = (list(args[0]), *args[1:])
        if measuring[0]:
            sizes.append(payload(*args, **kwargs))
        return original(self, *args, **kwargs)

    return wrapper


class _Transaction:
    """Stands in for a PostgreSQL connection in MongoRun.follow (it asks for the transaction's id)."""

    def execute(self, *_: Any) -> Any:
        return types.SimpleNamespace(scalar_one=lambda: "123")


@pytest.mark.mongo
def test_mongo_run_rollback_keeps_every_command_bounded_and_restores_exactly(
    mongo_db: Database[Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The undo log never sends all of a collection's ids in one command or document (MongoDB
    refuses anything over 16 MB: a ``$nin`` over every id fails from about 1.4 million
    ObjectIds). Here 50 ids per batch and 300 documents before the run: a list of every id
    would be several times the largest command allowed below. (Small, so that the wire lane's
    emulator, which scans a collection per ``$in``, answers within its socket timeout.)"""
    monkeypatch.setattr(mongo_undo, "BATCH", 50)
    mongo_db.events.insert_many([{"_id": f"event-{n:035d}", "n": n} for n in range(300)])
    mongo_db.other.insert_many([{"_id": n} for n in range(10)])
    before = fingerprint(mongo=mongo_db)
    sizes: list[int] = []
    measuring = [True]
    collection_class = type(mongo_db.events)
    payloads: dict[str, Callable[..., int]] = {
        "find": lambda filter=None, *_, **__: len(bson.encode(filter or {})),
        "delete_many": lambda filter, *_, **__: len(bson.encode(filter)),
        "insert_many": lambda documents, *_, **__: sum(len(bson.encode(d)) for d in documents),
        "replace_one": lambda filter, replacement, *_, **__: len(bson.encode(replacement)),
        "update_one": lambda filter, update, *_, **__: len(bson.encode(update)),
    }
    for method, payload in payloads.items():
        original = getattr(collection_class, method)
        monkeypatch.setattr(collection_class, method, _measured(original, payload, sizes, measuring))

    run = MongoRun(mongo_db)
    run.follow(_Transaction())  # type: ignore[arg-type]
    measuring[0] = False  # the run's own writes
    mongo_db.events.insert_many([{"_id": f"event-{n:035d}", "n": n} for n in range(300, 600)])
    mongo_db.other.insert_one({"_id": "new"})
    mongo_db.created.insert_one({"_id": 1})
    measuring[0] = True
    run.rollback()
    assert max(sizes) < 4_000  # at most 50 ids of ~45 bytes each in any command or document
    assert len(sizes) > 10  # ...in batches
    assert fingerprint(mongo=mongo_db) == before
    assert sorted(mongo_db.list_collection_names()) == ["events", "other"]


@pytest.mark.mongo
def test_a_killed_run_recorded_by_an_earlier_version_is_undone(mongo_db: Database[Any]) -> None:
    mongo_db.events.insert_many([{"_id": 1}, {"_id": 2}, {"_id": 3}])  # 3 written by the killed run
    mongo_db[mongo_undo.RECORD].insert_one(
        {"_id": "run", "xid": "1", "before": {"events": [1, 2]}, "set_aside": {}}  # ids in the record
    )
    assert mongo_undo.recover(mongo_db, None) == "undone"
    assert [d["_id"] for d in mongo_db.events.find()] == [1, 2]
    assert mongo_db.list_collection_names() == ["events"]
