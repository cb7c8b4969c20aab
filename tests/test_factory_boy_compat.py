"""factory_boy's SQLAlchemy behaviours on seedkit's base, against PostgreSQL.

The scenarios of factory_boy's own SQLAlchemy test module (sequences and primary keys,
get_or_create, session persistence, sessions and session factories, name conflicts), written
anew for ``seedkit.SQLAlchemyFactory``, each run twice: with the session in
``Meta.sqlalchemy_session`` and with the session bound by ``seedkit.bind``. Then the cases
where seedkit used to differ (docs/migrating-from-factory-boy.md lists what still does).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from typing import Any
from unittest import mock

import factory
import pytest
import sqlalchemy as sa
from conftest import create_database, drop_database
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column, relationship
from sqlalchemy.orm.exc import MultipleResultsFound

import seedkit
from seedkit.core.determinism import deterministic


class Base(DeclarativeBase):
    pass


class Widget(Base):
    """An integer key and a label (nothing unique)."""

    __tablename__ = "widgets"
    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    label: Mapped[str] = mapped_column(sa.String(30))


class Code(Base):
    """A text primary key."""

    __tablename__ = "codes"
    id: Mapped[str] = mapped_column(sa.String(30), primary_key=True)


class Badge(Base):
    """A unique slug beside a free label."""

    __tablename__ = "badges"
    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    label: Mapped[str] = mapped_column(sa.String(30))
    slug: Mapped[str] = mapped_column(sa.String(30), unique=True)


class Page(Base):
    """Three unique columns, two of them the get_or_create fields below."""

    __tablename__ = "pages"
    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    slug: Mapped[str] = mapped_column(sa.String(30), unique=True)
    text: Mapped[str] = mapped_column(sa.String(30), unique=True)
    title: Mapped[str | None] = mapped_column(sa.String(30), unique=True)


class Clash(Base):
    """A column named like the session argument of factory_boy's methods."""

    __tablename__ = "clashes"
    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    session: Mapped[str] = mapped_column(sa.String(30))


class Folder(Base):
    __tablename__ = "folders"
    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    name: Mapped[str] = mapped_column(sa.String(30))


class Document(Base):
    """A nullable foreign key to a folder."""

    __tablename__ = "documents"
    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    folder_id: Mapped[int | None] = mapped_column(sa.ForeignKey("folders.id"))
    folder: Mapped[Folder | None] = relationship()


class Login(Base):
    """A plain ``@property`` setter, which SQLAlchemy's constructor accepts as a keyword."""

    __tablename__ = "logins"
    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    password_hash: Mapped[str] = mapped_column(sa.String(80))

    @property
    def password(self) -> str:
        raise AttributeError("write-only")

    @password.setter
    def password(self, value: str) -> None:
        self.password_hash = f"hashed:{value[::-1]}"


@pytest.fixture(scope="module")
def compat_engine(pg_server_url: str) -> Iterator[sa.Engine]:
    name = f"test_compat_{uuid.uuid4().hex[:10]}"
    engine = sa.create_engine(create_database(pg_server_url, name))
    Base.metadata.create_all(engine)
    yield engine
    engine.dispose()
    drop_database(pg_server_url, name)


@dataclass
class Wiring:
    """How the tests' factories get their session: ``Meta.sqlalchemy_session`` or ``seedkit.bind``."""

    how: str
    session: Session

    def meta(self, session: Any = None) -> type:
        """A ``class Meta`` base carrying the session when ``how`` is "meta"."""
        own = {"sqlalchemy_session": session or self.session} if self.how == "meta" else {}
        return type("Meta", (), own)

    def using(self, session: Any) -> AbstractContextManager[None]:
        """What the "bind" wiring needs around a call to use ``session``."""
        return seedkit.bind(session=session) if self.how == "bind" else nullcontext()


@pytest.fixture(params=["meta", "bind"])
def wiring(request: pytest.FixtureRequest, compat_engine: sa.Engine) -> Iterator[Wiring]:
    with Session(compat_engine) as session, deterministic(), Wiring(request.param, session).using(session):
        yield Wiring(request.param, session)
        session.rollback()
    with compat_engine.begin() as conn:
        tables = ", ".join(table.name for table in Base.metadata.sorted_tables)
        conn.execute(sa.text(f"TRUNCATE {tables}"))


def rows(session: Session, model: type, column: str) -> list[Any]:
    return list(session.scalars(sa.select(getattr(model, column)).order_by(getattr(model, column))))


@pytest.fixture
def widgets(wiring: Wiring) -> type[seedkit.SQLAlchemyFactory]:
    class WidgetFactory(seedkit.SQLAlchemyFactory):
        class Meta(wiring.meta()):
            model = Widget

        id = factory.Sequence(lambda n: n)
        label = factory.Sequence(lambda n: f"label{n}")

    return WidgetFactory


@pytest.fixture
def codes(wiring: Wiring) -> type[seedkit.SQLAlchemyFactory]:
    class CodeFactory(seedkit.SQLAlchemyFactory):
        class Meta(wiring.meta()):
            model = Code

        id = factory.Sequence(lambda n: f"code{n}")

    return CodeFactory


@pytest.fixture
def badges(wiring: Wiring) -> type[seedkit.SQLAlchemyFactory]:
    class BadgeFactory(seedkit.SQLAlchemyFactory):
        class Meta(wiring.meta()):
            model = Badge
            sqlalchemy_get_or_create = ("slug",)
            sqlalchemy_session_persistence = "commit"

        id = factory.Sequence(lambda n: n)
        label = factory.Sequence(lambda n: f"label{n}")

    return BadgeFactory


@pytest.fixture
def pages(wiring: Wiring) -> type[seedkit.SQLAlchemyFactory]:
    class PageFactory(seedkit.SQLAlchemyFactory):
        class Meta(wiring.meta()):
            model = Page
            sqlalchemy_get_or_create = ("slug", "text")
            sqlalchemy_session_persistence = "commit"

        id = factory.Sequence(lambda n: n)
        slug = factory.Sequence(lambda n: f"slug{n}")
        text = factory.Sequence(lambda n: f"text{n}")

    return PageFactory


# -- sequences and primary keys ----------------------------------------------------------------
def test_sequence_continues_from_reset_value_in_build(widgets: Any) -> None:
    widgets.reset_sequence(1)
    assert [widgets.build().label, widgets.build().label] == ["label1", "label2"]


def test_sequence_and_primary_key_in_create_and_after_reset(widgets: Any, wiring: Wiring) -> None:
    widgets.reset_sequence(1)
    first = widgets.create()
    assert (first.id, first.label) == (1, "label1")
    widgets.reset_sequence()
    second = widgets.create()
    assert (second.id, second.label) == (0, "label0")
    assert rows(wiring.session, Widget, "id") == [0, 1]


def test_a_forced_primary_key_leaves_the_sequence_alone(widgets: Any) -> None:
    widgets.reset_sequence(1)
    forced = widgets.create(id=10)
    assert (forced.id, forced.label) == (10, "label1")
    widgets.reset_sequence()
    assert widgets.create().id == 0


def test_text_primary_keys_from_a_sequence(codes: Any, wiring: Wiring) -> None:
    assert [codes.build().id, codes.build().id] == ["code0", "code1"]
    codes.reset_sequence()
    assert codes.create().id == "code0"
    assert codes.create(id="code10").id == "code10"
    assert rows(wiring.session, Code, "id") == ["code0", "code10"]


# -- get_or_create ---------------------------------------------------------------------------
def test_get_or_create_returns_the_same_row_for_the_same_key(badges: Any, wiring: Wiring) -> None:
    assert badges(slug="a") is badges(slug="a")
    assert rows(wiring.session, Badge, "slug") == ["a"]


def test_get_or_create_without_a_value_for_its_field_is_factory_boys_error(badges: Any) -> None:
    with pytest.raises(factory.FactoryError, match="'slug'"):
        badges()


def test_get_or_create_with_several_matching_rows_raises_multiple_results_found(
    widgets: Any, wiring: Wiring
) -> None:
    class WidgetByLabelFactory(widgets):  # type: ignore[misc, valid-type]
        class Meta:
            sqlalchemy_get_or_create = ("label",)

    widgets.create_batch(2, label="same")
    with pytest.raises(MultipleResultsFound):
        WidgetByLabelFactory(label="same")


def test_get_or_create_in_a_batch_with_an_iterator_makes_each_key_once(badges: Any, wiring: Wiring) -> None:
    made = badges.create_batch(6, slug=factory.Iterator(["main", "alt"]))
    assert len(made) == 6 and len(set(made)) == 2
    assert rows(wiring.session, Badge, "slug") == ["alt", "main"]


def test_get_or_create_finds_the_row_by_the_fields_the_caller_passed(pages: Any, wiring: Wiring) -> None:
    first = pages()
    again = pages(slug=first.slug)  # its generated text differs: the row of that slug is returned
    assert again is first
    assert rows(wiring.session, Page, "slug") == [first.slug]


def test_get_or_create_conflicting_on_a_passed_field_is_an_integrity_error(
    pages: Any, wiring: Wiring
) -> None:
    first = pages()
    with pytest.raises(IntegrityError) as error:
        pages(slug=first.slug, text="alt")
    assert isinstance(error.value, factory.FactoryError)
    assert "no row matches {'slug': 'slug0', 'text': 'alt'}" in str(error.value)
    assert error.value.orig is not None and "duplicate key" in str(error.value.orig)
    assert rows(wiring.session, Page, "text") == ["text0"]  # and the transaction is usable


def test_a_unique_column_outside_get_or_create_is_an_integrity_error(pages: Any) -> None:
    pages(title="Title")
    with pytest.raises(IntegrityError):
        pages(title="Title")


# -- persistence -----------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("persistence", "flushes", "commits"), [("flush", 1, 0), ("commit", 0, 1), (None, 0, 0)]
)
def test_session_persistence_flushes_commits_or_only_adds(
    wiring: Wiring, persistence: str | None, flushes: int, commits: int
) -> None:
    session = mock.NonCallableMagicMock(spec=Session)

    class PersistingFactory(seedkit.SQLAlchemyFactory):
        class Meta(wiring.meta(session)):
            model = Widget
            sqlalchemy_session_persistence = persistence

        id = factory.Sequence(lambda n: n)

    with wiring.using(session):
        widget = PersistingFactory.create()
    session.add.assert_called_once_with(widget)
    assert (session.flush.call_count, session.commit.call_count) == (flushes, commits)


def test_an_unknown_persistence_is_a_type_error_at_definition() -> None:
    with pytest.raises(TypeError, match="sqlalchemy_session_persistence"):

        class BadPersistenceFactory(seedkit.SQLAlchemyFactory):
            class Meta:
                model = Widget
                sqlalchemy_session_persistence = "sometimes"


# -- sessions --------------------------------------------------------------------------------
def test_meta_session_none_creates_nothing_even_with_a_bound_session(wiring: Wiring) -> None:
    class BuildOnlyFactory(seedkit.SQLAlchemyFactory):
        class Meta:
            model = Widget
            sqlalchemy_session = None

        id = factory.Sequence(lambda n: n)

    with seedkit.bind(session=wiring.session), pytest.raises(RuntimeError, match="no session provided"):
        BuildOnlyFactory.create()
    first, second = BuildOnlyFactory.build_batch(2)
    assert second.id == first.id + 1
    assert rows(wiring.session, Widget, "id") == []


def test_a_subclass_keeps_the_opt_out_until_it_sets_a_session(wiring: Wiring) -> None:
    class BuildOnlyFactory(seedkit.SQLAlchemyFactory):
        class Meta:
            model = Widget
            sqlalchemy_session = None

        id = factory.Sequence(lambda n: n)
        label = "x"

    class StillBuildOnly(BuildOnlyFactory):
        pass

    class Persisting(BuildOnlyFactory):
        class Meta:
            sqlalchemy_session = wiring.session

    with seedkit.bind(session=wiring.session):
        with pytest.raises(RuntimeError):
            StillBuildOnly()
        assert Persisting() in wiring.session


def test_session_factory_fills_meta_session_and_is_used_for_every_create(wiring: Wiring) -> None:
    calls: list[Session] = []

    def session_factory() -> Session:
        calls.append(wiring.session)
        return wiring.session

    class FromSessionFactory(seedkit.SQLAlchemyFactory):
        class Meta:
            model = Widget
            sqlalchemy_session = None
            sqlalchemy_session_factory = session_factory

        id = factory.Sequence(lambda n: n)
        label = "x"

    first = FromSessionFactory.create()
    assert FromSessionFactory._meta.sqlalchemy_session is wiring.session
    second = FromSessionFactory.create()
    assert first in wiring.session and second in wiring.session and len(calls) >= 2


def test_a_session_and_a_session_factory_together_are_refused() -> None:
    with pytest.raises(
        RuntimeError, match=r"^Provide either a sqlalchemy_session or a sqlalchemy_session_factory"
    ):

        class BothFactory(seedkit.SQLAlchemyFactory):
            class Meta:
                model = Widget
                sqlalchemy_session = mock.NonCallableMagicMock(spec=Session)
                sqlalchemy_session_factory = Session


def test_with_nothing_bound_create_is_a_runtime_error_and_build_works(compat_engine: sa.Engine) -> None:
    class UnboundFactory(seedkit.SQLAlchemyFactory):
        class Meta:
            model = Widget

        id = factory.Sequence(lambda n: n)

    with deterministic():
        with pytest.raises(RuntimeError, match=r"seedkit\.bind\(session="):
            UnboundFactory.create()
        with pytest.raises(factory.FactoryError):
            UnboundFactory.create()
        assert UnboundFactory.build().id == 2


# -- names that clash with the factory's own arguments ---------------------------------------
@pytest.mark.parametrize("get_or_create", [(), ("session",)])
def test_a_field_named_session(wiring: Wiring, get_or_create: tuple[str, ...]) -> None:
    class ClashFactory(seedkit.SQLAlchemyFactory):
        class Meta(wiring.meta()):
            model = Clash
            sqlalchemy_get_or_create = get_or_create

        id = factory.Sequence(lambda n: n)
        session = ""

    assert ClashFactory().session == ""
    assert rows(wiring.session, Clash, "session") == [""]


# -- what seedkit validates: only what would really fail -------------------------------------
@pytest.fixture
def documents(wiring: Wiring) -> type[seedkit.SQLAlchemyFactory]:
    class FolderFactory(seedkit.SQLAlchemyFactory):
        class Meta(wiring.meta()):
            model = Folder

        id = factory.Sequence(lambda n: n + 100)
        name = "inbox"

    class DocumentFactory(seedkit.SQLAlchemyFactory):
        class Meta(wiring.meta()):
            model = Document

        id = factory.Sequence(lambda n: n)
        folder = factory.SubFactory(FolderFactory)

    return DocumentFactory


def test_a_property_setter_is_accepted_as_sqlalchemy_accepts_it(wiring: Wiring) -> None:
    class LoginFactory(seedkit.SQLAlchemyFactory):
        class Meta(wiring.meta()):
            model = Login

        id = factory.Sequence(lambda n: n)
        password = "secret"

    assert LoginFactory.build(password="x").password_hash == "hashed:x"
    assert LoginFactory().password_hash == "hashed:terces"
    assert rows(wiring.session, Login, "password_hash") == ["hashed:terces"]
    with pytest.raises(TypeError, match="unknown attribute 'pasword'") as error:
        LoginFactory.build(pasword="x")
    assert isinstance(error.value, factory.FactoryError)


def test_a_none_foreign_key_means_no_parent(documents: Any, wiring: Wiring) -> None:
    orphan = documents(folder_id=None)
    built = documents.build(folder_id=None)
    assert orphan.folder is None and orphan.folder_id is None and built.folder is None
    assert rows(wiring.session, Folder, "id") == []
    assert rows(wiring.session, Document, "id") == [orphan.id]


def test_build_with_a_foreign_key_never_touches_the_database(
    documents: Any, wiring: Wiring, compat_engine: sa.Engine
) -> None:
    statements: list[str] = []

    def record(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        statements.append(statement)

    sa.event.listen(compat_engine, "before_cursor_execute", record)
    try:
        with seedkit.bind(session=wiring.session):
            built = documents.build(folder_id=999)
    finally:
        sa.event.remove(compat_engine, "before_cursor_execute", record)
    assert built.folder_id == 999 and built.folder is None
    assert statements == []


def test_create_with_an_unknown_foreign_key_is_an_integrity_error(documents: Any) -> None:
    with pytest.raises(IntegrityError, match="folder_id=999 matches no Folder row") as error:
        documents(folder_id=999)
    assert isinstance(error.value, factory.FactoryError)
