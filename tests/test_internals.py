"""Every private detail of factory_boy, SQLAlchemy and Faker that seedkit relies on, checked by name.

pyproject.toml bounds these libraries to the versions this was checked with; a release that
moves one of these details fails here, loudly, instead of changing generated values silently.
Behaviour, not only presence, is covered elsewhere: the lean builder against factory_boy's own
builder (test_builder.py), the Faker speed-up against Faker's own draws (test_faker_weights.py),
event-free column values against the ORM's (test_bulk_user_models.py).
"""

from __future__ import annotations

import inspect

import factory
import factory.builder
import factory.declarations
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
