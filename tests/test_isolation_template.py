"""The snapshot (template) strategy on real PostgreSQL: a seeded template cloned for every test."""

from __future__ import annotations

import dataclasses
import shutil
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from conftest import REFERENCE_MIGRATIONS, create_database, migrate_reference
from isolation_support import app_creates_organization, count_slug, seed_domain, stores_fingerprint

from seedkit.isolation import IsolationError, SnapshotStrategy, drop, ensure_template, template_name
from seedkit.seeding.config import load_settings
from seedkit.seeding.templates import list_templates
from seedkit.stores.postgres import with_database


def build_seeded(url: str) -> None:
    """What a project's template build does: migrate, seed, dispose every engine."""
    migrate_reference(url)
    engine = sa.create_engine(url)
    seed_domain(engine)
    engine.dispose()


@pytest.fixture
def template(pg_server_url: str) -> Iterator[str]:
    name = f"seedkit_tmpl_test_{uuid.uuid4().hex[:10]}"
    yield name
    drop(pg_server_url, name)


def test_the_template_is_built_once_even_when_workers_race(pg_server_url: str, template: str) -> None:
    calls: list[str] = []
    gate = threading.Barrier(3)

    def build(url: str) -> None:
        calls.append(url)
        build_seeded(url)

    urls: list[str] = []
    errors: list[BaseException] = []

    def worker() -> None:
        gate.wait()
        try:
            urls.append(ensure_template(pg_server_url, template, build))
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == [] and len(calls) == 1 and urls == [with_database(pg_server_url, template)] * 3
    assert calls[0].endswith(f"/{template}_build")  # built under a temporary name, renamed when complete
    ensure_template(pg_server_url, template, build)  # a later run reuses it
    assert len(calls) == 1
    with pytest.raises(sa.exc.OperationalError, match="not currently accepting connections"):
        sa.create_engine(urls[0]).connect()


def test_a_failed_build_leaves_no_template_and_a_crashed_one_is_rebuilt(
    pg_server_url: str, template: str
) -> None:
    def broken(url: str) -> None:
        migrate_reference(url)
        raise RuntimeError("seed failed")

    with pytest.raises(RuntimeError, match="seed failed"):
        ensure_template(pg_server_url, template, broken)
    assert list_templates(pg_server_url, prefix=template) == []
    create_database(pg_server_url, f"{template}_build")  # as left by a process killed mid-build
    ensure_template(pg_server_url, template, build_seeded)
    assert list_templates(pg_server_url, prefix=template) == [template]


@pytest.fixture
def strategy(pg_server_url: str, template: str, mongo_db: Any) -> Iterator[SnapshotStrategy]:
    seed_domain_mongo_only(mongo_db)
    chosen = SnapshotStrategy(
        with_database(pg_server_url, template), mongo_db, server_url=pg_server_url, build=build_seeded
    )
    chosen.prepare()
    yield chosen
    chosen.close()


def seed_domain_mongo_only(mongo_db: Any) -> None:
    mongo_db.audit_events.create_index("action", name="by_action")
    mongo_db.audit_events.insert_many([{"_id": n, "action": f"seeded.{n}"} for n in range(5)])


@pytest.mark.mongo
def test_each_test_gets_its_own_clone_visible_to_other_processes(
    strategy: SnapshotStrategy, pg_server_url: str
) -> None:
    first = strategy.begin()
    app_creates_organization(first.session, "written-by-a")
    server_under_test = sa.create_engine(first.url)
    assert count_slug(server_under_test, "written-by-a") == 1
    server_under_test.dispose()
    first.mongo["audit_events"].insert_one({"action": "a.only"})  # type: ignore[index]
    strategy.end(first)
    assert strategy.wait_warm()
    clones = list_templates(pg_server_url, prefix=strategy.clone_prefix)
    assert first.extra["database"] not in clones  # the used clone is gone
    assert len(clones) == strategy.pool_size  # what is left are the ready ones

    second = strategy.begin()
    assert second.url != first.url
    assert count_slug(second.session, "written-by-a") == 0
    assert second.mongo["audit_events"].count_documents({}) == 5  # type: ignore[index]
    strategy.end(second)


@pytest.mark.mongo
def test_seeded_data_is_identical_after_50_isolated_tests(strategy: SnapshotStrategy) -> None:
    handle = strategy.begin()
    seeded = stores_fingerprint(handle.engine, strategy.mongo)
    strategy.end(handle)
    assert seeded.parts["pg:orders"].count == 6
    for n in range(50):
        handle = strategy.begin()
        app_creates_organization(handle.session, f"test-{n}")
        handle.session.execute(sa.text("DELETE FROM payments"))
        handle.session.commit()
        handle.mongo["audit_events"].delete_one({"_id": n % 5})  # type: ignore[index]
        strategy.end(handle)
    handle = strategy.begin()
    assert stores_fingerprint(handle.engine, strategy.mongo) == seeded
    strategy.end(handle)


def test_a_missing_template_is_reported_without_building(pg_server_url: str) -> None:
    chosen = SnapshotStrategy(with_database(pg_server_url, "seedkit_tmpl_nowhere"), server_url=pg_server_url)
    with pytest.raises(IsolationError, match=r"seedkit_tmpl_nowhere.*does not exist"):
        chosen.prepare()


@pytest.fixture
def project(tmp_path: Path) -> Any:
    """The reference settings with migrations and packs copied where the test may edit them."""
    base = load_settings()
    migrations = shutil.copytree(REFERENCE_MIGRATIONS, tmp_path / "migrations")
    packs = [shutil.copytree(p, tmp_path / f"packs{i}") for i, p in enumerate(base.pack_paths)]
    return dataclasses.replace(base, alembic_script_location=migrations, pack_paths=tuple(packs))


def test_template_name_changes_with_migrations_packs_profile_and_seed(project: Any) -> None:
    e2e = project.profile("e2e")
    name = template_name(project, "e2e")
    assert name.startswith("seedkit_tmpl_e2e_") and len(name) <= 63
    assert template_name(project, e2e) == name  # stable
    assert template_name(project, e2e, seed=43) != name
    assert template_name(project, dataclasses.replace(e2e, clock_start="2026-01-01T00:00:00Z")) != name
    assert template_name(project, "dev") != name
    assert template_name(project, dataclasses.replace(e2e, isolation="rollback")) == name  # not an input

    migration = next(project.alembic_script_location.glob("versions/*.py"))
    migration.write_text(migration.read_text() + "\n# changed\n")
    after_migration = template_name(project, e2e)
    assert after_migration != name

    pack_file = next(p for p in project.pack_paths[0].rglob("*") if p.is_file() and "golden" in p.parts)
    pack_file.write_text(pack_file.read_text() + "\n")
    assert template_name(project, e2e) != after_migration
