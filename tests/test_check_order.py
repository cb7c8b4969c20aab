"""Every check runs before the first write: a refused seed leaves a fresh database without a table.

The order is: configuration, packs, factory imports, the production guard and the emptiness
check, then the first write (the migration). Alembic migrations run in the seeding's
transaction, so a seed that fails after migrating leaves no table behind either.
"""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from conftest import create_database, drop_database
from test_packs_support import write_pack

from seedkit.errors import FactoryError, PackError, SeedkitError, UnsafeTargetError
from seedkit.seeding.config import Profile, Settings, Volume, load_settings
from seedkit.seeding.runner import seed_profile
from seedkit.seeding.targets import Targets, open_targets
from seedkit.stores.postgres import with_database


@pytest.fixture
def settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Settings:
    monkeypatch.delenv("SEEDKIT_CONFIG", raising=False)
    return dataclasses.replace(load_settings(cwd=tmp_path), state_dir=tmp_path / ".seedkit")


@pytest.fixture
def fresh_prod_url(pg_server_url: str) -> Iterator[str]:
    """An empty database whose name looks like production's."""
    name = f"helpdesk_prod_{uuid.uuid4().hex[:8]}"
    yield create_database(pg_server_url, name)
    drop_database(pg_server_url, name)


def targets_for(url: str, settings: Settings) -> Targets:
    return Targets(url, None, "seedkit", settings.state_dir, embedded=False)


def tables(url: str) -> list[str]:
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            return sorted(sa.inspect(conn).get_table_names())
    finally:
        engine.dispose()


E2E_LIKE = Profile("demo", packs=("golden",), volumes=(Volume("OrganizationFactory", 1),))


def test_reset_on_a_production_looking_database_is_refused_before_migrating(
    settings: Settings, fresh_prod_url: str
) -> None:
    with pytest.raises(UnsafeTargetError, match=r"refusing to reset .*helpdesk_prod_\w+' says production"):
        seed_profile(settings, E2E_LIKE, database_url=fresh_prod_url, reset=True)
    assert tables(fresh_prod_url) == []  # no migration ran, no alembic_version


def test_a_missing_production_database_gets_the_guards_refusal(
    settings: Settings, pg_server_url: str
) -> None:
    missing = with_database(pg_server_url, f"helpdesk_prod_{uuid.uuid4().hex[:8]}")
    with pytest.raises(UnsafeTargetError, match="refusing to reset"):
        seed_profile(settings, E2E_LIKE, database_url=missing, reset=True)
    with pytest.raises(UnsafeTargetError, match="refusing to reset"):
        seed_profile(settings, E2E_LIKE, targets_for(missing, settings), reset=True)


def test_seed_into_a_target_whose_mongo_holds_data_is_refused_before_migrating(
    settings: Settings, empty_db_url: str
) -> None:
    targets = targets_for(empty_db_url, settings)
    with open_targets(targets) as (_, db):
        db.leftovers.insert_one({"_id": 1})
    with pytest.raises(SeedkitError, match=r"already holds data \(collections leftovers\)"):
        seed_profile(settings, E2E_LIKE, targets)
    assert tables(empty_db_url) == []


def test_a_dangling_label_is_reported_before_migrating(
    settings: Settings, empty_db_url: str, tmp_path: Path
) -> None:
    write_pack(
        tmp_path / "packs",
        "bad",
        {
            "organizations.yaml": "acme: {name: Acme, slug: acme}\n",
            "users.yaml": "bo: {organization_id: '@organizations.acmee', email: b@x, full_name: Bo, role: admin}\n",
        },
    )
    settings = dataclasses.replace(settings, pack_paths=(tmp_path / "packs",))
    profile = Profile("bad", packs=("bad",))
    with pytest.raises(
        PackError, match=r"users.yaml:1, record 'bo', field 'organization_id': dangling reference"
    ):
        seed_profile(settings, profile, targets_for(empty_db_url, settings))
    assert tables(empty_db_url) == []


def test_a_seed_that_fails_after_migrating_leaves_no_table(settings: Settings, empty_db_url: str) -> None:
    failing = Profile(
        "failing", volumes=(Volume("OrganizationFactory", 2), Volume("UserFactory", 1, {"role": "boss"}))
    )
    with pytest.raises(FactoryError, match="ck_users_role"):  # refused by PostgreSQL, after migrating
        seed_profile(settings, failing, targets_for(empty_db_url, settings))
    assert tables(empty_db_url) == []
