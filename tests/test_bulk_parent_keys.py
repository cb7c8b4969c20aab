"""Parents whose key the database generates, made by factories that do not declare it, in bulk.

The bulk path reads children's foreign keys from their parents before anything is written, so a
database-generated parent key must be reserved first: from the key's sequence (serial, identity,
a ``Sequence`` on the column, a ``nextval`` default on a sequence the column does not own), or
its default expression. A key only a trigger sets cannot be: then one line names the volume's
factory, the key column and the factory to declare it in, and nothing is written.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import factory
import pytest
import sqlalchemy as sa
from conftest import create_database, drop_database
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column, relationship

import seedkit
from seedkit.bulk import BulkSeeder
from seedkit.core.determinism import deterministic
from seedkit.errors import FactoryError
from seedkit.factories.alchemy import ReuseOrCreate


class Base(DeclarativeBase):
    pass


LEAGUE_IDS = sa.Sequence("league_ids", start=100)


class League(Base):
    """Keyed by a ``Sequence`` SQLAlchemy calls itself: the table has no default."""

    __tablename__ = "leagues"
    id: Mapped[int] = mapped_column(LEAGUE_IDS, primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(50))


class Club(Base):
    """Keyed by a ``nextval`` default on a sequence the column does not own."""

    __tablename__ = "clubs"
    id: Mapped[int] = mapped_column(
        primary_key=True, autoincrement=False, server_default=sa.text("nextval('club_ids')")
    )
    league_id: Mapped[int] = mapped_column(sa.ForeignKey("leagues.id"))
    league: Mapped[League] = relationship()


class Venue(Base):
    """Keyed by a trigger: nothing to reserve a key from."""

    __tablename__ = "venues"
    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False, server_default=sa.FetchedValue())
    name: Mapped[str] = mapped_column(sa.String(50))


class Match(Base):
    __tablename__ = "matches"
    id: Mapped[int] = mapped_column(primary_key=True)
    club_id: Mapped[int] = mapped_column(sa.ForeignKey("clubs.id"))
    venue_id: Mapped[int | None] = mapped_column(sa.ForeignKey("venues.id"))
    club: Mapped[Club] = relationship()
    venue: Mapped[Venue | None] = relationship()


class LeagueFactory(seedkit.SQLAlchemyFactory):
    class Meta:
        model = League

    name = factory.Sequence(lambda n: f"league {n}")


class ClubFactory(seedkit.SQLAlchemyFactory):
    class Meta:
        model = Club

    league = ReuseOrCreate(LeagueFactory)


class VenueFactory(seedkit.SQLAlchemyFactory):
    class Meta:
        model = Venue

    name = factory.Sequence(lambda n: f"venue {n}")


class MatchFactory(seedkit.SQLAlchemyFactory):
    class Meta:
        model = Match

    club = factory.SubFactory(ClubFactory)
    venue = None


class VenueMatchFactory(MatchFactory):
    venue = factory.SubFactory(VenueFactory)


class PooledVenueMatchFactory(MatchFactory):
    venue = ReuseOrCreate(VenueFactory)


TRIGGER = """
CREATE SEQUENCE club_ids START 500;
CREATE SEQUENCE venue_ids;
CREATE FUNCTION venue_key() RETURNS trigger LANGUAGE plpgsql AS
  $$ BEGIN NEW.id := nextval('venue_ids'); RETURN NEW; END $$;
"""


@pytest.fixture
def app_engine(pg_server_url: str) -> Iterator[sa.Engine]:
    name = f"test_{uuid.uuid4().hex[:12]}"
    engine = sa.create_engine(create_database(pg_server_url, name))
    with engine.begin() as conn:
        conn.exec_driver_sql(TRIGGER)
        Base.metadata.create_all(conn)
        conn.exec_driver_sql(
            "CREATE TRIGGER venue_key BEFORE INSERT ON venues FOR EACH ROW EXECUTE FUNCTION venue_key()"
        )
    yield engine
    engine.dispose()
    drop_database(pg_server_url, name)


def rows(engine: sa.Engine) -> list[tuple[Any, ...]]:
    with engine.connect() as conn:
        query = (
            "SELECT m.id, c.id, l.id, l.name FROM matches m JOIN clubs c ON c.id = m.club_id "
            "JOIN leagues l ON l.id = c.league_id ORDER BY m.id"
        )
        return [tuple(row) for row in conn.execute(sa.text(query))]


def restart(engine: sa.Engine) -> None:
    with engine.begin() as conn:
        conn.exec_driver_sql("TRUNCATE matches, clubs, leagues, venues RESTART IDENTITY")
        conn.exec_driver_sql("ALTER SEQUENCE league_ids RESTART; ALTER SEQUENCE club_ids RESTART")


@pytest.mark.parametrize("row_path", [True, False])
def test_sequence_and_nextval_default_keys_are_reserved_in_bulk(
    app_engine: sa.Engine, row_path: bool
) -> None:
    with deterministic(4), app_engine.connect() as conn:
        with BulkSeeder(conn, chunk_size=3, row_path=row_path) as seeder:
            seeder.create(LeagueFactory, 2)
            seeder.create(MatchFactory, 7)
        conn.commit()
    bulk = rows(app_engine)
    assert len(bulk) == 7
    assert {row[2] for row in bulk} == {100, 101}  # the leagues' own Sequence, reused by ReuseOrCreate
    assert [row[1] for row in bulk] == list(range(500, 507))  # the clubs' nextval default
    assert dict(seeder.rows) == {"leagues": 2, "clubs": 7, "matches": 7}

    restart(app_engine)
    with deterministic(4), Session(app_engine) as session, seedkit.bind(session=session):
        LeagueFactory.create_batch(2)
        MatchFactory.create_batch(7)
        session.commit()
    assert rows(app_engine) == bulk  # the per-object path writes the same rows


def venues_and_matches(engine: sa.Engine) -> tuple[int, int]:
    with engine.connect() as conn:
        return (
            conn.execute(sa.text("SELECT count(*) FROM venues")).scalar_one(),
            conn.execute(sa.text("SELECT count(*) FROM matches")).scalar_one(),
        )


@pytest.mark.parametrize("row_path", [True, False])
def test_a_child_of_a_parent_keyed_by_a_trigger_gets_one_line(app_engine: sa.Engine, row_path: bool) -> None:
    with deterministic(4), app_engine.connect() as conn:
        with pytest.raises(FactoryError) as refused, BulkSeeder(conn, row_path=row_path) as seeder:
            seeder.create(VenueMatchFactory, 3)
        conn.commit()
    assert str(refused.value) == (
        "bulk seeding (VenueMatchFactory): matches.venue_id refers to a Venue whose key venues.id the "
        "database generates as the row is written (no sequence or default to reserve it from), so it is "
        'not known before; declare it in VenueFactory: `id = IntegerFor("venues")`; nothing of this '
        "chunk was written"
    )
    assert venues_and_matches(app_engine) == (0, 0)


@pytest.mark.parametrize("row_path", [True, False])
def test_a_reuse_pool_of_parents_keyed_by_a_trigger_gets_one_line(
    app_engine: sa.Engine, row_path: bool
) -> None:
    with deterministic(4), app_engine.connect() as conn:
        with (
            pytest.raises(
                FactoryError, match=r"^bulk seeding \(VenueFactory\): a Venue kept for later calls"
            ),
            BulkSeeder(conn, row_path=row_path) as seeder,
        ):
            seeder.create(VenueFactory, 2)
            seeder.create(PooledVenueMatchFactory, 3)
        conn.commit()
    assert venues_and_matches(app_engine) == (0, 0)


def test_the_per_object_path_reads_such_keys_back(app_engine: sa.Engine) -> None:
    with deterministic(4), Session(app_engine) as session, seedkit.bind(session=session):
        matches = VenueMatchFactory.create_batch(2)
        session.commit()
        assert [match.venue_id for match in matches] == [1, 2]
    assert venues_and_matches(app_engine) == (2, 2)
