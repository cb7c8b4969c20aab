"""The bulk path on a user's models and factories: what the per-object path writes, exactly.

The reference domain's models are plain; these are not: a validator, an attribute listener,
Python and server defaults, a one-to-many without a reverse side. The factories use
``Meta.exclude`` and ``rename``, traits, ``Maybe``, ``Iterator``, ``RelatedFactoryList`` and a
post-generation hook, so the lean builder and the event-free construction meet what users write.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import factory
import pytest
import sqlalchemy as sa
from conftest import create_database, drop_database
from sqlalchemy import event
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column, relationship, validates

from seedkit.bulk import BulkSeeder
from seedkit.core.declarations import Now, UUIDFor
from seedkit.core.determinism import deterministic
from seedkit.factories.alchemy import SQLAlchemyFactory, _plain_columns
from seedkit.factories.binding import bind
from seedkit.stores.fingerprint import fingerprint


class Base(DeclarativeBase):
    pass


class Member(Base):
    __tablename__ = "members"
    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(sa.String(200), unique=True)
    nickname: Mapped[str] = mapped_column(sa.String(100))
    tier: Mapped[str] = mapped_column(sa.String(20), default=lambda: "basic")  # a Python default
    source: Mapped[str] = mapped_column(sa.String(20), server_default="import")  # left to the server
    joined_at: Mapped[Any] = mapped_column(sa.DateTime(timezone=True))
    notes: Mapped[list[Note]] = relationship()  # one-to-many, no reverse side

    @validates("email")
    def _lower(self, key: str, value: str) -> str:
        return value.lower()


class Note(Base):
    __tablename__ = "notes"
    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    member_id: Mapped[uuid.UUID | None] = mapped_column(sa.ForeignKey("members.id"))
    title: Mapped[str] = mapped_column(sa.String(200))
    body: Mapped[str] = mapped_column(sa.String(500))
    pinned: Mapped[bool] = mapped_column(default=False)


@event.listens_for(Note.title, "set", retval=True)
def _title_case(target: Note, value: str, old: Any, initiator: Any) -> str:
    return value.title()


class MemberFactory(SQLAlchemyFactory):
    class Meta:
        model = Member
        exclude = ("handle",)
        rename = {"nick": "nickname"}

    class Params:
        vip = factory.Trait(tier="gold")

    id = UUIDFor("members")
    handle = factory.Faker("user_name")
    email = factory.LazyAttribute(lambda o: f"{o.handle}.{o.id.hex[:6]}@Example.COM")
    nick = factory.Maybe("vip", yes_declaration=factory.Faker("first_name"), no_declaration="n/a")
    joined_at = Now()
    notes = factory.RelatedFactoryList(
        "test_bulk_user_models.NoteFactory", size=2, member_id=factory.SelfAttribute("..id")
    )

    @factory.post_generation
    def welcome(obj: Member, create: bool, extracted: Any, **kwargs: Any) -> None:
        if extracted:  # through the collection: the note gets member_id from the relationship
            obj.notes.append(NoteFactory.create(title="welcome", body=str(extracted)))


class NoteFactory(SQLAlchemyFactory):
    class Meta:
        model = Note

    id = factory.Sequence(lambda n: n + 1)
    member_id = None
    title = factory.Faker("sentence", nb_words=3)
    body = factory.Iterator(["short", "a bit longer", "the longest of the three"])


VOLUMES: list[tuple[type[Any], int, dict[str, Any]]] = [
    (MemberFactory, 30, {}),
    (MemberFactory, 12, {"vip": True, "welcome": "hi"}),
    (NoteFactory, 5, {"pinned": True}),
]


@pytest.fixture
def two_databases(pg_server_url: str) -> Iterator[tuple[str, str]]:
    names = [f"test_{uuid.uuid4().hex[:12]}" for _ in range(2)]
    urls = [create_database(pg_server_url, name) for name in names]
    for url in urls:
        engine = sa.create_engine(url)
        Base.metadata.create_all(engine)
        engine.dispose()
    yield urls[0], urls[1]
    for name in names:
        drop_database(pg_server_url, name)


def _seed(url: str, *, bulk: bool) -> Any:
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            with conn.begin(), deterministic(seed=4):
                if bulk:
                    with BulkSeeder(conn, chunk_size=7) as seeder:
                        for factory_class, count, fields in VOLUMES:
                            seeder.create(factory_class, count, **fields)
                else:
                    with Session(bind=conn, autoflush=False) as session, bind(session=session):
                        for factory_class, count, fields in VOLUMES:
                            factory_class.create_batch(count, **fields)
                        session.flush()
            rows = conn.execute(
                sa.text("SELECT email, tier, source, nickname FROM members ORDER BY email")
            ).all()
            titles = conn.execute(sa.text("SELECT title FROM notes ORDER BY id")).scalars().all()
            return fingerprint(conn), rows, titles
    finally:
        engine.dispose()


def test_bulk_writes_what_the_per_object_path_writes_for_user_models(two_databases: tuple[str, str]) -> None:
    per_object_url, bulk_url = two_databases
    expected, rows, titles = _seed(per_object_url, bulk=False)
    got, bulk_rows, bulk_titles = _seed(bulk_url, bulk=True)

    assert len(rows) == 42 and len(titles) == 42 * 2 + 12 + 5
    assert all(email == email.lower() for email, *_ in rows)  # the validator ran
    assert {tier for _, tier, _, _ in rows} == {"basic", "gold"}  # the Python default, the trait
    assert {source for _, _, source, _ in rows} == {"import"}  # the server default
    assert all(title == title.title() for title in titles)  # the attribute listener ran
    assert bulk_rows == rows and bulk_titles == titles
    assert got.digest == expected.digest


def test_only_models_without_hooks_skip_the_constructor() -> None:
    assert _plain_columns(Member) is None  # a validator: the constructor runs
    plain = _plain_columns(Note)
    assert plain is not None and "body" in plain and "title" not in plain  # title has a listener
