"""Every private detail of factory_boy, SQLAlchemy and Faker that seedkit relies on, checked by name.

pyproject.toml bounds these libraries to the versions this was checked with; a release that
moves one of these details fails here, loudly, instead of changing generated values silently.
Behaviour, not only presence, is covered elsewhere: the lean builder against factory_boy's own
builder (test_builder.py), the Faker speed-ups against Faker's own draws (test_faker_paths.py),
event-free column values against the ORM's (test_bulk_user_models.py).
"""

from __future__ import annotations

import datetime
import inspect
import random
from bisect import bisect_right
from math import floor

import factory
import factory.builder
import factory.declarations
import faker
import faker.generator
import faker.providers.date_time
import faker.providers.lorem
import sqlalchemy as sa
from faker.providers import BaseProvider
from sqlalchemy.orm import Mapped, configure_mappers, decl_api, declarative_base, mapped_column, relationship
from sqlalchemy.orm.mapper import _event_on_init


def test_factory_boy_builder_internals() -> None:
    for name in ("BuildStep", "StepBuilder", "parse_declarations", "DeclarationSet", "Resolver"):
        assert hasattr(factory.builder, name), f"factory.builder.{name} is gone"
    assert list(inspect.signature(factory.builder.parse_declarations).parameters)[:2] == ["decls", "base_pre"]
    assert hasattr(factory.LazyFunction(lambda: 1), "_defaults")
    assert hasattr(factory.declarations.BaseDeclaration, "UNROLL_CONTEXT_BEFORE_EVALUATION")


def test_factory_boy_resolver_keeps_the_fields_being_resolved() -> None:
    # seedkit.values names a declaration passed at the call site after the field being resolved.
    seen = []

    class Plain(factory.DictFactory):
        name = factory.LazyAttribute(
            lambda o: seen.append(list(object.__getattribute__(o, "_Resolver__pending")))
        )

    Plain.build()
    assert seen == [["name"]]


def test_factory_boy_counter_and_faker_registry() -> None:
    class Plain(factory.Factory):
        class Meta:
            model = dict

    assert Plain._meta._counter is None  # set up on first use
    Plain.reset_sequence(5, force=True)
    assert Plain._meta._counter.seq == 5
    assert isinstance(factory.Faker._FAKER_REGISTRY, dict)


def test_sqlalchemy_mapper_internals() -> None:
    base = declarative_base()

    class Parent(base):  # type: ignore[misc, valid-type]
        __tablename__ = "parent"
        id: Mapped[int] = mapped_column(primary_key=True)
        children = relationship("Child", back_populates="parent")

    class Child(base):  # type: ignore[misc, valid-type]
        __tablename__ = "child"
        id: Mapped[int] = mapped_column(primary_key=True)
        parent_id: Mapped[int] = mapped_column(sa.ForeignKey("parent.id"))
        parent = relationship(Parent, back_populates="children")

    configure_mappers()

    manager = Parent.__mapper__.class_manager
    assert manager.original_init is decl_api._declarative_constructor
    assert list(manager.dispatch.init) == [_event_on_init]
    assert hasattr(manager["id"].impl.dispatch, "set")
    rel = Parent.__mapper__.relationships["children"]
    assert rel._reverse_property == {Child.__mapper__.relationships["parent"]}


def test_faker_random_elements_signature() -> None:
    parameters = list(inspect.signature(BaseProvider.random_elements).parameters)
    assert parameters == ["self", "elements", "length", "unique", "use_weighting"]
    assert hasattr(BaseProvider, "__use_weighting__")


def test_faker_details_the_faster_paths_rely_on() -> None:
    # seedkit/core/faker_paths.py: Faker's token pattern, dispatch and the date and lorem helpers.
    assert faker.generator._re_token.pattern == r"\{\{\s*(\w+)(:\s*\w+?)?\s*\}\}"
    assert hasattr(faker.generator.Generator, "get_formatter")
    fake = faker.Faker()
    assert object.__getattribute__(fake, "_factories")[0] is fake.factories[0]
    assert "format" in faker.Faker.generator_attrs and "format" not in vars(faker.Faker)
    dates = faker.providers.date_time
    for name in ("_parse_date_time", "_parse_date", "_parse_date_string"):
        assert isinstance(dates.Provider.__dict__[name], classmethod), name
    assert callable(dates.datetime_to_timestamp)
    assert dates.datetime is datetime.datetime  # the module's names, read at call time (freezegun swaps them)
    assert dates.dtdate is datetime.date
    lorem = faker.providers.lorem.Provider
    for name in ("get_words_list", "word_connector", "sentence_punctuation"):
        assert hasattr(lorem, name), name
    assert isinstance(fake.factories[0].provider("faker.providers.lorem").word_list, list | tuple)
    assert callable(factory.Faker._get_faker)


def test_the_faster_paths_take_fakers_parameters() -> None:
    from seedkit.core import faker_paths

    assert faker_paths._PATCHES == faker_paths._CANDIDATES  # none left out for this Faker release
    for owner, name, original, fast in faker_paths._CANDIDATES:
        if original is faker_paths._ABSENT:  # the proxy's format: what its __getattr__ hands out
            original = faker.generator.Generator.format
        original = original.__func__ if isinstance(original, classmethod) else original
        fast = fast.__func__ if isinstance(fast, classmethod) else fast
        theirs = [(p.name, p.default, p.kind) for p in inspect.signature(original).parameters.values()]
        ours = [(p.name, p.default, p.kind) for p in inspect.signature(fast).parameters.values()]
        assert ours == theirs, f"{owner.__qualname__}.{name}"


def test_random_draws_the_faster_paths_compute_themselves() -> None:
    # randint(a, b) is a + _randbelow(b - a + 1), choice(s) is s[_randbelow(len(s))], and choices
    # with or without cumulative weights: values and the generator's state.
    population = ["a", "b", "c", "d", "e"]
    cumulative = [1.0, 1.5, 4.0, 4.25, 9.0]
    for seed in range(20):
        theirs, ours = random.Random(seed), random.Random(seed)
        for low, high in ((0, 9), (1, 9), (2, 9), (0, 1), (60, 140), (100, 140)):
            assert theirs.randint(low, high) == low + ours._randbelow(high - low + 1)  # type: ignore[attr-defined]
        assert theirs.choice(population) == population[ours._randbelow(len(population))]  # type: ignore[attr-defined]
        assert (
            theirs.choices(population, cum_weights=cumulative, k=1)[0]
            == population[
                bisect_right(cumulative, ours.random() * (cumulative[-1] + 0.0), 0, len(population) - 1)
            ]
        )
        assert theirs.choices(population, k=4) == [population[floor(ours.random() * 5.0)] for _ in range(4)]
        assert theirs.getstate() == ours.getstate()


def test_uuid_keeps_its_two_slots() -> None:
    # seedkit.core.ids.uuid4_from_int sets them directly, as uuid.UUID.__init__ does
    import uuid

    assert set(uuid.UUID.__slots__) == {"int", "is_safe", "__weakref__"}
    made = uuid.UUID(int=5, version=4)
    assert made.is_safe is uuid.SafeUUID.unknown
