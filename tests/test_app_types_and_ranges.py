"""Types on an application's own models: one time-zone rule on every path, Python enums in packs,
integers that never wrap."""

from __future__ import annotations

import datetime as dt
import enum
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import factory
import pytest
import sqlalchemy as sa
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column
from test_packs_support import write_pack

import seedkit
from seedkit.bulk import BulkSeeder, seed_partitioned
from seedkit.core.declarations import IntegerFor
from seedkit.core.determinism import deterministic
from seedkit.errors import FactoryError
from seedkit.factories.binding import bind
from seedkit.packs import apply_packs, resolve_packs

NEW_YORK_3PM = dt.datetime(2025, 1, 1, 10, 40, tzinfo=dt.timezone(dt.timedelta(hours=-5)))


class Priority(enum.Enum):
    low = "low"
    normal = "normal"


class Base(DeclarativeBase):
    pass


class Event(Base):
    __tablename__ = "events"
    id: Mapped[int] = mapped_column(sa.Integer, primary_key=True, autoincrement=False)
    at: Mapped[dt.datetime] = mapped_column(sa.DateTime(timezone=True))
    local: Mapped[dt.datetime] = mapped_column(sa.DateTime(timezone=False))
    priority: Mapped[Priority] = mapped_column(sa.Enum(Priority, name="priority"))


class EventFactory(seedkit.SQLAlchemyFactory):
    class Meta:
        model = Event

    id = factory.Sequence(lambda n: n + 1)
    at = dt.datetime(2025, 1, 1, 15, 40)  # naive: UTC
    local = NEW_YORK_3PM  # aware into timestamp without time zone: converted to UTC
    priority = Priority.normal


class HugeIdEventFactory(EventFactory):
    id = factory.Sequence(lambda n: n + 2**31)


class KeyedEventFactory(EventFactory):
    id = IntegerFor("events")


@pytest.fixture
def new_york(empty_db_url: str) -> Iterator[sa.Engine]:
    """The application's tables, on a server whose sessions run in America/New_York."""
    engine = sa.create_engine(empty_db_url)
    with engine.begin() as conn:
        name = engine.url.database
        conn.execute(sa.text(f"ALTER DATABASE \"{name}\" SET timezone = 'America/New_York'"))
    engine.dispose()
    engine = sa.create_engine(empty_db_url)
    Base.metadata.create_all(engine)
    yield engine
    engine.dispose()


def stored(engine: sa.Engine) -> list[tuple[Any, ...]]:
    with engine.connect() as conn:
        conn.execute(sa.text("SET TimeZone = 'UTC'"))
        query = "SELECT at::text, local::text, priority::text FROM events ORDER BY id"
        return [tuple(row) for row in conn.execute(sa.text(query))]


EXPECTED = ("2025-01-01 15:40:00+00", "2025-01-01 15:40:00", "normal")


def test_per_object_path_stores_the_same_instant_whatever_the_servers_time_zone(new_york: sa.Engine) -> None:
    with deterministic(1), Session(new_york) as session, bind(session=session):
        EventFactory()
        session.commit()
    assert stored(new_york) == [EXPECTED]


def test_bulk_path_applies_the_same_rule(new_york: sa.Engine) -> None:
    with deterministic(1), new_york.connect() as conn:
        with BulkSeeder(conn) as seeder:  # used to fail: can't subtract offset-naive and offset-aware
            seeder.create(EventFactory, 2)
        conn.commit()
    assert stored(new_york) == [EXPECTED, EXPECTED]


def test_a_python_enum_member_built_by_a_factory_loads_in_a_pack(tmp_path: Path, new_york: sa.Engine) -> None:
    write_pack(tmp_path, "events", {"events.yaml": "first:\n  _factory: EventFactory\n"})
    with deterministic(0) as context, new_york.connect() as conn:
        counts = apply_packs(
            resolve_packs(["events"], [tmp_path]),
            connection=conn,
            mongo=None,
            context=context,
            factory_modules=[__name__],
        )
    assert counts == {"pg:events": 1}
    assert stored(new_york) == [EXPECTED]


def test_an_integer_the_column_cannot_hold_is_refused_naming_table_and_column(new_york: sa.Engine) -> None:
    with deterministic(1), new_york.connect() as conn:
        # binary COPY used to write it wrapped to a negative number
        with (
            pytest.raises(FactoryError, match=r"events\.id = 2147483648 does not fit INTEGER"),
            BulkSeeder(conn) as seeder,
        ):
            seeder.create(HugeIdEventFactory, 1)
        conn.rollback()
    assert stored(new_york) == []


def test_partitions_whose_keys_outgrow_an_integer_column_are_refused_up_front(
    new_york: sa.Engine, empty_db_url: str
) -> None:
    with pytest.raises(FactoryError, match=r"KeyedEventFactory\.id \(IntegerFor\) feeds events\.id"):
        seed_partitioned(empty_db_url, [(KeyedEventFactory, 8, {})], seed=1, partition_size=2)
    assert stored(new_york) == []
