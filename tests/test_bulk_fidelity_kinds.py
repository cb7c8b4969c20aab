"""The bulk paths never write other data than the per-object path (issue #11), by kind of fault:
SQL-expression attributes read while building, attribute event listeners on relationships.

Each factory is seeded per object (``create_batch`` through a SQLAlchemy session, a flush per
object) and through ``BulkSeeder`` (row path, and ORM path with ``row_path=False``) on a second
database of the same schema: the fingerprints are equal, or seeding is refused in one line.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import factory
import pytest
import sqlalchemy as sa
from bulk_comparison import bulk, per_object
from bulk_comparison import two_databases as new_databases
from sqlalchemy import event
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.ext.mutable import MutableDict
from sqlalchemy.orm import DeclarativeBase, Mapped, column_property, mapped_column, relationship

from seedkit import SQLAlchemyFactory
from seedkit.bulk import BulkSeeder, decide_call
from seedkit.core.declarations import UUIDFor
from seedkit.core.determinism import deterministic
from seedkit.errors import FactoryError


class Base(DeclarativeBase):
    pass


class Ward(Base):
    __tablename__ = "wards"
    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(sa.String(20))
    residents: Mapped[list[Resident]] = relationship(back_populates="ward")
    settings: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict)
    tags: Mapped[list[str]] = mapped_column(ARRAY(sa.String(40)))


class Resident(Base):
    __tablename__ = "residents"
    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    ward_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("wards.id"))
    ward: Mapped[Ward] = relationship(back_populates="residents")
    name: Mapped[str] = mapped_column(sa.String(100))
    note: Mapped[str] = mapped_column(sa.String(200))


Ward.n_residents = column_property(  # type: ignore[attr-defined]
    sa.select(sa.func.count(Resident.id))
    .where(Resident.ward_id == Ward.id)
    .correlate_except(Resident)
    .scalar_subquery()
)


class Desk(Base):
    __tablename__ = "desks"
    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    prefs: Mapped[dict[str, Any]] = mapped_column(MutableDict.as_mutable(JSONB), default=dict)


class Chair(Base):
    __tablename__ = "chairs"
    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    desk_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("desks.id"))
    desk: Mapped[Desk] = relationship()
    note: Mapped[str] = mapped_column(sa.String(100))


class Shelf(Base):
    __tablename__ = "shelves"
    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(sa.String(20))
    items: Mapped[list[Item]] = relationship(back_populates="shelf")


class Item(Base):
    __tablename__ = "items"
    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    shelf_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("shelves.id"))
    shelf: Mapped[Shelf] = relationship(back_populates="items")
    label: Mapped[str] = mapped_column(sa.String(100))


@event.listens_for(Shelf.items, "append")
def _label_on_append(target: Shelf, value: Item, initiator: Any) -> None:
    value.label = f"on {target.code}"


class WardFactory(SQLAlchemyFactory):
    class Meta:
        model = Ward

    id = UUIDFor("wards")
    code = factory.Sequence(lambda n: f"w{n}")
    tags = factory.LazyFunction(list)


class ResidentFactory(SQLAlchemyFactory):
    class Meta:
        model = Resident

    id = UUIDFor("residents")
    ward = factory.SubFactory(WardFactory)
    name = factory.Faker("name")
    note = "plain"


class ShelfFactory(SQLAlchemyFactory):
    class Meta:
        model = Shelf

    id = UUIDFor("shelves")
    code = factory.Sequence(lambda n: f"s{n}")


class ItemFactory(SQLAlchemyFactory):
    class Meta:
        model = Item

    id = UUIDFor("items")
    shelf = factory.SubFactory(ShelfFactory)
    label = "plain"


@pytest.fixture
def two_databases(pg_server_url: str) -> Iterator[tuple[str, str]]:
    with new_databases(pg_server_url, Base.metadata) as urls:
        yield urls


def _count(url: str, table: str) -> int:
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            return int(conn.execute(sa.text(f"SELECT count(*) FROM {table}")).scalar_one())
    finally:
        engine.dispose()


# -- SQL-expression attributes (column_property) ----------------------------------------------------
class CountingResidentFactory(ResidentFactory):
    note = factory.LazyAttribute(lambda o: f"ward has {o.ward.n_residents}")


def test_a_sql_expression_attribute_read_on_a_record_is_refused_on_the_row_path() -> None:
    from seedkit.bulk.row_builder import RowPathUnsupported, build_root, no_session

    with (
        deterministic(seed=1),
        no_session(),
        pytest.raises(RowPathUnsupported, match=r"Ward\.n_residents was read: the database computes it"),
    ):
        build_root(CountingResidentFactory, {}, [])


@pytest.mark.parametrize("row_path", [True, False], ids=["row path", "orm path"])
def test_a_sql_expression_attribute_read_while_building_stops_bulk_seeding_in_one_line(
    two_databases: tuple[str, str], row_path: bool
) -> None:
    first, second = two_databases
    per_object(first, CountingResidentFactory, 3)  # per object: the count the database gives
    with pytest.raises(FactoryError) as caught:
        bulk(second, CountingResidentFactory, 3, row_path=row_path)

    message = str(caught.value)
    assert "\n" not in message
    assert "Ward.n_residents" in message
    assert _count(second, "residents") == 0


def test_a_model_with_a_sql_expression_attribute_not_read_keeps_the_per_object_rows(
    two_databases: tuple[str, str],
) -> None:
    first, second = two_databases
    expected = per_object(first, ResidentFactory, 6)
    got, decision = bulk(second, ResidentFactory, 6)

    assert decision.path == "row", decision.reason
    assert got.digest == expected.digest


# -- attribute event listeners on relationships -----------------------------------------------------
def test_a_collection_append_listener_sends_the_factory_to_the_orm_path_with_the_reason() -> None:
    decision = decide_call(ItemFactory, {})

    assert decision.path == "orm"
    assert "Shelf.items (append)" in decision.reason


def test_a_relationship_without_listeners_of_its_own_keeps_the_row_path() -> None:
    assert decide_call(ResidentFactory, {}).path == "row"


@pytest.mark.parametrize("row_path", [True, False], ids=["row path", "orm path"])
def test_a_collection_append_listener_runs_on_the_bulk_paths_as_per_object(
    two_databases: tuple[str, str], row_path: bool
) -> None:
    first, second = two_databases
    expected = per_object(first, ItemFactory, 6)
    got, decision = bulk(second, ItemFactory, 6, row_path=row_path)

    assert decision.path == "orm"
    assert got.digest == expected.digest


# -- SQL run by a declaration while rows are built --------------------------------------------------
def _residents_so_far(o: Any) -> str:
    session = sa.orm.object_session(o.ward)
    assert session is not None
    return f"{session.scalar(sa.select(sa.func.count()).select_from(Resident))} before"


class QueryingResidentFactory(ResidentFactory):
    note = factory.LazyAttribute(_residents_so_far)


@pytest.mark.parametrize("row_path", [True, False], ids=["row path", "orm path"])
def test_a_declaration_running_sql_is_refused_in_one_line_before_the_first_write(
    two_databases: tuple[str, str], row_path: bool
) -> None:
    first, second = two_databases
    per_object(first, QueryingResidentFactory, 5)  # per object: 0, 1, 2... rows before each
    engine = sa.create_engine(second)
    try:
        with (
            engine.connect() as conn,
            pytest.raises(FactoryError) as caught,
            conn.begin(),
            deterministic(seed=3),
            BulkSeeder(conn, chunk_size=4, row_path=row_path) as seeder,
        ):
            seeder.create(WardFactory, 2)
            seeder.wait()
            written = int(conn.execute(sa.text("SELECT count(*) FROM wards")).scalar_one())
            try:
                seeder.create(QueryingResidentFactory, 5)
            except FactoryError:
                seeder.wait()
                tables = ("wards", "residents")
                counts = [conn.execute(sa.text(f"SELECT count(*) FROM {t}")).scalar_one() for t in tables]
                raise
    finally:
        engine.dispose()

    message = str(caught.value)
    assert "\n" not in message
    assert "QueryingResidentFactory" in message
    assert "SELECT count(*)" in message
    assert written == 2  # the seeder's own statements and the caller's between volumes still run
    assert counts == [2, 0]  # refused before the volume's first write


def test_sql_of_the_caller_and_of_the_per_object_path_is_not_refused(two_databases: tuple[str, str]) -> None:
    first, _ = two_databases
    per_object(first, QueryingResidentFactory, 3)

    assert _count(first, "residents") == 3


# -- a parent's dict or list changed in place after its creation ------------------------------------
def _mark_the_ward(o: Any) -> str:
    ward = o.ward
    ward.tags.append(o.name)  # the ward's list, untracked: per object it was flushed already
    return f"seen {ward.settings.setdefault('k', len(ward.tags))}"  # its default dict


class MutatingResidentFactory(ResidentFactory):
    note = factory.LazyAttribute(_mark_the_ward)


def _wards(url: str) -> list[tuple[Any, Any]]:
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            return [
                tuple(row) for row in conn.execute(sa.text("SELECT settings, tags FROM wards ORDER BY code"))
            ]
    finally:
        engine.dispose()


@pytest.mark.parametrize("row_path", [True, False], ids=["row path", "orm path"])
def test_a_parents_dict_and_list_changed_in_place_later_are_written_as_created(
    two_databases: tuple[str, str], row_path: bool
) -> None:
    first, second = two_databases
    expected = per_object(first, MutatingResidentFactory, 6)
    got, decision = bulk(second, MutatingResidentFactory, 6, row_path=row_path)

    assert decision.path == ("row" if row_path else "orm"), decision.reason
    assert _wards(second) == _wards(first) == [({}, [])] * 6
    assert got.digest == expected.digest


class DeskFactory(SQLAlchemyFactory):
    class Meta:
        model = Desk

    id = UUIDFor("desks")


def _count_on_the_desk(o: Any) -> str:
    o.desk.prefs["chairs"] = o.desk.prefs.get("chairs", 0) + 1  # tracked: the next flush writes it
    return "counted"


class ChairFactory(SQLAlchemyFactory):
    class Meta:
        model = Chair

    id = UUIDFor("chairs")
    desk = factory.SubFactory(DeskFactory)
    note = factory.LazyAttribute(_count_on_the_desk)


def _prefs(url: str) -> list[Any]:
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            return list(conn.execute(sa.text("SELECT prefs FROM desks")).scalars())
    finally:
        engine.dispose()


@pytest.mark.parametrize("row_path", [True, False], ids=["row path", "orm path"])
def test_a_parents_mutable_dict_changed_later_is_written_changed_as_per_object(
    two_databases: tuple[str, str], row_path: bool
) -> None:
    first, second = two_databases
    expected = per_object(first, ChairFactory, 5)
    got, _ = bulk(second, ChairFactory, 5, row_path=row_path)

    assert _prefs(second) == _prefs(first) == [{"chairs": 1}] * 5
    assert got.digest == expected.digest
