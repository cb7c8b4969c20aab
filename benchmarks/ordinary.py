"""Ordinary factories: a plain factory_boy graph as a user would write it, on ``seedkit.SQLAlchemyFactory``.

The same graph as :mod:`benchmarks.graph` (100 organizations, 500 products, N users each with one
order of two items and one payment, in the reference schema), written the way factory_boy's
documentation teaches: ``SubFactory`` for parents, ``RelatedFactory``/``RelatedFactoryList`` for
children, ``Faker``, ``Sequence``, ``LazyAttribute`` and fuzzy choices, pools of existing
organizations and products passed at the call site as ``factory.Iterator``. Nothing in it is
tuned for seedkit: only the base class is seedkit's (issue #11 measures these against raw COPY).
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import factory
import factory.fuzzy
from seedkit_reference.models import Order, OrderItem, Organization, Payment, Product, User

from seedkit import SQLAlchemyFactory

START = datetime(2025, 1, 1, tzinfo=UTC)
END = START + timedelta(days=30)


def _uuid() -> uuid.UUID:
    return uuid.UUID(int=factory.random.randgen.getrandbits(128), version=4)


class OrganizationFactory(SQLAlchemyFactory):
    class Meta:
        model = Organization

    id = factory.LazyFunction(_uuid)
    name = factory.Faker("company")
    slug = factory.Sequence(lambda n: f"org-{n}")
    created_at = factory.Faker("date_time_between", start_date=START, end_date=END, tzinfo=UTC)


class ProductFactory(SQLAlchemyFactory):
    class Meta:
        model = Product

    id = factory.LazyFunction(_uuid)
    organization = factory.SubFactory(OrganizationFactory)
    sku = factory.Sequence(lambda n: f"SKU-{n:06d}")
    name = factory.Faker("catch_phrase")
    price = factory.fuzzy.FuzzyDecimal(1, 250)
    created_at = factory.Faker("date_time_between", start_date=START, end_date=END, tzinfo=UTC)


class PaymentFactory(SQLAlchemyFactory):
    class Meta:
        model = Payment

    id = factory.LazyFunction(_uuid)
    order = factory.SubFactory("benchmarks.ordinary.OrderFactory")
    amount = factory.LazyAttribute(lambda o: o.order.total)
    status = factory.fuzzy.FuzzyChoice(["authorized", "captured", "refunded", "failed"])
    provider = factory.fuzzy.FuzzyChoice(["stripe", "adyen", "paypal"])
    paid_at = factory.LazyAttribute(lambda o: o.order.created_at + timedelta(minutes=5))


class OrderItemFactory(SQLAlchemyFactory):
    class Meta:
        model = OrderItem

    id = factory.Sequence(lambda n: n + 1)
    order = factory.SubFactory("benchmarks.ordinary.OrderFactory")
    product = factory.SubFactory(ProductFactory)
    quantity = factory.fuzzy.FuzzyInteger(1, 5)
    unit_price = factory.LazyAttribute(lambda o: o.product.price)
    line_total = factory.LazyAttribute(lambda o: o.unit_price * o.quantity)


class OrderFactory(SQLAlchemyFactory):
    class Meta:
        model = Order

    id = factory.LazyFunction(_uuid)
    user = factory.SubFactory("benchmarks.ordinary.UserFactory")
    status = factory.fuzzy.FuzzyChoice(["pending", "paid", "shipped", "cancelled"])
    currency = "EUR"
    subtotal = factory.fuzzy.FuzzyDecimal(5, 500)
    total = factory.LazyAttribute(lambda o: o.subtotal)
    created_at = factory.Faker("date_time_between", start_date=START, end_date=END, tzinfo=UTC)
    updated_at = factory.LazyAttribute(lambda o: o.created_at)
    items = factory.RelatedFactoryList(OrderItemFactory, "order", size=2)
    payment = factory.RelatedFactory(PaymentFactory, "order")


class UserFactory(SQLAlchemyFactory):
    class Meta:
        model = User

    id = factory.LazyFunction(_uuid)
    organization = factory.SubFactory(OrganizationFactory)
    full_name = factory.Faker("name")
    email = factory.Sequence(lambda n: f"user{n}@example.com")
    role = factory.fuzzy.FuzzyChoice(["admin", "member", "customer"])
    created_at = factory.Faker("date_time_between", start_date=START, end_date=END, tzinfo=UTC)
    order = factory.RelatedFactory(OrderFactory, "user")


def seed_ordinary(seeder: Any, users: int, organizations: int, products: int) -> None:
    """The graph through a :class:`seedkit.bulk.BulkSeeder`: pools first, then users with their orders."""
    with seeder.bound():
        orgs = OrganizationFactory.create_batch(organizations)
        catalog = ProductFactory.create_batch(products, organization=factory.Iterator(orgs))
    seeder.create(
        UserFactory,
        users,
        organization=factory.Iterator(orgs),
        order__items__product=factory.Iterator(catalog),
    )
