"""Mapper flush events (before_insert, after_insert) in bulk seeding: run as a flush runs them.

COPY runs no flush events: a ``before_insert`` listener that sets a column used to leave it NULL
in bulk, and ``seedkit plan`` called the model plain (row path). Now such a factory takes the ORM
path, whose writes call the listeners per object, in insertion order, as flush does.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import factory
import pytest
import sqlalchemy as sa
from bulk_comparison import two_databases as new_databases
from sqlalchemy import event
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column, relationship

from seedkit.bulk import BulkSeeder
from seedkit.bulk.paths import decide
from seedkit.core.declarations import UUIDFor
from seedkit.core.determinism import deterministic
from seedkit.factories.alchemy import SQLAlchemyFactory
from seedkit.factories.binding import bind
from seedkit.stores.fingerprint import fingerprint


class Base(DeclarativeBase):
    pass


class Pad(Base):
    __tablename__ = "pads"
    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(100))
    stamps: Mapped[list[Stamp]] = relationship(back_populates="pad")


class Stamp(Base):
    __tablename__ = "stamps"
    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    pad_id: Mapped[uuid.UUID | None] = mapped_column(sa.ForeignKey("pads.id"))
    label: Mapped[str] = mapped_column(sa.String(100))
    stamp: Mapped[str | None] = mapped_column(sa.String(200))
    pad: Mapped[Pad | None] = relationship(back_populates="stamps")


SEEN: list[tuple[str, str, int]] = []
"""(event, label, rows of the stamp in the database when the listener ran)."""


def _rows(connection: sa.Connection, target: Stamp) -> int:
    return int(
        connection.execute(
            sa.text("SELECT count(*) FROM stamps WHERE id = :i"), {"i": target.id}
        ).scalar_one()
    )


@event.listens_for(Stamp, "before_insert")
def _stamp(mapper: Any, connection: sa.Connection, target: Stamp) -> None:
    target.stamp = f"{target.label}#{sum(name == 'before_insert' for name, *_ in SEEN)}"
    SEEN.append(("before_insert", target.label, _rows(connection, target)))


@event.listens_for(Stamp, "after_insert")
def _inserted(mapper: Any, connection: sa.Connection, target: Stamp) -> None:
    SEEN.append(("after_insert", target.label, _rows(connection, target)))


class PadFactory(SQLAlchemyFactory):
    class Meta:
        model = Pad

    id = UUIDFor("pads")
    name = factory.Faker("word")
    stamps = factory.RelatedFactoryList("test_bulk_flush_events.StampFactory", "pad", size=2)


class StampFactory(SQLAlchemyFactory):
    class Meta:
        model = Stamp

    id = UUIDFor("stamps")
    pad = None
    label = factory.Sequence(lambda n: f"s{n}")


@pytest.fixture
def two_databases(pg_server_url: str) -> Iterator[tuple[str, str]]:
    with new_databases(pg_server_url, Base.metadata) as urls:
        yield urls


def _seed(url: str, *, bulk: bool) -> tuple[Any, list[Any], list[tuple[str, str, int]]]:
    SEEN.clear()
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            with conn.begin(), deterministic(seed=3):
                if bulk:
                    with BulkSeeder(conn, chunk_size=4) as seeder:
                        seeder.create(StampFactory, 5)
                        seeder.create(PadFactory, 6)
                else:
                    with Session(bind=conn, autoflush=False) as session, bind(session=session):
                        StampFactory.create_batch(5)
                        session.flush()  # the bulk seeder writes each volume before the next
                        PadFactory.create_batch(6)
                        session.flush()
            stamps = conn.execute(sa.text("SELECT label, stamp FROM stamps ORDER BY label")).all()
            return fingerprint(conn), stamps, SEEN[:]
    finally:
        engine.dispose()


def test_bulk_runs_before_and_after_insert_as_the_per_object_flush_does(
    two_databases: tuple[str, str],
) -> None:
    per_object_url, bulk_url = two_databases
    expected, stamps, seen = _seed(per_object_url, bulk=False)
    got, bulk_stamps, bulk_seen = _seed(bulk_url, bulk=True)

    assert len(stamps) == 5 + 6 * 2 and all(stamp is not None for _, stamp in stamps)
    assert bulk_stamps == stamps  # was: NULL in every bulk row
    # before_insert before the row is written, after_insert after, each in insertion order
    assert {(name, rows) for name, _, rows in seen} == {("before_insert", 0), ("after_insert", 1)}
    assert [entry for entry in bulk_seen if entry[0] == "before_insert"] == [
        entry for entry in seen if entry[0] == "before_insert"
    ]
    assert sorted(bulk_seen) == sorted(seen)
    assert got.digest == expected.digest


def test_factories_of_models_with_flush_events_do_not_take_the_row_path() -> None:
    stamps = decide(StampFactory)
    assert not stamps.row_path
    assert stamps.reason == (
        "mapper events listen to Stamp (before_insert, after_insert), which only a flush runs"
    )
    pads = decide(PadFactory)  # a plain model whose factory makes stamps
    assert not pads.row_path and "Stamp" in pads.reason
