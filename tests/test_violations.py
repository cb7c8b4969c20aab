"""Constraint violations while seeding, in one line: the table, the constraint and its columns (from
``pg_constraint``), the duplicate key, the NOT NULL column, and the factory that made the rows;
never a dump of the row (``Failing row contains (...)``). Both stores stay as they were."""

from __future__ import annotations

import dataclasses
import os
import signal
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from conftest import create_database, drop_database
from test_packs_support import DOMAIN_FACTORIES, write_pack

from seedkit.core.determinism import deterministic
from seedkit.errors import FactoryError, PackError, SeedkitError
from seedkit.packs import apply_packs, resolve_packs
from seedkit.seeding.config import BUILTIN_CONFIG, Profile, Settings, Volume, load_settings
from seedkit.seeding.runner import seed_profile
from seedkit.seeding.targets import Targets, open_targets
from seedkit.stores.fingerprint import Fingerprint, fingerprint
from seedkit.stores.violations import describe_violation, read_constraints

ROLE_CHECK = (
    "CHECK (((role)::text = ANY ((ARRAY['admin'::character varying, 'member'::character varying, "
    "'customer'::character varying])::text[])))"
)


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return dataclasses.replace(load_settings(BUILTIN_CONFIG), state_dir=tmp_path / ".seedkit")


@pytest.fixture
def targets(db_url: str, settings: Settings) -> Targets:
    """The reference schema, and mongomock kept in the state directory."""
    return Targets(db_url, None, f"test_{uuid.uuid4().hex[:8]}", settings.state_dir, embedded=False)


def stores(targets: Targets) -> Fingerprint:
    with open_targets(targets) as (engine, db), engine.connect() as conn:
        return fingerprint(conn, db)


def refused(settings: Settings, targets: Targets, *volumes: Volume, workers: int | None = None) -> str:
    before = stores(targets)
    with pytest.raises(SeedkitError) as error:
        seed_profile(settings, Profile("p", volumes=volumes), targets, workers=workers, partition_size=2)
    after = stores(targets)
    assert after == before  # with workers too: the collections the run made are dropped again
    message = str(error.value)
    assert "\n" not in message and "Failing row" not in message and "COPY" not in message
    return message


def test_a_check_violation_in_a_volume_names_the_table_constraint_and_columns(
    settings: Settings, targets: Targets
) -> None:
    message = refused(
        settings, targets, Volume("OrganizationFactory", 1), Volume("UserFactory", 3, {"role": "boss"})
    )
    assert message == (
        "profile 'p', volumes[1] (UserFactory x 3): table users: CHECK constraint ck_users_role on (role) "
        f"is violated: {ROLE_CHECK} (rows made by UserFactory)"
    )


def test_a_check_violation_in_a_related_factorys_rows_names_that_factory(
    settings: Settings, targets: Targets
) -> None:
    message = refused(
        settings, targets, Volume("CustomerFactory", 2, {"orders": 1, "orders__status": "lost"})
    )
    assert message.startswith(
        "profile 'p', volumes[0] (CustomerFactory x 2): table orders: CHECK constraint ck_orders_status on "
        "(status) is violated: CHECK "
    )
    assert message.endswith("(rows made by OrderFactory)")


def test_a_unique_violation_in_a_volume_names_the_key_and_the_duplicate(
    settings: Settings, targets: Targets
) -> None:
    message = refused(settings, targets, Volume("OrganizationFactory", 2, {"slug": "same"}))
    assert message == (
        "profile 'p', volumes[0] (OrganizationFactory x 2): table organizations: unique constraint "
        "uq_organizations_slug on (slug): the key (slug)=(same) already exists (rows made by OrganizationFactory)"
    )


def test_a_not_null_violation_names_the_column_and_the_factory(settings: Settings, targets: Targets) -> None:
    message = refused(
        settings, targets, Volume("OrganizationFactory", 1), Volume("UserFactory", 1, {"email": None})
    )
    assert message == (
        "profile 'p', volumes[1] (UserFactory x 1): users.email is null, but the column is NOT NULL "
        "(rows made by UserFactory)"
    )


def test_with_workers_the_same_line_comes_back_from_the_partitions(
    settings: Settings, targets: Targets
) -> None:
    message = refused(settings, targets, Volume("UserFactory", 5, {"role": "boss"}), workers=2)
    assert message == (
        "profile 'p': seeding the volumes with 2 worker(s) failed: table users: CHECK constraint ck_users_role "
        f"on (role) is violated: {ROLE_CHECK} (rows made by UserFactory); nothing was kept: both stores are "
        "as they were"
    )


@pytest.mark.mongo
def test_a_check_violation_in_a_pack_is_located_at_the_constrained_column(
    tmp_path: Path, engine: sa.Engine, mongo_db: Any
) -> None:
    write_pack(tmp_path, "bad", {"organizations.yaml": "acme:\n  name: Acme\n  slug: acme\n"})
    write_pack(
        tmp_path,
        "worse",
        {
            "users.yaml": 'bo:\n  organization_id: "@organizations.acme"\n  email: b@x.org\n'
            "  full_name: Bo\n  role: boss\n"
        },
        depends_on=("bad",),
    )
    with deterministic(1) as context, engine.connect() as conn, pytest.raises(PackError) as error:
        apply_packs(
            resolve_packs(["worse"], [tmp_path]),
            connection=conn,
            mongo=mongo_db,
            context=context,
            factory_modules=DOMAIN_FACTORIES,
        )
    assert error.value.field == "role"
    assert (
        error.value.reason
        == f"cannot insert: table users: CHECK constraint ck_users_role on (role) is violated: {ROLE_CHECK}"
    )


@pytest.fixture
def app_engine(pg_server_url: str) -> Iterator[sa.Engine]:
    name = f"test_{uuid.uuid4().hex[:12]}"
    engine = sa.create_engine(create_database(pg_server_url, name))
    with engine.begin() as conn:
        conn.exec_driver_sql(
            "CREATE SCHEMA billing; CREATE TABLE billing.invoices (id int PRIMARY KEY, low int, high int, "
            "CONSTRAINT ordered CHECK (low <= high), CONSTRAINT one_per_low EXCLUDE USING btree (low WITH =))"
        )
    yield engine
    engine.dispose()
    drop_database(pg_server_url, name)


def violation(engine: sa.Engine, statement: str) -> str | None:
    with engine.connect() as conn:
        constraints = read_constraints(conn)
        try:
            conn.exec_driver_sql(statement)
        except sa.exc.DBAPIError as exc:
            return describe_violation(exc, constraints)
    raise AssertionError("the statement passed")


def test_multi_column_checks_and_exclusions_in_another_schema(app_engine: sa.Engine) -> None:
    assert violation(app_engine, "INSERT INTO billing.invoices VALUES (1, 5, 2)") == (
        "table billing.invoices: CHECK constraint ordered on (low, high) is violated: CHECK ((low <= high))"
    )
    assert violation(app_engine, "INSERT INTO billing.invoices VALUES (1, 1, 2), (2, 1, 3)") == (
        "table billing.invoices: exclusion constraint one_per_low on (low): the key (low)=(1) conflicts with "
        "existing key (low)=(1)"
    )
    assert violation(app_engine, "INSERT INTO billing.invoices VALUES (1, 1, 2), (1, 2, 3)") == (
        "table billing.invoices: primary key constraint invoices_pkey on (id): the key (id)=(1) already exists"
    )


def test_without_the_catalog_the_constraint_is_still_named(app_engine: sa.Engine) -> None:
    with app_engine.connect() as conn, pytest.raises(sa.exc.DBAPIError) as error:
        conn.exec_driver_sql("INSERT INTO billing.invoices VALUES (1, 5, 2)")
    assert describe_violation(error.value) == "table billing.invoices: CHECK constraint ordered is violated"
    assert describe_violation(FactoryError("no database here")) is None


DUPLICATE_EMAILS = '''
import uuid

import factory
from seedkit_reference.model_factories import UserFactory


class DuplicateEmailUserFactory(UserFactory):
    """Partition 1 makes u0..u2, partition 2 makes them again: a unique value written by two partitions."""

    email = factory.Sequence(lambda n: f"u{n % 3}@dup.example")


class DuplicateKeyUserFactory(UserFactory):
    """The same primary keys in both partitions."""

    id = factory.Sequence(lambda n: uuid.UUID(int=n % 3 + 1))
'''

SEED_IN_A_CHILD = """
import dataclasses, sys
from pathlib import Path
from seedkit.errors import SeedkitError
from seedkit.seeding.config import BUILTIN_CONFIG, Profile, Volume, load_settings
from seedkit.seeding.runner import seed_profile
from seedkit.seeding.targets import Targets

url, mongo, state, name = sys.argv[1:]
settings = dataclasses.replace(load_settings(BUILTIN_CONFIG), state_dir=Path(state))
volume = Volume(f"duplicate_emails:{name}", 6)
try:
    seed_profile(
        settings, Profile("p", volumes=(volume,)), Targets(url, None, mongo, Path(state), embedded=False),
        workers=2, partition_size=3,
    )
except SeedkitError as error:
    print(error)
    sys.exit(1)
"""


@pytest.mark.parametrize(
    ("factory_name", "constraint"),
    [
        ("DuplicateEmailUserFactory", "unique constraint uq_users_email on (email)"),
        ("DuplicateKeyUserFactory", "primary key pk_users on (id)"),
    ],
)
def test_a_unique_value_written_by_two_partitions_fails_in_one_line_and_keeps_nothing(
    settings: Settings, targets: Targets, tmp_path: Path, factory_name: str, constraint: str
) -> None:
    # The second partition's COPY used to wait forever on the first's prepared transaction,
    # and the coordinator waited for the second: `seedkit seed --workers 2` hung.
    (tmp_path / "duplicate_emails.py").write_text(DUPLICATE_EMAILS)
    before = stores(targets)
    child = subprocess.Popen(
        [
            sys.executable,
            "-c",
            SEED_IN_A_CHILD,
            targets.database_url,
            targets.mongo_database,
            str(settings.state_dir),
            factory_name,
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": f"{tmp_path}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"},
        start_new_session=True,  # its worker processes too are ended if it hangs
    )
    try:
        stdout, stderr = child.communicate(timeout=240)  # a guard against the hang, not a measurement
    except subprocess.TimeoutExpired:
        os.killpg(child.pid, signal.SIGKILL)
        child.communicate()
        pytest.fail("seeding with 2 workers hung on a unique value written by two partitions")
    assert child.returncode == 1, stderr
    # Which of the two waits happens depends on timing: the second partition's write waits on the
    # first's prepared transaction, or both are still open and PostgreSQL reports the deadlock.
    assert stdout.strip() in {
        f"profile 'p': seeding the volumes with 2 worker(s) failed: table users: {constraint}: {waited}; nothing "
        "was kept: both stores are as they were"
        for waited in (
            "a write waited on another partition's prepared transaction, probably a unique value written by two "
            "partitions",
            "two partitions' writes waited on each other (a deadlock), probably a unique value written by both",
        )
    }
    assert stores(targets) == before
