"""A pytest-factoryboy project on seedkit's factories (run by tests/test_pytest_factoryboy.py, with -n 2).

``register()`` makes fixtures of the reference domain's factories; the tests ask for them in
every order with seedkit's fixtures, under three isolation strategies, and write what they saw
(the rows they did not make themselves, the first generated email) to SEEDKIT_SAMPLE_OUT.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from pytest_factoryboy import register
from seedkit_reference.model_factories import OrganizationFactory, UserFactory
from seedkit_reference.models import Organization, User

from seedkit.core.ids import IdGenerator

register(OrganizationFactory)
register(UserFactory)
register(UserFactory, "admin_user", role="admin")

STRATEGIES = ("rollback", "truncate", "snapshot")
ROUNDS = 2
EVERY = [
    pytest.param(strategy, number, marks=pytest.mark.seedkit(strategy=strategy), id=f"{strategy}-{number}")
    for strategy in STRATEGIES
    for number in range(ROUNDS)
]


def record(
    request: pytest.FixtureRequest,
    session: Any,
    strategy: str,
    *,
    users: int,
    organizations: int,
    first: User | None,
) -> None:
    """Write the rows this test did not make (the seed, and anything a previous test left)."""
    seen = {
        "strategy": strategy,
        "other_users": session.scalar(sa.select(sa.func.count()).select_from(User)) - users,
        "other_organizations": session.scalar(sa.select(sa.func.count()).select_from(Organization))
        - organizations,
        "first_email": first.email if first is not None else None,
        "made_by": request.node.originalname,
    }
    name = re.sub(r"[^A-Za-z0-9]+", "_", request.node.nodeid)
    (Path(os.environ["SEEDKIT_SAMPLE_OUT"]) / f"{name}.json").write_text(json.dumps(seen))


@pytest.mark.parametrize(("strategy", "number"), EVERY)
def test_model_fixture_first(
    user: User, seedkit_session: Any, request: Any, strategy: str, number: int
) -> None:
    assert user in seedkit_session and user.organization in seedkit_session
    record(request, seedkit_session, strategy, users=1, organizations=1, first=user)


@pytest.mark.parametrize(("strategy", "number"), EVERY)
def test_session_first(seedkit_session: Any, user: User, request: Any, strategy: str, number: int) -> None:
    assert user in seedkit_session
    record(request, seedkit_session, strategy, users=1, organizations=1, first=user)


@pytest.mark.usefixtures("seedkit_handle")
@pytest.mark.parametrize(("strategy", "number"), EVERY)
def test_only_model_fixtures(admin_user: User, user: User, request: Any, strategy: str, number: int) -> None:
    session = sa.inspect(user).session
    assert admin_user.role == "admin" and user.role == "member"
    record(request, session, strategy, users=2, organizations=1, first=admin_user)  # one shared organization


@pytest.mark.parametrize("user__full_name", ["Ada Lovelace"])
@pytest.mark.parametrize(("strategy", "number"), EVERY)
def test_attribute_fixture(user: User, seedkit_db_url: str, request: Any, strategy: str, number: int) -> None:
    session = sa.inspect(user).session
    assert session.scalar(sa.select(User.full_name).where(User.id == user.id)) == "Ada Lovelace"
    record(request, session, strategy, users=1, organizations=1, first=None)  # its own name


@pytest.mark.parametrize(("strategy", "number"), EVERY)
def test_factory_fixture(
    user_factory: type[UserFactory], seedkit_mongo: Any, request: Any, strategy: str, number: int
) -> None:
    made = user_factory.create_batch(3)
    session = sa.inspect(made[0]).session
    record(request, session, strategy, users=3, organizations=3, first=made[0])


@pytest.fixture
def built_user() -> User:
    """A fixture of the project's own that builds with a factory (no database)."""
    return UserFactory.build()


def test_a_building_fixture_before_the_context(built_user: User, seedkit_deterministic: Any) -> None:
    # built in the test's context (its seed, partition 1), not in the default one
    assert built_user.id == IdGenerator(seed=seedkit_deterministic.seed, partition=1).uuid("users")
