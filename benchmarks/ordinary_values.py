"""The ordinary factories of :mod:`benchmarks.ordinary` with ``seedkit.values`` declarations instead of Faker.

The same graph, written the same way (``SubFactory``, ``RelatedFactory``/``RelatedFactoryList``,
``Sequence``, ``LazyAttribute``, pools passed at the call site as ``factory.Iterator``), with
every ``factory.Faker``, ``factory.fuzzy`` declaration and random UUID replaced by its
``seedkit.values`` equivalent (a rename: ``Faker("company")`` -> ``values.Company()``,
``FuzzyChoice`` -> ``values.RandomElement``, ``FuzzyDecimal`` -> ``values.PyDecimal``...).
``python -m benchmarks --methods copy,ordinary,ordinary-values`` compares both with raw COPY.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import factory
from seedkit_reference.models import Order, OrderItem, Organization, Payment, Product, User

from seedkit import SQLAlchemyFactory, values

START = datetime(2025, 1, 1, tzinfo=UTC)
END = START + timedelta(days=30)


class OrganizationFactory(SQLAlchemyFactory):
    class Meta:
        model = Organization

    id = values.Uuid4(cast_to=None)
    name = values.Company()
    slug = factory.Sequence(lambda n: f"org-{n}")
    created_at = values.DateTimeBetween(START, END)


class ProductFactory(SQLAlchemyFactory):
    class Meta:
        model = Product

    id = values.Uuid4(cast_to=None)
    organization = factory.SubFactory(OrganizationFactory)
    sku = factory.Sequence(lambda n: f"SKU-{n:06d}")
    name = values.CatchPhrase()
    price = values.PyDecimal(1, 250)
    created_at = values.DateTimeBetween(START, END)


class PaymentFactory(SQLAlchemyFactory):
    class Meta:
        model = Payment

    id = values.Uuid4(cast_to=None)
    order = factory.SubFactory("benchmarks.ordinary_values.OrderFactory")
    amount = factory.LazyAttribute(lambda o: o.order.total)
    status = values.RandomElement(["authorized", "captured", "refunded", "failed"])
    provider = values.RandomElement(["stripe", "adyen", "paypal"])
    paid_at = factory.LazyAttribute(lambda o: o.order.created_at + timedelta(minutes=5))


class OrderItemFactory(SQLAlchemyFactory):
    class Meta:
        model = OrderItem

    id = factory.Sequence(lambda n: n + 1)
    order = factory.SubFactory("benchmarks.ordinary_values.OrderFactory")
    product = factory.SubFactory(ProductFactory)
    quantity = values.PyInt(1, 5)
    unit_price = factory.LazyAttribute(lambda o: o.product.price)
    line_total = factory.LazyAttribute(lambda o: o.unit_price * o.quantity)


class OrderFactory(SQLAlchemyFactory):
    class Meta:
        model = Order

    id = values.Uuid4(cast_to=None)
    user = factory.SubFactory("benchmarks.ordinary_values.UserFactory")
    status = values.RandomElement(["pending", "paid", "shipped", "cancelled"])
    currency = "EUR"
    subtotal = values.PyDecimal(5, 500)
    total = factory.LazyAttribute(lambda o: o.subtotal)
    created_at = values.DateTimeBetween(START, END)
    updated_at = factory.LazyAttribute(lambda o: o.created_at)
    items = factory.RelatedFactoryList(OrderItemFactory, "order", size=2)
    payment = factory.RelatedFactory(PaymentFactory, "order")


class UserFactory(SQLAlchemyFactory):
    class Meta:
        model = User

    id = values.Uuid4(cast_to=None)
    organization = factory.SubFactory(OrganizationFactory)
    full_name = values.Name()
    email = factory.Sequence(lambda n: f"user{n}@example.com")
    role = values.RandomElement(["admin", "member", "customer"])
    created_at = values.DateTimeBetween(START, END)
    order = factory.RelatedFactory(OrderFactory, "user")


def seed_ordinary_values(seeder: Any, users: int, organizations: int, products: int) -> None:
    """The graph through a :class:`seedkit.bulk.BulkSeeder`, as :func:`benchmarks.ordinary.seed_ordinary`."""
    with seeder.bound():
        orgs = OrganizationFactory.create_batch(organizations)
        catalog = ProductFactory.create_batch(products, organization=factory.Iterator(orgs))
    seeder.create(
        UserFactory,
        users,
        organization=factory.Iterator(orgs),
        order__items__product=factory.Iterator(catalog),
    )
