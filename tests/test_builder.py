"""The lean builder gives what factory_boy's builder gives, declaration by declaration.

Every factory below logs the objects it builds; each case builds the same calls once with
factory_boy's ``StepBuilder`` and once with :class:`seedkit.factories.builder.LeanStepBuilder`, from the
same seed, and compares the logs (values, nesting and order of creation).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import factory
import factory.fuzzy
import pytest
import sqlalchemy as sa
from factory import errors
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship, validates

from seedkit.core.determinism import deterministic
from seedkit.factories import builder
from seedkit.factories.alchemy import _new_instance
from seedkit.factories.builder import generate, lean_building, lean_builds

LOG: list[tuple[str, dict[str, Any]]] = []


class Logged(factory.Factory):
    class Meta:
        abstract = True
        model = dict

    @classmethod
    def _build(cls, model_class: type, *args: Any, **kwargs: Any) -> dict[str, Any]:
        LOG.append((cls.__name__, dict(kwargs)))
        return dict(kwargs)

    _create = _build


class TagFactory(Logged):
    label = factory.Faker("word")
    owner = None


class AddressFactory(Logged):
    street = factory.Faker("street_address")
    city = factory.Faker("city", locale="de_DE")
    country = "DE"
    zone = factory.LazyAttribute(lambda o: f"{o.country}-{o.factory_parent.code}")


class CompanyFactory(Logged):
    class Params:
        big = factory.Trait(employees=factory.fuzzy.FuzzyInteger(1_000, 5_000), tier="gold")
        prefix = "ACME"

    code = factory.Sequence(lambda n: f"C{n:03d}")
    name = factory.LazyAttributeSequence(lambda o, n: f"{o.prefix} {n}")
    employees = factory.fuzzy.FuzzyInteger(1, 50)
    tier = "basic"
    address = factory.SubFactory(AddressFactory)
    motto = factory.Faker("catch_phrase")
    revenue = factory.fuzzy.FuzzyDecimal(10, 1_000)


class PersonFactory(Logged):
    class Params:
        vip = False
        title = factory.Maybe("vip", yes_declaration="Dr.", no_declaration="")

    id = factory.Sequence(lambda n: n + 100)
    first = factory.Faker("first_name")
    last = factory.Faker("last_name")
    full = factory.LazyAttribute(lambda o: f"{o.title} {o.first} {o.last}".strip())
    age = factory.Faker("pyint", min_value=18, max_value=90)
    color = factory.Iterator(["red", "green", "blue"])
    size = factory.fuzzy.FuzzyChoice(["S", "M", "L"])
    company = factory.SubFactory(CompanyFactory, prefix="Initech")
    company_code = factory.LazyAttribute(lambda o: o.company["code"] if o.company else None)
    first_again = factory.SelfAttribute("first")
    scores = factory.List([factory.fuzzy.FuzzyInteger(0, 9), factory.fuzzy.FuzzyInteger(10, 19)])
    meta = factory.Dict(
        {"created": factory.LazyFunction(lambda: "now"), "by": factory.SelfAttribute("..first")}
    )
    initials = factory.Transformer("ab", transform=str.upper)
    siblings = factory.ContainerAttribute(lambda obj, containers: len(containers or ()), strict=False)
    tag = factory.RelatedFactory(TagFactory, "owner")
    more_tags = factory.RelatedFactoryList(TagFactory, "owner", size=2)

    @factory.post_generation
    def notes(obj: dict[str, Any], create: bool, extracted: Any, **kwargs: Any) -> None:
        LOG.append(("notes", {"extracted": extracted, "kwargs": kwargs, "id": obj["id"]}))


CALLS: list[tuple[type[Any], dict[str, Any]]] = [
    (PersonFactory, {}),
    (PersonFactory, {"vip": True}),
    (PersonFactory, {"company__big": True, "company__address__country": "FR"}),
    (PersonFactory, {"first": "Ada", "notes": "given", "notes__level": 3}),
    (PersonFactory, {"initials": "xy", "tag__label": "fixed"}),
    (PersonFactory, {"company": None, "company_code": "none", "more_tags__size": 1}),
    (PersonFactory, {"last": factory.LazyAttribute(lambda o: o.first[::-1])}),  # a declaration as a value
    (PersonFactory, {"__sequence": 7}),
    (CompanyFactory, {"big": True}),
    (CompanyFactory, {"address": factory.SubFactory(AddressFactory, street="Main St 1")}),
    # pools passed at the call site, and a post-generation declaration passed as a value
    (PersonFactory, {"size": factory.fuzzy.FuzzyChoice(["XS", "XL"]), "first": "Bo"}),
    (PersonFactory, {"size": factory.fuzzy.FuzzyChoice(["XXL"]), "first": "Cy"}),
    (
        PersonFactory,
        {"notes": factory.PostGeneration(lambda obj, create, extracted, **kw: LOG.append(("p", kw)))},
    ),
    (PersonFactory, {"tag": factory.RelatedFactory(TagFactory, "owner", label="x"), "more_tags__size": 0}),
]


def _build_all(lean: bool, calls: list[tuple[type[Any], dict[str, Any]]]) -> list[tuple[str, dict[str, Any]]]:
    LOG.clear()
    with deterministic(seed=5):
        for _ in range(3):  # a second round runs on the lean builder's cached plans
            for factory_class, params in calls:
                if lean:
                    generate(factory_class, factory.enums.BUILD_STRATEGY, dict(params))
                else:
                    factory_class.build(**params)
    logged = list(LOG)
    LOG.clear()
    return logged


def test_the_lean_builder_builds_what_factory_boy_builds() -> None:
    expected = _build_all(False, CALLS)
    got = _build_all(True, CALLS)

    assert len(expected) > 100
    assert repr(got) == repr(expected)


def test_the_comparison_sees_a_different_seed() -> None:
    # Guards the test above: the logs hold generated values that depend on the seed.
    first = _build_all(False, CALLS[:1])
    LOG.clear()
    with deterministic(seed=6):
        PersonFactory.build()
    assert repr(LOG) != repr(first[: len(LOG)])
    LOG.clear()


def _count_parses(monkeypatch: pytest.MonkeyPatch) -> list[tuple[type[Any], tuple[str, ...]]]:
    """Every ``parse_declarations`` call the lean builder makes: (factory, keyword names)."""
    parses: list[tuple[type[Any], tuple[str, ...]]] = []
    real = builder.parse_declarations
    owners = {
        id(f._meta.pre_declarations): f for f in (PersonFactory, CompanyFactory, AddressFactory, TagFactory)
    }

    def spy(decls: dict[str, Any], base_pre: Any = None, base_post: Any = None) -> Any:
        parses.append((owners.get(id(base_pre), Logged), tuple(decls)))
        return real(decls, base_pre=base_pre, base_post=base_post)

    monkeypatch.setattr(builder, "parse_declarations", spy)
    builder._PLANS.clear()
    return parses


def test_values_and_pools_passed_at_the_call_site_reuse_the_parse(monkeypatch: pytest.MonkeyPatch) -> None:
    parses = _count_parses(monkeypatch)
    colors = [["red"], ["green", "blue"], ["cyan", "magenta", "yellow"]]
    built = []
    with deterministic(seed=5):
        for round_ in range(4):
            for pool in colors:
                built.append(
                    generate(
                        CompanyFactory,
                        factory.enums.BUILD_STRATEGY,
                        {
                            "tier": f"tier-{round_}",
                            "employees": factory.fuzzy.FuzzyChoice([round_, round_ + 100]),
                            "motto": factory.Iterator(pool),
                            "address__country": "FR" if round_ % 2 else "DE",
                        },
                    )
                )
    # once for 12 calls (and once for the sub-factory, called with its own keyword names)
    assert parses == [
        (CompanyFactory, ("tier", "employees", "motto", "address__country")),
        (AddressFactory, ("country",)),
    ]
    assert [company["tier"] for company in built[::3]] == ["tier-0", "tier-1", "tier-2", "tier-3"]
    assert [company["motto"] for company in built[:3]] == ["red", "green", "cyan"]  # each call's own pool
    assert {company["employees"] for company in built[3:6]} <= {1, 101}
    assert [company["address"]["country"] for company in built[::3]] == ["DE", "FR", "DE", "FR"]


def test_a_post_generation_declaration_passed_as_a_value_is_parsed_as_one(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    parses = _count_parses(monkeypatch)
    seen: list[Any] = []
    first = factory.PostGeneration(lambda obj, create, extracted, **kw: seen.append(("first", obj["id"])))
    second = factory.PostGeneration(lambda obj, create, extracted, **kw: seen.append(("second", obj["id"])))
    with deterministic(seed=5):
        for declaration in (first, second, first, second):
            person = generate(
                PersonFactory, factory.enums.BUILD_STRATEGY, {"company": None, "audit": declaration}
            )
            assert "audit" not in person  # a post-declaration, not an attribute
    assert [name for name, _ in seen] == ["first", "second", "first", "second"]
    # one parse per post-generation declaration passed (its creation counter orders it), not per call
    assert [names for owner, names in parses if owner is PersonFactory] == [("company", "audit")] * 2


class CyclicFactory(Logged):
    a = factory.LazyAttribute(lambda o: o.b)
    b = factory.LazyAttribute(lambda o: o.a)


def test_errors_are_factory_boys() -> None:
    with pytest.raises(errors.CyclicDefinitionError, match="Cyclic lazy attribute definition for 'a'"):
        generate(CyclicFactory, factory.enums.BUILD_STRATEGY, {})
    for params in ({"nothing__here": 1}, {"company__address__nothing__deep": 2}):
        with pytest.raises(errors.InvalidDeclarationError) as factory_boy_error:
            PersonFactory.build(**params)
        with pytest.raises(errors.InvalidDeclarationError) as lean_error:
            generate(PersonFactory, factory.enums.BUILD_STRATEGY, dict(params))
        assert str(lean_error.value) == str(factory_boy_error.value)
        assert "1" in str(lean_error.value) or "2" in str(lean_error.value)  # names the value passed
    reads = Logged.__class__("Reads", (Logged,), {"x": factory.LazyAttribute(lambda o: o.missing)})
    with pytest.raises(AttributeError) as factory_boy_missing:
        reads.build()
    with pytest.raises(AttributeError) as lean_missing:
        generate(reads, "build", {})
    # factory_boy's message (its definitions listed by name), made only when shown: factory_boy
    # looks every trait up expecting this error, and the evaluated values may be large
    assert str(factory_boy_missing.value).startswith(
        "The parameter 'missing' is unknown. Evaluated attributes are {}"
    )
    assert (
        str(lean_missing.value)
        == "The parameter 'missing' is unknown. Evaluated attributes are {}, definitions are ['x']."
    )


def test_lean_builds_is_scoped() -> None:
    assert not lean_building()
    with lean_builds():
        assert lean_building()
        with lean_builds(False):
            assert not lean_building()
        assert lean_building()
    assert not lean_building()


# -- event-free construction of plain models --------------------------------------------------
class Base(DeclarativeBase):
    pass


class Shelf(Base):
    __tablename__ = "shelves"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str]
    books: Mapped[list[Book]] = relationship(back_populates="shelf")


class Book(Base):
    __tablename__ = "books"
    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str]
    price: Mapped[Decimal]
    shelf_id: Mapped[int] = mapped_column(sa.ForeignKey("shelves.id"))
    shelf: Mapped[Shelf] = relationship(back_populates="books")


class Checked(Base):
    __tablename__ = "checked"
    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str]

    @validates("code")
    def _upper(self, key: str, value: str) -> str:
        return value.upper()


def test_plain_models_are_built_without_column_events_and_keep_back_references() -> None:
    shelf = Shelf(id=1, name="fiction")
    with lean_builds():
        book = _new_instance(Book, (), {"id": 5, "title": "Dune", "price": Decimal("9.50"), "shelf": shelf})
        checked = _new_instance(Checked, (), {"id": 1, "code": "abc"})
    normal = Book(id=5, title="Dune", price=Decimal("9.50"), shelf=shelf)

    assert type(book) is Book and sa.inspect(book).transient
    assert (book.id, book.title, book.price) == (5, "Dune", Decimal("9.50"))
    assert book.shelf is shelf
    assert shelf.books == [book, normal]  # the relationship still back-populates
    assert "title" not in sa.inspect(book).committed_state  # the column set fired no event
    assert "title" in sa.inspect(normal).committed_state
    assert checked.code == "ABC"  # a model with validators keeps its constructor


def test_outside_lean_builds_the_constructor_runs() -> None:
    book = _new_instance(Book, (), {"id": 6, "title": "Emma", "price": Decimal("1.00")})
    assert "title" in sa.inspect(book).committed_state
