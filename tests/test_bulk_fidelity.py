"""The bulk paths write what the per-object path writes (issue #11): declarations that read a
parent's ``str()``, ``isinstance``, properties, hybrids and methods, or that fail on a record.

Each factory is seeded per object (``create_batch`` through a SQLAlchemy session, a flush per
object) and through ``BulkSeeder`` on a second database of the same schema; the fingerprints
must be equal, and the path the volume took is checked where the row path can serve it.
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
from sqlalchemy.ext.hybrid import hybrid_property
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from seedkit import SQLAlchemyFactory
from seedkit.core.declarations import UUIDFor
from seedkit.core.determinism import deterministic
from seedkit.errors import FactoryError


class Base(DeclarativeBase):
    pass


class Branch(Base):
    __tablename__ = "branches"
    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(sa.String(20))
    city: Mapped[str] = mapped_column(sa.String(60))
    tier: Mapped[str] = mapped_column(sa.String(20), default="basic")  # filled by the flush
    slug: Mapped[str] = mapped_column(
        sa.String(40), default=lambda ctx: ctx.get_current_parameters()["code"].upper() + "-s"
    )
    members: Mapped[list[Member]] = relationship(back_populates="branch")

    @property
    def display(self) -> str:
        return f"{self.city} ({self.code})"

    def label(self, prefix: str = "branch") -> str:
        return f"{prefix}:{self.code.lower()}"

    @hybrid_property
    def upper_code(self) -> str:
        return self.code.upper()

    def __str__(self) -> str:
        return f"Branch {self.code}"


class Plain(Base):
    """A model with object's default repr (a memory address)."""

    __tablename__ = "plains"
    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(60))


class Member(Base):
    __tablename__ = "members"
    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    branch_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("branches.id"))
    branch: Mapped[Branch] = relationship(back_populates="members")
    plain_id: Mapped[uuid.UUID | None] = mapped_column(sa.ForeignKey("plains.id"))
    plain: Mapped[Plain | None] = relationship()
    full_name: Mapped[str] = mapped_column(sa.String(100))
    note: Mapped[str] = mapped_column(sa.String(200))


class Book(Base):
    __tablename__ = "books"
    id: Mapped[int] = mapped_column(sa.Identity(), primary_key=True)
    title: Mapped[str] = mapped_column(sa.String(100))


class Loan(Base):
    __tablename__ = "loans"
    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    member_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("members.id"))
    member: Mapped[Member] = relationship()
    book_id: Mapped[int | None] = mapped_column(sa.ForeignKey("books.id"))
    book: Mapped[Book | None] = relationship()
    details: Mapped[str] = mapped_column(sa.String(200))


class BranchFactory(SQLAlchemyFactory):
    class Meta:
        model = Branch

    id = UUIDFor("branches")
    code = factory.Sequence(lambda n: f"br{n}")
    city = factory.Faker("city")


class PlainFactory(SQLAlchemyFactory):
    class Meta:
        model = Plain

    id = UUIDFor("plains")
    name = factory.Faker("word")


class MemberFactory(SQLAlchemyFactory):
    class Meta:
        model = Member

    id = UUIDFor("members")
    branch = factory.SubFactory(BranchFactory)
    full_name = factory.Faker("name")
    note = "plain"


def _member(name: str, note: Any, **more: Any) -> type[MemberFactory]:
    return type(name, (MemberFactory,), {"__module__": __name__, "note": note, **more})


LA = factory.LazyAttribute


@pytest.fixture
def two_databases(pg_server_url: str) -> Iterator[tuple[str, str]]:
    with new_databases(pg_server_url, Base.metadata) as urls:
        yield urls


def _notes(url: str) -> list[str]:
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            return list(conn.execute(sa.text("SELECT note FROM members ORDER BY note")).scalars())
    finally:
        engine.dispose()


# -- the model's own str/repr/format, isinstance, properties, hybrids and methods ------------------
ROW_PATH_FACTORIES = {
    "str": _member("StrFactory", LA(lambda o: f"member of {o.branch}")),
    "format": _member("FormatFactory", LA(lambda o: f"{o.branch!s:>12}|{format(o.branch)}|{o.branch}")),
    "isinstance": _member("IsinstanceFactory", LA(lambda o: str(isinstance(o.branch, Branch)))),
    "class": _member("ClassFactory", LA(lambda o: o.branch.__class__.__name__)),
    "property": _member("PropertyFactory", LA(lambda o: o.branch.display)),
    "hybrid": _member("HybridFactory", LA(lambda o: o.branch.upper_code)),
    "method": _member("MethodFactory", LA(lambda o: o.branch.label("b") + o.branch.label())),
    "getattr": _member("GetattrFactory", LA(lambda o: str(getattr(o.branch, "display", "none")))),
}


@pytest.mark.parametrize("kind", sorted(ROW_PATH_FACTORIES))
def test_a_declaration_reading_the_models_own_code_takes_the_row_path_with_the_per_object_rows(
    two_databases: tuple[str, str], kind: str
) -> None:
    factory_class = ROW_PATH_FACTORIES[kind]
    first, second = two_databases
    expected = per_object(first, factory_class, 9)
    got, decision = bulk(second, factory_class, 9)

    assert decision.path == "row", decision.reason
    assert _notes(second) == _notes(first)
    assert got.digest == expected.digest


def test_a_hook_reading_the_records_class_and_str_sees_the_model(two_databases: tuple[str, str]) -> None:
    class HookFactory(MemberFactory):
        @factory.post_generation
        def mark(obj: Any, create: bool, extracted: Any, **kwargs: Any) -> None:
            obj.note = f"{obj.__class__.__name__ if isinstance(obj, Member) else 'other'} of {obj.branch}"

    first, second = two_databases
    expected = per_object(first, HookFactory, 5)
    got, decision = bulk(second, HookFactory, 5)

    assert decision.path == "row", decision.reason
    assert _notes(second)[0] == "Member of Branch br0"
    assert got.digest == expected.digest


# -- what the row path cannot give falls back to the ORM path --------------------------------------
FALLBACK_FACTORIES = {
    # object's default repr is a memory address: the row path refuses it
    "default repr": _member(
        "ReprFactory",
        LA(lambda o: str(o.plain is not None and repr(o.plain).startswith("<"))),
        plain=factory.SubFactory(PlainFactory),
    ),
    # a record is no ORM instance: SQLAlchemy raises UnmappedInstanceError naming the record class
    "object_session": _member(
        "SessionFactory", LA(lambda o: str(sa.orm.object_session(o.branch) is not None))
    ),
}


@pytest.mark.parametrize("kind", sorted(FALLBACK_FACTORIES))
def test_a_first_root_that_fails_on_the_row_path_sends_the_volume_to_the_orm_path(
    two_databases: tuple[str, str], kind: str
) -> None:
    factory_class = FALLBACK_FACTORIES[kind]
    first, second = two_databases
    expected = per_object(first, factory_class, 6)
    got, decision = bulk(second, factory_class, 6)

    assert decision.path == "orm"
    assert "first row" in decision.reason
    assert "\n" not in decision.reason
    assert got.digest == expected.digest


def test_the_fallback_records_the_error_of_the_first_root(two_databases: tuple[str, str]) -> None:
    _, second = two_databases
    _, decision = bulk(second, FALLBACK_FACTORIES["object_session"], 2)

    assert "UnmappedInstanceError" in decision.reason
    assert "BranchRow" in decision.reason


_calls = {"n": 0}


def _fails_at_the_third_root(o: Any) -> str:
    _calls["n"] += 1
    if _calls["n"] == 3:
        raise ValueError("the third call fails\nover two lines")
    return "fine"


def test_a_later_roots_error_on_the_row_path_stops_seeding_with_one_line(
    two_databases: tuple[str, str],
) -> None:
    _calls["n"] = 0
    factory_class = _member("ThirdFails", LA(_fails_at_the_third_root))
    _, second = two_databases
    with pytest.raises(FactoryError) as caught:
        bulk(second, factory_class, 6)

    message = str(caught.value)
    assert "\n" not in message
    assert "volume of" not in message  # it was the create call's count, not the volume's
    assert "ThirdFails: root 3 failed on the row path: " in message
    assert "raised ValueError: the third call fails" in message


# -- what a flush fills: parents' keys, Python defaults, keys the database generates --------------
class BookFactory(SQLAlchemyFactory):
    class Meta:
        model = Book

    title = factory.Faker("sentence", nb_words=2)


class LoanFactory(SQLAlchemyFactory):
    class Meta:
        model = Loan

    id = UUIDFor("loans")
    member = factory.SubFactory(MemberFactory)
    details = LA(lambda o: f"{o.member.branch_id}|{o.member.branch.tier}|{o.member.branch.slug}")


def _details(url: str) -> list[str]:
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            return list(conn.execute(sa.text("SELECT details FROM loans ORDER BY details")).scalars())
    finally:
        engine.dispose()


@pytest.mark.parametrize("row_path", [True, False], ids=["row path", "orm path"])
def test_a_context_sensitive_default_gets_the_rows_parameters_on_both_bulk_paths(
    two_databases: tuple[str, str], row_path: bool
) -> None:
    first, second = two_databases
    expected = per_object(first, BranchFactory, 5)
    got, _ = bulk(second, BranchFactory, 5, row_path=row_path)

    assert got.digest == expected.digest


def test_a_parents_foreign_key_and_defaults_read_on_the_row_path_are_the_flushed_values(
    two_databases: tuple[str, str],
) -> None:
    first, second = two_databases
    expected = per_object(first, LoanFactory, 7)
    got, decision = bulk(second, LoanFactory, 7)

    assert decision.path == "row", decision.reason
    details = _details(second)
    assert details == _details(first)
    assert "|basic|BR" in details[0] and not details[0].startswith("None")
    assert got.digest == expected.digest


def test_a_key_the_database_generates_read_before_it_is_known_is_not_read_as_none() -> None:
    from seedkit.bulk.row_builder import RowPathUnsupported, build_root, no_session

    factory_class = type(
        "BookKeyLoanFactory",
        (LoanFactory,),
        {"book": factory.SubFactory(BookFactory), "details": LA(lambda o: f"book {o.book.id}")},
    )
    with deterministic(seed=1), no_session(), pytest.raises(RowPathUnsupported, match=r"Book\.id was read"):
        build_root(factory_class, {}, [])


def test_a_parents_foreign_key_and_defaults_read_on_the_orm_path_are_the_flushed_values(
    two_databases: tuple[str, str],
) -> None:
    first, second = two_databases
    expected = per_object(first, LoanFactory, 7)
    got, decision = bulk(second, LoanFactory, 7, row_path=False)

    assert decision.path == "orm"
    details = _details(second)
    assert details == _details(first)
    assert "|basic|BR" in details[0] and not details[0].startswith("None")
    assert got.digest == expected.digest
