"""SQLAlchemyFactory against real PostgreSQL: sessions, persistence, get_or_create, errors."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import factory
import pytest
import sqlalchemy as sa
from seedkit_reference.model_factories import (
    CustomerFactory,
    OrganizationFactory,
    ProductFactory,
    UserFactory,
)
from seedkit_reference.models import Organization, User
from sqlalchemy.orm import Session, scoped_session, sessionmaker

from seedkit.core.determinism import deterministic
from seedkit.core.ids import DEFAULT_INT_STRIDE
from seedkit.errors import FactoryError
from seedkit.factories.binding import bind


class UserByEmailFactory(UserFactory):
    class Meta:
        sqlalchemy_get_or_create = ("email",)


class CommittingOrganizationFactory(OrganizationFactory):
    class Meta:
        sqlalchemy_session_persistence = "commit"


def count(session_or_conn: Session | sa.Connection, table: str) -> int:
    return int(session_or_conn.execute(sa.text(f"SELECT count(*) FROM {table}")).scalar_one())


@pytest.fixture
def session(engine: sa.Engine) -> Iterator[Session]:
    with Session(engine) as s, deterministic(seed=3), bind(session=s):
        yield s


def test_without_a_session_create_says_how_to_bind_one(engine: sa.Engine) -> None:
    with pytest.raises(FactoryError, match=r"seedkit\.bind\(session="):
        OrganizationFactory()


def test_build_needs_no_session_and_writes_nothing(engine: sa.Engine) -> None:
    user = UserFactory.build()
    assert user.organization.id == user.organization.id and user.email.endswith("@example.com")
    with engine.connect() as conn:
        assert count(conn, "users") == 0 and count(conn, "organizations") == 0


def test_session_argument_overrides_the_bound_session_for_the_whole_call(engine: sa.Engine) -> None:
    with Session(engine) as bound, Session(engine) as explicit, bind(session=bound):
        user = UserFactory(_session=explicit)
        assert user in explicit and user.organization in explicit
        assert user not in bound and count(bound, "users") == 0
        assert count(explicit, "users") == 1


def test_meta_session_wins_over_the_bound_one(engine: sa.Engine) -> None:
    with Session(engine) as own, Session(engine) as bound:

        class OwnSessionFactory(OrganizationFactory):
            class Meta:
                sqlalchemy_session = own

        with bind(session=bound):
            org = OwnSessionFactory()
        assert org in own and org not in bound


def test_flush_is_the_default_persistence(session: Session, engine: sa.Engine) -> None:
    OrganizationFactory()
    assert count(session, "organizations") == 1  # flushed: visible in the transaction
    with engine.connect() as other:
        assert count(other, "organizations") == 0  # not committed


def test_commit_persistence_commits_each_object(session: Session, engine: sa.Engine) -> None:
    CommittingOrganizationFactory()
    with engine.connect() as other:
        assert count(other, "organizations") == 1


def test_get_or_create_returns_the_existing_row_and_keeps_earlier_writes(session: Session) -> None:
    existing = UserFactory(email="ada@example.com")
    session.commit()
    org = OrganizationFactory()  # the caller's earlier write in the new transaction
    again = UserByEmailFactory(email="ada@example.com", organization=org)
    assert again.id == existing.id
    session.commit()
    assert count(session, "users") == 1
    assert session.get(Organization, org.id) is not None


@pytest.mark.filterwarnings("ignore:New instance .* conflicts with persistent instance")
def test_get_or_create_conflict_rolls_back_only_its_savepoint(session: Session) -> None:
    existing = UserFactory(email="ada@example.com")
    session.commit()
    org = OrganizationFactory()
    # Same primary key, another email: the lookup finds nothing, the insert conflicts.
    with pytest.raises(FactoryError, match=r"UserByEmailFactory: cannot insert User, and no row matches"):
        UserByEmailFactory(id=existing.id, email="grace@example.com", organization=org)
    assert org.users == []  # the refused user is not left behind in memory
    session.commit()  # the transaction is still usable...
    with Session(session.get_bind()) as fresh:
        assert fresh.get(Organization, org.id) is not None  # ...and kept the earlier write


def test_get_or_create_losing_a_race_returns_the_winner_without_losing_the_transaction(
    engine: sa.Engine, session: Session
) -> None:
    rolled_back_savepoints: list[object] = []
    sa.event.listen(engine, "rollback_savepoint", lambda *args: rolled_back_savepoints.append(args))
    with Session(engine) as rival:
        winner = UserFactory(email="race@example.com", _session=rival)  # flushed, holds the unique key
        winner_id = winner.id
        org = OrganizationFactory()  # our earlier write

        def commit_rival_later() -> None:
            time.sleep(0.4)
            rival.commit()

        thread = threading.Thread(target=commit_rival_later)
        thread.start()
        # Not visible yet, so we insert; PostgreSQL blocks until the rival commits, then refuses.
        got = UserByEmailFactory(email="race@example.com", organization=org)
        thread.join()
    assert got.id == winner_id
    assert len(rolled_back_savepoints) == 1
    session.commit()
    with engine.connect() as other:
        assert other.execute(sa.select(Organization.id).where(Organization.id == org.id)).scalar_one()
        assert count(other, "users") == 1


def test_unknown_attribute_names_factory_attribute_and_valid_names(session: Session) -> None:
    with pytest.raises(FactoryError) as error:
        UserFactory(emial="x@example.com")
    message = str(error.value)
    assert "UserFactory: unknown attribute 'emial'" in message
    assert "did you mean 'email'?" in message
    for valid in ("email", "organization", "organization_id", "admin", "customer", "full_name"):
        assert valid in message
    assert count(session, "users") == 0


def test_unknown_attribute_of_a_sub_factory_names_the_sub_factory(session: Session) -> None:
    with pytest.raises(FactoryError, match=r"OrganizationFactory: unknown attribute 'nmae'"):
        UserFactory(organization__nmae="Acme")


def test_a_declaration_the_model_lacks_blames_the_factory_not_the_caller(session: Session) -> None:
    class OwnerFactory(OrganizationFactory):
        owner = factory.SubFactory(UserFactory)  # Organization has no 'owner'

    with pytest.raises(FactoryError) as error:
        OwnerFactory()
    message = str(error.value)
    assert message.startswith("OwnerFactory declares 'owner', but Organization has no column or relationship")
    assert "did you mean" not in message and "slug" in message


def test_passing_a_foreign_key_uses_that_row_and_builds_no_second_parent(session: Session) -> None:
    org = OrganizationFactory()
    user = UserFactory(organization_id=org.id)
    assert user.organization is org
    assert count(session, "organizations") == 1


def test_passing_an_unknown_foreign_key_is_a_clear_error(session: Session) -> None:
    missing = OrganizationFactory.build().id
    with pytest.raises(
        FactoryError, match=r"UserFactory: organization_id=UUID\('.*'\) matches no Organization"
    ):
        UserFactory(organization_id=missing)


def test_sequences_start_at_the_partition_offset(engine: sa.Engine) -> None:
    with Session(engine) as s, bind(session=s):
        with deterministic(seed=3, partition=2):
            slug = OrganizationFactory().slug
        with deterministic(seed=3, partition=0):
            first = OrganizationFactory().slug
    assert slug.endswith(f"-{2 * DEFAULT_INT_STRIDE}")
    assert first.endswith("-0")


def test_reuse_or_create_reuses_only_live_objects_of_the_same_session(session: Session) -> None:
    first = ProductFactory()  # no organization yet: creates one
    assert count(session, "organizations") == 1
    second = ProductFactory()
    assert second.organization is first.organization
    assert count(session, "organizations") == 1
    session.rollback()  # the organization is gone: it must not be reused
    third = CustomerFactory()
    assert third.organization is not first.organization
    assert count(session, "organizations") == 1


def test_reuse_or_create_drops_objects_that_left_the_session_and_keeps_those_that_came_back(
    session: Session,
) -> None:
    expunged, deleted, returned = OrganizationFactory.create_batch(3)
    session.expunge(expunged)
    session.delete(deleted)
    session.flush()
    session.expunge(returned)
    session.add(returned)  # detached, then persistent again before the next pick
    products = ProductFactory.create_batch(20)
    assert {p.organization.id for p in products} == {returned.id}
    assert count(session, "organizations") == 2  # expunged and returned; nothing new created
    session.expunge(returned)
    assert ProductFactory().organization not in (expunged, deleted, returned)


def test_reuse_or_create_with_a_scoped_session_drops_parents_that_left_it(engine: sa.Engine) -> None:
    scoped = scoped_session(sessionmaker(engine))  # what factory_boy users keep in Meta.sqlalchemy_session
    try:
        with deterministic(seed=3):
            gone = ProductFactory(_session=scoped).organization
            scoped.expunge(gone)
            assert ProductFactory(_session=scoped).organization is not gone
    finally:
        scoped.remove()


def test_reuse_or_create_with_overrides_creates_a_new_parent(session: Session) -> None:
    org = OrganizationFactory()
    product = ProductFactory(organization__name="Other Shop")
    assert product.organization is not org and product.organization.name == "Other Shop"


def test_users_by_role_traits(session: Session) -> None:
    assert UserFactory(admin=True).role == "admin"
    assert UserFactory(customer=True).role == "customer"
    assert UserFactory().role == "member"
    assert {row for (row,) in session.execute(sa.select(User.role))} == {"admin", "customer", "member"}
