"""Column defaults that read the clock or a random source, database-generated keys and sequences,
on an application's own models (not the reference domain), through every seeding path."""

from __future__ import annotations

import datetime as dt
import functools
import os
import secrets
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import factory
import pytest
import sqlalchemy as sa
from seedkit_reference.model_factories import UserFactory
from seedkit_reference.models import Organization
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column, relationship

import seedkit
from seedkit.bulk import BulkSeeder
from seedkit.core.declarations import IntegerFor
from seedkit.core.determinism import current, deterministic
from seedkit.factories.binding import bind
from seedkit.isolation import RollbackStrategy
from seedkit.packs import apply_packs, read_pack
from seedkit.stores.sequences import advance_sequences


class Base(DeclarativeBase):
    pass


class Category(Base):
    __tablename__ = "categories"
    id: Mapped[int] = mapped_column(sa.Integer, sa.Identity(always=True), primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(50))


class Item(Base):
    __tablename__ = "items"
    id: Mapped[uuid.UUID] = mapped_column(sa.Uuid, primary_key=True, default=uuid.uuid4)
    category_id: Mapped[int] = mapped_column(sa.ForeignKey("categories.id"))
    created_at: Mapped[dt.datetime] = mapped_column(sa.DateTime(timezone=True), server_default=sa.func.now())
    stamped: Mapped[dt.datetime] = mapped_column(sa.DateTime, default=dt.datetime.now)
    token: Mapped[uuid.UUID] = mapped_column(sa.Uuid, server_default=sa.text("gen_random_uuid()"))
    category: Mapped[Category] = relationship()


class Tag(Base):
    __tablename__ = "tags"
    id: Mapped[int] = mapped_column(sa.Integer, primary_key=True)  # serial
    label: Mapped[str] = mapped_column(sa.String(50))


class CategoryFactory(seedkit.SQLAlchemyFactory):
    class Meta:
        model = Category

    name = factory.Sequence(lambda n: f"category {n}")


class ItemFactory(seedkit.SQLAlchemyFactory):
    class Meta:
        model = Item

    category = factory.SubFactory(CategoryFactory)


class TagFactory(seedkit.SQLAlchemyFactory):
    class Meta:
        model = Tag

    id = IntegerFor("tags")
    label = factory.Faker("word")


@pytest.fixture
def app_engine(empty_db_url: str) -> Iterator[sa.Engine]:
    engine = sa.create_engine(empty_db_url)
    Base.metadata.create_all(engine)
    yield engine
    engine.dispose()


def items(engine: sa.Engine) -> list[tuple[Any, ...]]:
    with engine.connect() as conn:
        query = "SELECT id, category_id, created_at, stamped, token FROM items ORDER BY created_at, id"
        return [tuple(row) for row in conn.execute(sa.text(query))]


def reset(engine: sa.Engine) -> None:
    with engine.begin() as conn:
        conn.execute(sa.text("TRUNCATE items, categories, tags RESTART IDENTITY"))


def per_object(engine: sa.Engine) -> list[tuple[Any, ...]]:
    with deterministic(5, start="2025-02-01T10:00:00Z"), Session(engine) as session, bind(session=session):
        ItemFactory.create_batch(3)
        session.commit()
    return items(engine)


def bulk(engine: sa.Engine) -> list[tuple[Any, ...]]:
    with deterministic(5, start="2025-02-01T10:00:00Z"), engine.connect() as conn:
        with BulkSeeder(conn) as seeder:
            seeder.create(ItemFactory, 3)
        conn.commit()
    return items(engine)


def test_clock_and_random_defaults_come_from_the_context_on_the_per_object_path(
    app_engine: sa.Engine,
) -> None:
    first = per_object(app_engine)
    reset(app_engine)
    second = per_object(app_engine)
    assert first == second
    created = [row[2] for row in first]
    assert created[0] == dt.datetime(2025, 2, 1, 10, tzinfo=dt.UTC) and created == sorted(set(created))
    assert all(row[3].year == 2025 for row in first)  # datetime.now default: the injected clock


def test_the_bulk_path_fills_them_too_and_reserves_database_generated_parent_keys(
    app_engine: sa.Engine,
) -> None:
    first = bulk(app_engine)  # categories' identity keys: reserved from the sequence, not null
    assert [row[1] for row in first] == [1, 2, 3]
    reset(app_engine)
    assert bulk(app_engine) == first
    reset(app_engine)
    assert per_object(app_engine) == first  # the same rows as the per-object path


def test_explicit_serial_keys_move_the_sequence_past_them(app_engine: sa.Engine) -> None:
    with deterministic(1), app_engine.connect() as conn:
        with BulkSeeder(conn) as seeder:
            seeder.create(TagFactory, 4)
        assert advance_sequences(conn) == ['"public"."tags_id_seq"']
        conn.commit()
    with app_engine.begin() as conn:
        new_id = conn.execute(sa.text("INSERT INTO tags (label) VALUES ('own') RETURNING id")).scalar()
    assert new_id == 5


def test_rollback_strategy_puts_back_the_sequences_a_test_used(
    app_engine: sa.Engine, empty_db_url: str
) -> None:
    strategy = RollbackStrategy(empty_db_url)
    strategy.prepare()
    try:
        for _ in range(2):
            handle = strategy.begin()
            assert handle.session is not None
            tag = Tag(label="t")
            handle.session.add(tag)
            handle.session.flush()
            assert tag.id == 1  # every test sees the sequence where the seed left it
            strategy.end(handle)
    finally:
        strategy.close()


def test_get_or_create_finding_the_row_writes_no_subfactory_parent(engine: sa.Engine) -> None:
    class UserByEmailFactory(UserFactory):
        class Meta:
            sqlalchemy_get_or_create = ("email",)

    with Session(engine) as session, deterministic(seed=3), bind(session=session):
        existing = UserFactory(email="ada@example.com")
        session.commit()
        organizations = session.scalar(sa.select(sa.func.count()).select_from(Organization))
        again = UserByEmailFactory(email="ada@example.com")
        session.commit()
        assert again.id == existing.id
        assert session.scalar(sa.select(sa.func.count()).select_from(Organization)) == organizations


class BytesBase(DeclarativeBase):
    pass


class ApiKey(BytesBase):
    """Random ``bytea`` defaults: server side (pgcrypto's ``gen_random_bytes``, core SQL) and Python side."""

    __tablename__ = "api_keys"
    id: Mapped[int] = mapped_column(sa.Integer, primary_key=True, autoincrement=False)
    salt: Mapped[bytes] = mapped_column(sa.LargeBinary, server_default=sa.text("gen_random_bytes(24)"))
    digest: Mapped[bytes] = mapped_column(
        sa.LargeBinary, server_default=sa.text("uuid_send(gen_random_uuid())")
    )
    # Python defaults (nullable: a pack, which knows the table only, leaves them NULL)
    nonce: Mapped[bytes | None] = mapped_column(sa.LargeBinary, default=secrets.token_bytes)  # 32 bytes
    pepper: Mapped[bytes | None] = mapped_column(sa.LargeBinary, default=functools.partial(os.urandom, 8))
    secret: Mapped[str | None] = mapped_column(
        sa.String(40), default=functools.partial(secrets.token_hex, 20)
    )


class ApiKeyFactory(seedkit.SQLAlchemyFactory):
    class Meta:
        model = ApiKey

    id = factory.Sequence(lambda n: n + 1)


# pgcrypto is not in the embedded server: a function of the same name and behaviour stands in for it.
GEN_RANDOM_BYTES = """
CREATE FUNCTION gen_random_bytes(n integer) RETURNS bytea LANGUAGE sql VOLATILE AS $$
    SELECT decode(string_agg(lpad(to_hex(floor(random() * 256)::int), 2, '0'), ''), 'hex')
    FROM generate_series(1, n)
$$
"""


def api_keys(engine: sa.Engine, path: str, tmp_path: Path) -> list[tuple[Any, ...]]:
    with engine.begin() as conn:
        conn.execute(sa.text("TRUNCATE api_keys"))
    with deterministic(8), engine.connect() as conn:
        if path == "per-object":
            with Session(conn) as session, bind(session=session):
                ApiKeyFactory.create_batch(2)
                session.commit()
        elif path == "bulk":
            with BulkSeeder(conn) as seeder:
                seeder.create(ApiKeyFactory, 2)
        else:  # a pack leaving every column but the key out
            (tmp_path / "keys").mkdir(exist_ok=True)
            (tmp_path / "keys" / "pack.yaml").write_text("files:\n  api_keys.yaml: postgres\n")
            (tmp_path / "keys" / "api_keys.yaml").write_text("first: {id: 1}\nsecond: {id: 2}\n")
            apply_packs([read_pack(tmp_path / "keys")], connection=conn, mongo=None, context=current())
        conn.commit()
    with engine.connect() as conn:
        query = "SELECT id, salt, digest, nonce, pepper, secret FROM api_keys ORDER BY id"
        return [tuple(row) for row in conn.execute(sa.text(query))]


@pytest.mark.parametrize("path", ["per-object", "bulk", "pack"])
def test_random_bytea_defaults_come_from_the_context_with_their_size(
    empty_db_url: str, path: str, tmp_path: Path
) -> None:
    engine = sa.create_engine(empty_db_url)
    with engine.begin() as conn:
        conn.execute(sa.text(GEN_RANDOM_BYTES))
    BytesBase.metadata.create_all(engine)
    try:
        first = api_keys(engine, path, tmp_path)
        assert api_keys(engine, path, tmp_path) == first  # the same seed, the same bytes
        for _, salt, digest, nonce, pepper, secret in first:
            assert len(salt) == 24 and len(digest) == 16
            if path != "pack":  # Python defaults are the model's: packs reflect the table
                assert len(nonce) == 32 and len(pepper) == 8 and len(secret) == 40
        assert len({row[1] for row in first}) == 2  # distinct per row
    finally:
        engine.dispose()


class StampBase(DeclarativeBase):
    pass


class Visit(StampBase):
    __tablename__ = "visits"
    id: Mapped[int] = mapped_column(sa.Integer, primary_key=True, autoincrement=False)
    at: Mapped[dt.datetime] = mapped_column(sa.DateTime, default=lambda: dt.datetime.now())


class VisitFactory(seedkit.SQLAlchemyFactory):
    class Meta:
        model = Visit

    id = factory.Sequence(lambda n: n + 1)


@pytest.mark.parametrize("path", ["per-object", "bulk"])
def test_a_lambda_default_reading_the_clock_reads_the_frozen_clock(empty_db_url: str, path: str) -> None:
    engine = sa.create_engine(empty_db_url)
    StampBase.metadata.create_all(engine)
    try:
        with deterministic(3, start="2025-03-01T08:00:00Z", freeze=True), engine.connect() as conn:
            if path == "per-object":
                with Session(conn) as session, bind(session=session):
                    VisitFactory.create_batch(2)
                    session.commit()
            else:
                with BulkSeeder(conn) as seeder:
                    seeder.create(VisitFactory, 2)
            stamps = conn.execute(sa.text("SELECT at FROM visits ORDER BY id")).scalars().all()
        assert stamps and all(stamp.date() == dt.date(2025, 3, 1) for stamp in stamps)
    finally:
        engine.dispose()
