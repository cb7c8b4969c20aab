"""The row path for factories that read what the ORM keeps (issue #11): collections of records,
``ReuseOrCreate`` pools, factories called in post-generation hooks, columns set in hooks.

Each graph is seeded per object (``create_batch`` through a SQLAlchemy session) and through
``BulkSeeder`` on a second database; the fingerprints must be equal and the volumes must have
taken the row path."""

from __future__ import annotations

import sys
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import factory
import factory.fuzzy
import factory.random
import pytest
import sqlalchemy as sa
from seedkit_reference.models import Order, Organization, Payment, User
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column, relationship

from seedkit import SQLAlchemyFactory
from seedkit.bulk import BulkSeeder
from seedkit.bulk.paths import decide
from seedkit.bulk.row_builder import RowPathUnsupported, build_root, no_session
from seedkit.core.declarations import UUIDFor
from seedkit.core.determinism import deterministic
from seedkit.factories.alchemy import ReuseOrCreate
from seedkit.factories.binding import bind
from seedkit.factories.builder import lean_builds
from seedkit.stores.fingerprint import fingerprint

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # the repository's benchmarks package
from benchmarks.seed_worker import _reference_volumes

START = datetime(2025, 1, 1, tzinfo=UTC)
Create = Callable[..., Any]


def per_object(url: str, seed: Callable[[Create], None]) -> Any:
    """The reference: ``create_batch`` through a SQLAlchemy session (a flush per object)."""
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            with (
                conn.begin(),
                deterministic(seed=7),
                Session(bind=conn, autoflush=False) as session,
                bind(session=session),
            ):
                seed(lambda factory_class, count, **fields: factory_class.create_batch(count, **fields))
                session.flush()
            return fingerprint(conn)
    finally:
        engine.dispose()


def bulk(url: str, seed: Callable[[Create], None], *, chunk_size: int = 3) -> tuple[Any, BulkSeeder]:
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            with conn.begin(), deterministic(seed=7), BulkSeeder(conn, chunk_size=chunk_size) as seeder:
                seed(seeder.create)
            return fingerprint(conn), seeder
    finally:
        engine.dispose()


def _paths(seeder: BulkSeeder) -> dict[str, str]:
    return {name.rsplit(".", 1)[1]: decision.path for name, decision in seeder.paths.items()}


# -- the reference factories -----------------------------------------------------------------------
def _seed_reference(create: Create) -> None:
    for factory_class, count, fields in _reference_volumes(40):
        create(factory_class, count, **fields)


@pytest.mark.parametrize("chunk_size", [1, 7, 2_000])
def test_the_reference_volumes_of_the_benchmark_take_the_row_path_with_the_per_object_rows(
    db_url: str, second_db: str, chunk_size: int
) -> None:
    expected = per_object(db_url, _seed_reference)
    got, seeder = bulk(second_db, _seed_reference, chunk_size=chunk_size)

    assert _paths(seeder) == {"OrganizationFactory": "row", "ProductFactory": "row", "CustomerFactory": "row"}
    assert expected.parts["pg:orders"].count == 40  # CustomerFactory.orders created them in its hook
    assert expected.parts["pg:order_items"].count == 80  # products picked from organization.products
    assert got.parts == expected.parts
    assert got.digest == expected.digest


# -- a graph of its own, one mechanism per declaration ---------------------------------------------
def _uuid() -> uuid.UUID:
    return uuid.UUID(int=factory.random.randgen.getrandbits(128), version=4)


class TeamFactory(SQLAlchemyFactory):
    class Meta:
        model = Organization

    id = factory.LazyFunction(_uuid)
    name = factory.Faker("company")
    slug = factory.Sequence(lambda n: f"team-{n}")
    created_at = factory.Faker("date_time_between", start_date=START, end_date=START + timedelta(days=30))


def _email(member: Any) -> str:
    """Reads the team's collection: the members made before, in creation order."""
    members = member.organization.users
    last = members[-1].full_name.split()[0].lower() if members else "first"
    return f"m{len(members)}.after.{last}.{member.sequence_}@team.example"


class MemberFactory(SQLAlchemyFactory):
    """ReuseOrCreate, a collection read in a LazyAttribute, hooks that set a column and create."""

    class Meta:
        model = User
        exclude = ("sequence_",)

    id = UUIDFor("users")
    organization = ReuseOrCreate(TeamFactory)
    full_name = factory.Faker("name")
    sequence_ = factory.Sequence(int)
    email = factory.LazyAttribute(_email)
    role = "member"
    created_at = factory.LazyAttribute(
        lambda o: o.organization.created_at + timedelta(hours=len(o.organization.users))
    )

    @factory.post_generation
    def promote(obj: Any, create: bool, extracted: Any, **kwargs: Any) -> None:
        # the team's first member becomes its admin: the member is already in the collection
        if obj.organization.users[0] is obj:
            obj.role = "admin"

    @factory.post_generation
    def orders(obj: Any, create: bool, extracted: Any, **kwargs: Any) -> None:
        for _ in range(extracted or 0):
            TabFactory.create(user=obj, **kwargs)


class TabFactory(SQLAlchemyFactory):
    """An order whose total counts the user's orders so far and its team's members."""

    class Meta:
        model = Order

    id = UUIDFor("orders")
    user = factory.SubFactory(MemberFactory)
    status = factory.fuzzy.FuzzyChoice(["pending", "paid"])
    currency = "EUR"
    subtotal = factory.LazyAttribute(
        lambda o: Decimal(len(o.user.orders) * 10 + len(o.user.organization.users)).quantize(Decimal("0.01"))
    )
    total = factory.SelfAttribute("subtotal")
    created_at = factory.LazyAttribute(lambda o: o.user.created_at + timedelta(minutes=len(o.user.orders)))
    updated_at = factory.SelfAttribute("created_at")

    @factory.post_generation
    def receipt(obj: Any, create: bool, extracted: Any, **kwargs: Any) -> None:
        if obj.status == "paid":  # a payment per paid order, amount from the order's payments so far
            ReceiptFactory.create(order=obj)


class ReceiptFactory(SQLAlchemyFactory):
    class Meta:
        model = Payment

    id = UUIDFor("payments")
    order = factory.SubFactory(TabFactory)
    amount = factory.LazyAttribute(lambda o: o.order.total + len(o.order.payments))
    status = "captured"
    provider = factory.fuzzy.FuzzyChoice(["card", "bank_transfer"])
    paid_at = factory.SelfAttribute("order.created_at")


def _seed_members(create: Create) -> None:
    create(TeamFactory, 3)
    create(MemberFactory, 14, orders=2)
    create(TabFactory, 5)  # each with a new member of a pooled team
    create(MemberFactory, 6, orders=1, orders__status="paid")


def test_collections_pools_and_hooks_of_records_give_the_per_object_rows(db_url: str, second_db: str) -> None:
    expected = per_object(db_url, _seed_members)
    got, seeder = bulk(second_db, _seed_members)

    assert _paths(seeder) == {"TeamFactory": "row", "MemberFactory": "row", "TabFactory": "row"}
    assert expected.parts["pg:organizations"].count == 3  # every member reused a team
    assert expected.parts["pg:orders"].count == 14 * 2 + 5 + 6
    assert got.parts == expected.parts
    assert got.digest == expected.digest


def test_the_comparison_sees_the_order_of_a_collection(
    db_url: str, second_db: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Guards the test above: a collection listed newest first changes the rows.
    from seedkit.bulk import record_collections

    expected = per_object(db_url, _seed_members)
    real = record_collections._append

    def newest_first(parent: Any, key: str, record: Any, tracker: Any) -> None:
        real(parent, key, record, tracker)
        found = parent.__dict__.get(key)
        if type(found) is record_collections.RecordList:
            list.insert(found, 0, list.pop(found))

    monkeypatch.setattr(record_collections, "_append", newest_first)
    got, seeder = bulk(second_db, _seed_members)

    assert _paths(seeder)["MemberFactory"] == "row"
    assert got.parts["pg:users"].count == expected.parts["pg:users"].count
    assert got.parts["pg:users"].digest != expected.parts["pg:users"].digest


def test_records_of_a_volume_become_orm_objects_when_a_later_volume_takes_the_orm_path(
    db_url: str, second_db: str
) -> None:
    # MemberFactory on the row path fills the team pool with records; a factory that calls a
    # method of its object takes the ORM path and picks the same teams, as ORM objects.
    def seed(create: Create) -> None:
        create(MemberFactory, 5)
        create(MethodMemberFactory, 4)
        create(MemberFactory, 3)  # its first row reads a team's members: now ORM objects

    expected = per_object(db_url, seed)
    got, seeder = bulk(second_db, seed)

    assert seeder.paths[f"{__name__}.MethodMemberFactory"].path == "orm"
    member = seeder.paths[f"{__name__}.MemberFactory"]  # the last volume's decision
    assert member.path == "orm" and "Organization.users was read" in member.reason
    assert got.digest == expected.digest


class MethodMemberFactory(MemberFactory):
    demote = factory.PostGenerationMethodCall("__init__")


class QuietMemberFactory(SQLAlchemyFactory):
    """Members of a pooled team that read no collection."""

    class Meta:
        model = User

    id = UUIDFor("users")
    organization = ReuseOrCreate(TeamFactory)
    full_name = factory.Faker("name")
    email = factory.Sequence(lambda n: f"quiet.{n}@team.example")
    role = "member"
    created_at = factory.SelfAttribute("organization.created_at")


def test_a_large_collection_nothing_read_is_dropped_and_a_later_read_takes_the_orm_path(
    db_url: str, second_db: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from seedkit.bulk import record_collections

    monkeypatch.setattr(record_collections, "KEEP_UNREAD", 4)

    def seed(create: Create) -> None:
        create(TeamFactory, 2)
        create(QuietMemberFactory, 12)  # about 6 members per team, never read: dropped
        create(MemberFactory, 3)  # reads its team's members

    expected = per_object(db_url, seed)
    got, seeder = bulk(second_db, seed)

    assert _paths(seeder)["QuietMemberFactory"] == "row"
    member = seeder.paths[f"{__name__}.MemberFactory"]
    assert member.path == "orm"
    assert "Organization.users was read: the row path no longer holds it (it held more than" in member.reason
    assert got.digest == expected.digest


# -- what keeps the ORM path ---------------------------------------------------------------------
class LoadedTeamMemberFactory(MemberFactory):
    """Members of teams loaded from the database: their ``users`` collection loads from it."""

    organization = factory.Iterator([])  # replaced by the call's pool


def test_an_orm_object_from_the_database_whose_collection_is_read_keeps_the_orm_path(
    db_url: str, second_db: str
) -> None:
    def seed(create: Create) -> None:
        seeder = getattr(create, "__self__", None)
        session = seeder.session if isinstance(seeder, BulkSeeder) else None
        teams = _teams_from_the_database(session)
        create(LoadedTeamMemberFactory, 6, organization=factory.Iterator(teams))

    for url in (db_url, second_db):
        _committed_teams(url)
    expected = per_object(db_url, seed)
    got, seeder = bulk(second_db, seed)

    decision = seeder.paths[f"{__name__}.LoadedTeamMemberFactory"]
    assert decision.path == "orm"
    assert decision.reason.startswith("its first row needed the ORM: Organization.users was read")
    assert expected.parts["pg:users"].count == 2 + 6
    assert got.digest == expected.digest


def _committed_teams(url: str) -> None:
    """Two teams with a member each, committed before seeding."""
    engine = sa.create_engine(url)
    try:
        with (
            engine.begin() as conn,
            deterministic(seed=99),
            Session(bind=conn) as session,
            bind(session=session),
        ):
            for team in TeamFactory.create_batch(2):
                MemberFactory.create(organization=team)
    finally:
        engine.dispose()


_LOADED: dict[str, list[Any]] = {}


def _teams_from_the_database(session: Session | None) -> list[Any]:
    from seedkit.factories.binding import current_session

    session = session or current_session()
    return list(session.scalars(sa.select(Organization).where(Organization.slug.like("team-%"))))


def test_a_trial_that_falls_back_leaves_no_record_in_pools_or_collections(
    db_url: str, second_db: str
) -> None:
    # The first member creates a team (the pool is empty) and joins its collection, then its hook
    # calls .build(): the trial is undone, the team with it, and the ORM path creates the team again.
    def seed(create: Create) -> None:
        create(BuildingMemberFactory, 4)
        create(MemberFactory, 5)

    expected = per_object(db_url, seed)
    got, seeder = bulk(second_db, seed)

    building = seeder.paths[f"{__name__}.BuildingMemberFactory"]
    assert building.path == "orm" and "TeamFactory.build() was called" in building.reason
    assert expected.parts["pg:organizations"].count == 1
    assert got.digest == expected.digest


class BuildingMemberFactory(MemberFactory):
    @factory.post_generation
    def sketch(obj: Any, create: bool, extracted: Any, **kwargs: Any) -> None:
        TeamFactory.build()


def test_changing_a_collection_of_a_record_is_refused() -> None:
    records: list[Any] = []
    with deterministic(seed=1), no_session(), lean_builds():
        member = build_root(ChangingMemberFactory, {}, records)
    assert member.role == "admin"  # set by its hook: the first member of its new team
    with (
        deterministic(seed=1),
        no_session(),
        lean_builds(),
        pytest.raises(RowPathUnsupported, match="changed"),
    ):
        build_root(ChangingMemberFactory, {"orders": 1}, records)


class ChangingMemberFactory(MemberFactory):
    organization = factory.SubFactory(TeamFactory)

    @factory.post_generation
    def meddle(obj: Any, create: bool, extracted: Any, **kwargs: Any) -> None:
        if obj.orders:
            obj.orders.append(obj.orders[0])


def test_decisions_no_longer_refuse_hooks_and_reuse_pools() -> None:
    assert decide(MemberFactory).path == "row"
    assert decide(TabFactory).path == "row"
    assert decide(MethodMemberFactory).path == "orm"


# -- collections the row path refuses to offer, in one line ------------------------------------------
class _Base(DeclarativeBase):
    pass


_tags = sa.Table(
    "shelf_tags",
    _Base.metadata,
    sa.Column("shelf_id", sa.ForeignKey("shelves.id")),
    sa.Column("tag", sa.Integer),
)


class _Shelf(_Base):
    __tablename__ = "shelves"
    id: Mapped[int] = mapped_column(primary_key=True)
    by_title: Mapped[list[_Book]] = relationship(back_populates="shelf", order_by="_Book.title")
    as_set: Mapped[set[_Leaflet]] = relationship(back_populates="shelf", collection_class=set)
    single: Mapped[_Poster | None] = relationship(back_populates="shelf", uselist=False)
    plain: Mapped[list[_Card]] = relationship(back_populates="shelf")
    loose: Mapped[list[_Card]] = relationship(viewonly=True)
    tagged: Mapped[list[_Shelf]] = relationship(
        secondary=_tags,
        primaryjoin="_Shelf.id == shelf_tags.c.shelf_id",
        secondaryjoin="_Shelf.id == shelf_tags.c.tag",
    )


class _Book(_Base):
    __tablename__ = "books"
    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(sa.String(20))
    shelf_id: Mapped[int] = mapped_column(sa.ForeignKey("shelves.id"))
    shelf: Mapped[_Shelf] = relationship(back_populates="by_title")


class _Leaflet(_Base):
    __tablename__ = "leaflets"
    id: Mapped[int] = mapped_column(primary_key=True)
    shelf_id: Mapped[int] = mapped_column(sa.ForeignKey("shelves.id"))
    shelf: Mapped[_Shelf] = relationship(back_populates="as_set")


class _Poster(_Base):
    __tablename__ = "posters"
    id: Mapped[int] = mapped_column(primary_key=True)
    shelf_id: Mapped[int] = mapped_column(sa.ForeignKey("shelves.id"))
    shelf: Mapped[_Shelf] = relationship(back_populates="single")


class _Card(_Base):
    __tablename__ = "cards"
    id: Mapped[int] = mapped_column(primary_key=True)
    shelf_id: Mapped[int] = mapped_column(sa.ForeignKey("shelves.id"))
    shelf: Mapped[_Shelf] = relationship(back_populates="plain")


def _factory_of(model: type, **declarations: Any) -> type:
    meta = type("Meta", (), {"model": model})
    return type(
        f"{model.__name__}Factory",
        (SQLAlchemyFactory,),
        {"Meta": meta, "id": factory.Sequence(int), **declarations},
    )


@pytest.mark.parametrize(
    ("collection", "reason"),
    [
        ("by_title", "its order_by sorts it when loaded"),
        ("as_set", "its collection class is set, not list"),
        ("single", "a one-to-one (uselist=False) relationship"),
        ("loose", "a one-to-many relationship without back_populates/backref"),
        ("tagged", "a many-to-many collection"),
    ],
)
def test_collections_that_could_differ_are_refused_in_one_line(collection: str, reason: str) -> None:
    shelves = _factory_of(_Shelf)
    cards = _factory_of(_Card, shelf=factory.SubFactory(shelves))
    reader = _factory_of(
        _Card,
        shelf=factory.SubFactory(shelves),
        extra=factory.LazyAttribute(lambda o: getattr(o.shelf, collection)),
    )
    records: list[Any] = []
    with deterministic(seed=1), no_session(), lean_builds():
        card = build_root(cards, {}, records)
        assert card.shelf.plain == [card]  # the supported kind, for contrast
        with pytest.raises(RowPathUnsupported) as raised:
            build_root(reader, {}, records)
    message = str(raised.value)
    assert message.startswith(f"_Shelf.{collection} was read: the row path does not offer {reason}")
    assert "\n" not in message
