"""The row path's compiled evaluator writes what the per-object path writes (real PostgreSQL)."""

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
import pytest
from seedkit_reference.models import Order, OrderItem, Organization, Payment, Product, User
from test_bulk_row_path import bulk, per_object

from seedkit import SQLAlchemyFactory, values
from seedkit.bulk.compiled import CompiledPlan
from seedkit.bulk.row_builder import _FACTORY_ROWS, build_root, no_session
from seedkit.core.declarations import IntegerFor, Money, Now, UUIDFor
from seedkit.core.determinism import deterministic
from seedkit.factories.builder import lean_builds

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # the repository's benchmarks package
from benchmarks import ordinary, ordinary_values

START = datetime(2025, 1, 1, tzinfo=UTC)


def plans(factory_class: type[Any]) -> list[CompiledPlan | str]:
    """The compiled plans (or the reasons for none) the row path made for ``factory_class``."""
    found = [
        rows.compiled
        for meta, rows in _FACTORY_ROWS.values()
        if meta is factory_class._meta and getattr(rows, "mapped", False)
    ]
    return [plan for compiled in found for plan in compiled.values()]


def compiled(factory_class: type[Any]) -> bool:
    made = plans(factory_class)
    return bool(made) and all(isinstance(plan, CompiledPlan) for plan in made)


def _pool(create: Callable[..., Any], factory_class: type[Any], count: int, **fields: Any) -> list[Any]:
    """ORM objects to pass as a pool: made in the seeder's session when ``create`` is a seeder's."""
    seeder = getattr(create, "__self__", None)
    if seeder is None:
        return list(create(factory_class, count, **fields))
    with seeder.bound():
        return list(factory_class.create_batch(count, **fields))


def _pooled(module: Any) -> Callable[[Callable[..., Any]], None]:
    def seed(create: Callable[..., Any]) -> None:
        orgs = _pool(create, module.OrganizationFactory, 4)
        catalog = _pool(create, module.ProductFactory, 9, organization=factory.Iterator(orgs))
        create(
            module.UserFactory,
            25,
            organization=factory.Iterator(orgs),
            order__items__product=factory.Iterator(catalog),
        )

    return seed


@pytest.mark.parametrize("module", [ordinary, ordinary_values], ids=["faker", "values"])
def test_the_ordinary_graphs_are_compiled_and_write_the_per_object_rows(
    module: Any, db_url: str, second_db: str
) -> None:
    seed = _pooled(module)
    expected = per_object(db_url, seed)
    _FACTORY_ROWS.clear()
    got, seeder = bulk(second_db, seed, chunk_size=6)

    for name in ("UserFactory", "OrderFactory", "OrderItemFactory", "PaymentFactory"):
        assert compiled(getattr(module, name)), (name, plans(getattr(module, name)))
    assert {d.path for d in seeder.paths.values()} == {"row"}
    assert expected.parts["pg:order_items"].count == 50
    assert got.parts == expected.parts
    assert got.digest == expected.digest


# -- a graph using every compiled kind -----------------------------------------------------------
def _uuid() -> uuid.UUID:
    return uuid.UUID(int=factory.random.randgen.getrandbits(128), version=4)


class KindOrganizationFactory(SQLAlchemyFactory):
    class Meta:
        model = Organization
        exclude = ("word",)

    id = UUIDFor("organizations")
    # on demand: name reads slug, declared after it
    name = factory.LazyAttribute(lambda o: f"{o.slug.upper()} {o.word}")
    slug = factory.LazyAttributeSequence(lambda o, n: f"k-org-{n}-{o.word}")
    word = factory.Faker("word", locale="fr_FR")
    created_at = Now()


class KindProductFactory(SQLAlchemyFactory):
    class Meta:
        model = Product
        exclude = ("margin",)

    id = factory.LazyFunction(_uuid)
    organization = factory.SubFactory(KindOrganizationFactory)
    sku = factory.Sequence(lambda n: f"K-{n:05d}")
    name = factory.Faker("catch_phrase")
    margin = factory.fuzzy.FuzzyDecimal(1, 3)
    price = factory.LazyAttribute(lambda o: o.margin * 10)
    created_at = factory.SelfAttribute("organization.created_at")


class KindUserFactory(SQLAlchemyFactory):
    class Meta:
        model = User

    class Params:
        domain = "example.org"

    id = values.Uuid4(cast_to=None)
    organization = factory.SubFactory(KindOrganizationFactory, slug=factory.Sequence(lambda n: f"u-org-{n}"))
    # reads full_name and id before they are declared: both evaluated first, on demand
    email = factory.LazyAttribute(lambda o: f"{o.full_name.split()[0].lower()}.{o.id.hex[:6]}@{o.domain}")
    full_name = values.Name()
    role = factory.Iterator(["admin", "member", "customer"])
    created_at = factory.Faker(
        "date_time_between", start_date=START, end_date=START + timedelta(days=9), tzinfo=UTC
    )
    orders = factory.RelatedFactoryList(f"{__name__}.KindOrderFactory", "user", size=2)


class KindOrderFactory(SQLAlchemyFactory):
    class Meta:
        model = Order

    id = factory.Faker("uuid4", cast_to=None)
    user = factory.SubFactory(KindUserFactory)
    status = values.RandomElement(["pending", "paid"])
    currency = "EUR"
    subtotal = Money(5, 500)
    total = factory.LazyAttribute(lambda o: o.subtotal + Decimal(1))
    created_at = factory.LazyAttribute(lambda o: o.user.created_at + timedelta(hours=1))
    updated_at = factory.SelfAttribute("created_at")
    items = factory.RelatedFactoryList(f"{__name__}.KindItemFactory", "order", size=2)
    payment = factory.RelatedFactory(
        f"{__name__}.KindPaymentFactory", "order", amount=factory.SelfAttribute("..total")
    )


class KindItemFactory(SQLAlchemyFactory):
    class Meta:
        model = OrderItem

    id = IntegerFor("order_items")
    order = factory.SubFactory(KindOrderFactory)
    product = factory.SubFactory(KindProductFactory)
    quantity = factory.fuzzy.FuzzyInteger(1, 5)
    unit_price = factory.SelfAttribute("product.price")
    line_total = factory.LazyAttribute(lambda o: o.unit_price * o.quantity)


class KindPaymentFactory(SQLAlchemyFactory):
    class Meta:
        model = Payment

    id = values.Uuid4(cast_to=None)
    order = factory.SubFactory(KindOrderFactory)
    amount = factory.LazyAttribute(lambda o: o.order.total)
    status = factory.fuzzy.FuzzyChoice(["authorized", "captured"])
    provider = factory.Faker("random_element", elements=["stripe", "adyen"])
    paid_at = None


_KINDS = (KindOrganizationFactory, KindProductFactory, KindUserFactory, KindOrderFactory, KindItemFactory)


def _seed_kinds(create: Callable[..., Any]) -> None:
    orgs = _pool(create, KindOrganizationFactory, 3)
    catalog = _pool(create, KindProductFactory, 5, organization=factory.Iterator(orgs))
    create(
        KindUserFactory,
        8,
        organization=factory.Iterator(orgs),
        orders__items__product=factory.Iterator(catalog),
    )
    create(KindUserFactory, 3, domain="example.com", orders__items__quantity=7)  # Params, deep extras
    create(KindOrderFactory, 4, user__organization=factory.Iterator(orgs), status="cancelled")


def test_every_compiled_kind_writes_the_per_object_rows(db_url: str, second_db: str) -> None:
    expected = per_object(db_url, _seed_kinds)
    _FACTORY_ROWS.clear()
    got, seeder = bulk(second_db, _seed_kinds, chunk_size=5)

    for factory_class in (*_KINDS, KindPaymentFactory):
        assert compiled(factory_class), (factory_class.__name__, plans(factory_class))
    assert {d.path for d in seeder.paths.values()} == {"row"}
    assert expected.parts["pg:orders"].count == (8 + 3) * 2 + 4 * (1 + 2)  # a user of each order has two
    assert got.parts == expected.parts
    assert got.digest == expected.digest


def test_a_compiled_row_reads_a_later_field_first_and_detects_cycles() -> None:
    class CycleFactory(SQLAlchemyFactory):
        class Meta:
            model = Organization

        id = factory.LazyFunction(_uuid)
        name = factory.LazyAttribute(lambda o: o.slug)
        slug = factory.LazyAttribute(lambda o: o.name)
        created_at = START

    records: list[Any] = []
    with deterministic(seed=1), no_session(), lean_builds():
        build_root(KindOrganizationFactory, {}, records)
        (org,) = records
        assert org.name.startswith(org.slug.upper() + " ")
        with pytest.raises(factory.errors.CyclicDefinitionError):
            build_root(CycleFactory, {}, records)
    assert compiled(KindOrganizationFactory)
    assert compiled(CycleFactory)


# -- a value passed at the call site that the compiler does not know: that factory keeps the resolver --
class PassedMaybeUserFactory(KindUserFactory):
    orders = factory.RelatedFactory(KindOrderFactory, "user")


def _seed_passed_maybe(create: Callable[..., Any]) -> None:
    role = factory.Maybe(
        factory.LazyFunction(lambda: factory.random.randgen.random() < 0.5),
        yes_declaration="admin",
        no_declaration=factory.fuzzy.FuzzyChoice(["member", "customer"]),
    )
    create(PassedMaybeUserFactory, 10, role=role)


def test_a_factory_with_an_uncompiled_declaration_falls_back_and_writes_the_per_object_rows(
    db_url: str, second_db: str
) -> None:
    expected = per_object(db_url, _seed_passed_maybe)
    _FACTORY_ROWS.clear()
    got, seeder = bulk(second_db, _seed_passed_maybe, chunk_size=4)

    (reason,) = plans(PassedMaybeUserFactory)
    assert isinstance(reason, str) and "role: the value passed as role= (Maybe) is not compiled" in reason
    assert compiled(KindOrderFactory) and compiled(KindItemFactory)  # its children still are
    assert {d.path for d in seeder.paths.values()} == {"row"}
    assert got.parts == expected.parts
    assert got.digest == expected.digest
