"""Factories of the reference domain's PostgreSQL models.

All primary keys come from the active ID generator, all timestamps from the active clock,
all random choices from the seeded factory_boy/Faker generators: the same seed gives the
same rows, byte for byte.

Rules worth knowing (see docs/factories.md):

- ``UserFactory`` builds a new organization per user (``SubFactory``); ``CustomerFactory``
  and ``ProductFactory`` reuse an organization the session already created with a factory
  (``ReuseOrCreate``), so volumes like "5 organizations, 100 products, 200 customers"
  spread over the 5 organizations.
- ``OrderFactory(items=n)`` fills an order with ``n`` distinct products of the customer's
  organization (seeded pick among its products; missing ones are created) and its totals
  add up: ``subtotal = sum(line_total)``, ``total = subtotal`` (no tax, no shipping).
  ``OrderFactory(paid=True)`` also creates a captured ``Payment`` of ``total`` (and has one
  item unless ``items`` is given). A standalone ``OrderItemFactory`` does not touch the
  totals of its order.
- ``CustomerFactory(orders=3)`` or ``orders="0-5"`` gives each customer that many paid orders
  with 1-4 items each.
"""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any, NamedTuple

import factory
import factory.fuzzy
import factory.random
from factory.declarations import BaseDeclaration, PostGenerationDeclaration

from seedkit.core.declarations import IntegerFor, Money, Now, UUIDFor, count_from
from seedkit.factories.alchemy import ReuseOrCreate, SQLAlchemyFactory

from .models import Order, OrderItem, Organization, Payment, Product, User

__all__ = [
    "CustomerFactory",
    "OrderFactory",
    "OrderItemFactory",
    "OrganizationFactory",
    "PaymentFactory",
    "ProductFactory",
    "UserFactory",
]

MAX_QUANTITY = 3
ORDER_ITEMS_PER_CUSTOMER_ORDER = "1-4"


def _slug(text: str, sep: str = "-") -> str:
    return re.sub(r"[^a-z0-9]+", sep, text.lower()).strip(sep)[:60] or "x"


def line_total(unit_price: Decimal, quantity: int) -> Decimal:
    """The price of one order line."""
    return unit_price * quantity


class Line(NamedTuple):
    """One planned order line: which product, how many."""

    product: Product
    quantity: int

    @property
    def total(self) -> Decimal:
        return line_total(self.product.price, self.quantity)


class OrganizationFactory(SQLAlchemyFactory):
    class Meta:
        model = Organization

    id = UUIDFor("organizations")
    name = factory.Faker("company")
    slug = factory.LazyAttributeSequence(lambda o, n: f"{_slug(o.name)}-{n}")
    created_at = Now()


class UserFactory(SQLAlchemyFactory):
    """A member of a new organization; traits ``admin`` and ``customer`` set the role."""

    class Meta:
        model = User

    class Params:
        admin = factory.Trait(role="admin")
        customer = factory.Trait(role="customer")

    id = UUIDFor("users")
    organization = factory.SubFactory(OrganizationFactory)
    full_name = factory.Faker("name")
    email = factory.LazyAttributeSequence(lambda o, n: f"{_slug(o.full_name, '.')}.{n}@example.com")
    role = "member"
    created_at = Now()


class ProductFactory(SQLAlchemyFactory):
    class Meta:
        model = Product

    id = UUIDFor("products")
    organization = ReuseOrCreate(OrganizationFactory)
    sku = factory.Sequence(lambda n: f"SKU-{n:06d}")
    name = factory.Faker("catch_phrase")
    price = Money("1.00", "250.00")
    created_at = Now()


class _PlannedLines(BaseDeclaration):
    """The order's lines: ``items`` distinct products of the customer's organization.

    Picks (seeded) among the organization's products, sorted by SKU so the pick does not
    depend on load order, and creates products for the organization when it has too few.
    """

    def evaluate(self, instance: Any, step: Any, extra: Any) -> list[Line]:
        count = count_from(instance.items, what="OrderFactory.items")
        if count == 0:
            return []
        organization = instance.user.organization
        candidates = sorted(organization.products, key=lambda product: product.sku)
        picked = factory.random.randgen.sample(candidates, min(count, len(candidates)))
        while len(picked) < count:
            picked.append(step.recurse(ProductFactory, {"organization": organization}))
        return [Line(product, factory.random.randgen.randint(1, MAX_QUANTITY)) for product in picked]


class _LineItems(PostGenerationDeclaration):
    """Creates (or builds) one ``OrderItem`` per planned line, after the order."""

    def call(self, instance: Any, step: Any, context: Any) -> Any:
        if context.value_provided:
            return context.value
        return [
            step.recurse(
                OrderItemFactory, {"order": instance, "product": line.product, "quantity": line.quantity}
            )
            for line in step.attributes["lines"]
        ]


class OrderFactory(SQLAlchemyFactory):
    """An order of a customer; ``items=n`` adds lines, ``paid=True`` adds a payment."""

    class Meta:
        model = Order

    class Params:
        items = 0
        lines = _PlannedLines()
        paid = factory.Trait(
            status="paid",
            items=1,
            payment=factory.RelatedFactory("seedkit_reference.model_factories.PaymentFactory", "order"),
        )

    id = UUIDFor("orders")
    user = factory.SubFactory("seedkit_reference.model_factories.CustomerFactory")
    status = "pending"
    currency = "EUR"
    subtotal = factory.LazyAttribute(lambda o: sum((line.total for line in o.lines), Decimal("0.00")))
    total = factory.LazyAttribute(lambda o: o.subtotal)
    created_at = Now()
    updated_at = factory.SelfAttribute("created_at")
    line_items = _LineItems()


class OrderItemFactory(SQLAlchemyFactory):
    class Meta:
        model = OrderItem

    id = IntegerFor("order_items")
    order = factory.SubFactory(OrderFactory)
    product = factory.SubFactory(
        ProductFactory, organization=factory.SelfAttribute("..order.user.organization")
    )
    quantity = factory.fuzzy.FuzzyInteger(1, MAX_QUANTITY)
    unit_price = factory.SelfAttribute("product.price")
    line_total = factory.LazyAttribute(lambda o: line_total(o.unit_price, o.quantity))


class PaymentFactory(SQLAlchemyFactory):
    """A captured payment of the whole order total."""

    class Meta:
        model = Payment

    id = UUIDFor("payments")
    order = factory.SubFactory(OrderFactory, paid=True, payment=None)
    amount = factory.SelfAttribute("order.total")
    status = "captured"
    provider = factory.fuzzy.FuzzyChoice(("card", "paypal", "bank_transfer"))
    paid_at = Now()


class CustomerFactory(UserFactory):
    """A customer of an organization the session already has (or a new one).

    ``orders`` is a count or a ``"lo-hi"`` range drawn per customer; each order is paid, with
    ``ORDER_ITEMS_PER_CUSTOMER_ORDER`` items (override with ``orders__items=...``).
    """

    organization = ReuseOrCreate(OrganizationFactory)
    role = "customer"

    @factory.post_generation
    def orders(obj: User, create: bool, extracted: int | str | None, **kwargs: Any) -> list[Order]:
        count = count_from(0 if extracted is None else extracted, what="CustomerFactory.orders")
        items = kwargs.pop("items", ORDER_ITEMS_PER_CUSTOMER_ORDER)
        make = OrderFactory.create if create else OrderFactory.build
        return [make(user=obj, paid=True, items=items, **kwargs) for _ in range(count)]
