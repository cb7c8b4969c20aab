"""The bulk path writes every factory's rows through the caller's connection, whatever session a
factory keeps: factory_boy's ``Meta.sqlalchemy_session`` and ``sqlalchemy_session_factory``, on
the volume's factory and on its SubFactory and RelatedFactory children. Otherwise their rows go
to another transaction, which the caller's commit does not commit, and the seeder reports 0 rows.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import factory
import pytest
import sqlalchemy as sa
from conftest import create_database, drop_database
from sqlalchemy.orm import (
    DeclarativeBase,
    Mapped,
    Session,
    mapped_column,
    relationship,
    scoped_session,
    sessionmaker,
)

import seedkit
from seedkit.bulk import BulkSeeder
from seedkit.bulk.partitions import VolumeSpec, seed_partitioned
from seedkit.core.declarations import IntegerFor
from seedkit.core.determinism import deterministic
from seedkit.errors import FactoryError
from seedkit.seeding.config import Profile, Volume, load_settings
from seedkit.seeding.runner import seed_stores

# The factories' own session, bound (in the fixture) to another engine on the same database:
# what a factory_boy project keeps in Meta.
OwnSession = scoped_session(sessionmaker())


class Base(DeclarativeBase):
    pass


class Team(Base):
    __tablename__ = "teams"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(50))


class Player(Base):
    __tablename__ = "players"
    id: Mapped[int] = mapped_column(sa.BigInteger, primary_key=True, autoincrement=False)
    team_id: Mapped[int] = mapped_column(sa.ForeignKey("teams.id"))
    team: Mapped[Team] = relationship()


class Badge(Base):
    __tablename__ = "badges"
    id: Mapped[int] = mapped_column(sa.BigInteger, primary_key=True)
    player_id: Mapped[int] = mapped_column(sa.BigInteger, sa.ForeignKey("players.id"))


class TeamFactory(seedkit.SQLAlchemyFactory):
    class Meta:
        model = Team
        sqlalchemy_session = OwnSession
        sqlalchemy_session_persistence = "commit"

    name = factory.Sequence(lambda n: f"team {n}")


class BadgeFactory(seedkit.SQLAlchemyFactory):
    class Meta:
        model = Badge
        sqlalchemy_session_factory = lambda: OwnSession()  # noqa: E731

    id = IntegerFor("badges")


class PlayerFactory(seedkit.SQLAlchemyFactory):
    class Meta:
        model = Player
        sqlalchemy_session = OwnSession
        sqlalchemy_session_persistence = "flush"

    id = IntegerFor("players")
    team = factory.SubFactory(TeamFactory)
    badge = factory.RelatedFactory(BadgeFactory, player_id=factory.SelfAttribute("..id"))


class SelfSessionFactory(seedkit.SQLAlchemyFactory):
    """A factory whose ``_create`` opens a session of its own: no binding can redirect it."""

    class Meta:
        model = Team

    name = "solo"

    @classmethod
    def _create(cls, model_class: type, *args: Any, **kwargs: Any) -> Any:
        session = OwnSession()
        obj = model_class(*args, **kwargs)
        session.add(obj)
        session.flush()
        return obj


@pytest.fixture
def app_url(pg_server_url: str) -> Iterator[str]:
    name = f"test_{uuid.uuid4().hex[:12]}"
    url = create_database(pg_server_url, name)
    engine = sa.create_engine(url)
    Base.metadata.create_all(engine)
    engine.dispose()
    other = sa.create_engine(url)
    OwnSession.configure(bind=other)
    yield url
    OwnSession.remove()
    other.dispose()
    drop_database(pg_server_url, name)


def counts(url: str) -> dict[str, int]:
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            return {
                table: conn.execute(sa.text(f"SELECT count(*) FROM {table}")).scalar_one()
                for table in ("teams", "players", "badges")
            }
    finally:
        engine.dispose()


def test_bulk_writes_the_rows_of_factories_that_keep_their_own_session(app_url: str) -> None:
    engine = sa.create_engine(app_url)
    with deterministic(3), engine.connect() as conn:
        with BulkSeeder(conn, chunk_size=4) as seeder:
            seeder.create(PlayerFactory, 10)
            seeder.create(TeamFactory, 2)
        conn.commit()
    engine.dispose()
    found = counts(app_url)
    assert found == {"teams": 12, "players": 10, "badges": 10}
    assert dict(seeder.rows) == found  # the seeder's counts are the rows the tables hold


def test_those_rows_are_in_the_callers_transaction(app_url: str) -> None:
    engine = sa.create_engine(app_url)
    with deterministic(3), engine.connect() as conn:
        with BulkSeeder(conn) as seeder:
            seeder.create(PlayerFactory, 3)
        assert seeder.rows["players"] == 3
        conn.rollback()  # nothing was committed elsewhere: the rollback takes everything back
    engine.dispose()
    assert counts(app_url) == {"teams": 0, "players": 0, "badges": 0}


def test_seed_volumes_write_them_too(app_url: str, tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SEEDKIT_CONFIG", raising=False)
    settings = load_settings(cwd=tmp_path)
    profile = Profile("own", volumes=(Volume("test_bulk_sessions:PlayerFactory", 5),))
    engine = sa.create_engine(app_url)
    with engine.connect() as conn:
        seed_stores(settings, profile, conn, None, seed=1)  # type: ignore[arg-type]
        conn.commit()
    engine.dispose()
    assert counts(app_url) == {"teams": 5, "players": 5, "badges": 5}


@pytest.mark.parametrize("bulk", [True, False])
def test_partitions_write_them_in_their_own_transaction(app_url: str, bulk: bool) -> None:
    result = seed_partitioned(
        app_url, [VolumeSpec(PlayerFactory, 7)], seed=2, partition_size=3, workers=1, bulk=bulk
    )
    assert result.partitions == 3
    assert counts(app_url) == {"teams": 7, "players": 7, "badges": 7}
    if bulk:
        assert dict(result.rows) == counts(app_url)


def test_a_factory_that_opens_its_own_session_is_refused_before_writing(app_url: str) -> None:
    engine = sa.create_engine(app_url)
    refused = pytest.raises(
        FactoryError, match=r"SelfSessionFactory: its code .* ran SQL .*\(INSERT INTO teams"
    )
    with deterministic(3), engine.connect() as conn:
        with refused, BulkSeeder(conn) as seeder:
            seeder.create(SelfSessionFactory, 2)
        conn.commit()
    OwnSession.rollback()
    engine.dispose()
    assert counts(app_url)["teams"] == 0


def test_per_object_creation_keeps_factory_boys_meta_session(app_url: str) -> None:
    """Outside the bulk path, factory_boy's rule stands: Meta.sqlalchemy_session wins over the bound one."""
    engine = sa.create_engine(app_url)
    with deterministic(3), Session(engine) as bound, seedkit.bind(session=bound):
        team = TeamFactory()
        assert sa.inspect(team).session is OwnSession()
        bound.rollback()
    engine.dispose()
    assert counts(app_url)["teams"] == 1  # committed by its own session (persistence "commit")
