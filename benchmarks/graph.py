"""The seeding benchmark's graph, four ways to write it, and the helpers they share.

The graph (issue #5): 100 organizations, 500 products, and N users each with one order of
two items and one payment: ``100 + 500 + 5 N`` rows (a few more products when an
organization needs them for an order) in the reference schema.

- seedkit (bulk, per-object, partitioned): the reference domain's factories
  (``CustomerFactory(orders=1, orders__items=2)``), unchanged.
- factory_boy naive: plain ``SQLAlchemyModelFactory`` classes with Faker declarations,
  ``create_batch`` with a flush per object and one commit (what factory_boy users write).
- raw COPY: tuples generated beforehand (not timed), written with psycopg COPY: the ceiling.
- Faker tuples + COPY: the same tuples with Faker names, generation timed.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import factory
import factory.alchemy
import factory.fuzzy
import faker
from seedkit_reference.models import Order, OrderItem, Organization, Payment, Product, User

ORGANIZATIONS = 100
PRODUCTS = 500
TABLES = ("organizations", "products", "users", "orders", "order_items", "payments")
START = datetime(2025, 1, 1, tzinfo=UTC)


def graph_rows(users: int) -> int:
    """Rows of the graph without extra products."""
    return ORGANIZATIONS + PRODUCTS + 5 * users


# -- factory_boy, the naive way ------------------------------------------------------------
_POOLS: dict[str, list[Any]] = {"organizations": [], "products": []}


def _uuid() -> uuid.UUID:
    return uuid.UUID(int=factory.random.randgen.getrandbits(128), version=4)


class NaiveFactory(factory.alchemy.SQLAlchemyModelFactory):
    class Meta:
        abstract = True
        sqlalchemy_session_persistence = "flush"


class NaiveOrganizationFactory(NaiveFactory):
    class Meta:
        model = Organization

    id = factory.LazyFunction(_uuid)
    name = factory.Faker("company")
    slug = factory.Sequence(lambda n: f"org-{n}")
    created_at = factory.Faker(
        "date_time_between", start_date=START, end_date=START + timedelta(days=30), tzinfo=UTC
    )


class NaiveProductFactory(NaiveFactory):
    class Meta:
        model = Product

    id = factory.LazyFunction(_uuid)
    organization = factory.LazyFunction(lambda: factory.random.randgen.choice(_POOLS["organizations"]))
    sku = factory.Sequence(lambda n: f"SKU-{n:06d}")
    name = factory.Faker("catch_phrase")
    price = factory.fuzzy.FuzzyDecimal(1, 250)
    created_at = factory.Faker(
        "date_time_between", start_date=START, end_date=START + timedelta(days=30), tzinfo=UTC
    )


class NaiveOrderItemFactory(NaiveFactory):
    class Meta:
        model = OrderItem

    id = factory.Sequence(lambda n: n + 1)
    order = None
    product = factory.LazyFunction(lambda: factory.random.randgen.choice(_POOLS["products"]))
    quantity = factory.fuzzy.FuzzyInteger(1, 3)
    unit_price = factory.SelfAttribute("product.price")
    line_total = factory.LazyAttribute(lambda o: o.unit_price * o.quantity)


class NaivePaymentFactory(NaiveFactory):
    class Meta:
        model = Payment

    id = factory.LazyFunction(_uuid)
    order = None
    amount = factory.SelfAttribute("order.total")
    status = "captured"
    provider = factory.fuzzy.FuzzyChoice(("card", "paypal", "bank_transfer"))
    paid_at = factory.SelfAttribute("order.created_at")


class NaiveOrderFactory(NaiveFactory):
    class Meta:
        model = Order

    id = factory.LazyFunction(_uuid)
    user = None
    status = "paid"
    currency = "EUR"
    subtotal = factory.fuzzy.FuzzyDecimal(2, 750)
    total = factory.SelfAttribute("subtotal")
    created_at = factory.Faker(
        "date_time_between", start_date=START, end_date=START + timedelta(days=30), tzinfo=UTC
    )
    updated_at = factory.SelfAttribute("created_at")
    items = factory.RelatedFactoryList(NaiveOrderItemFactory, "order", size=2)
    payment = factory.RelatedFactory(NaivePaymentFactory, "order")


class NaiveUserFactory(NaiveFactory):
    class Meta:
        model = User

    id = factory.LazyFunction(_uuid)
    organization = factory.LazyFunction(lambda: factory.random.randgen.choice(_POOLS["organizations"]))
    full_name = factory.Faker("name")
    email = factory.Sequence(lambda n: f"user{n}@example.com")
    role = "customer"
    created_at = factory.Faker(
        "date_time_between", start_date=START, end_date=START + timedelta(days=30), tzinfo=UTC
    )
    order = factory.RelatedFactory(NaiveOrderFactory, "user")


def seed_naive(session: Any, users: int) -> None:
    """The graph with plain factory_boy: flush per object (the session is committed by the caller)."""
    factory.random.reseed_random(1)
    for model_factory in (NaiveOrganizationFactory, NaiveProductFactory, NaiveUserFactory):
        model_factory._meta.sqlalchemy_session = session  # type: ignore[attr-defined]
    _POOLS["organizations"] = NaiveOrganizationFactory.create_batch(ORGANIZATIONS)
    _POOLS["products"] = NaiveProductFactory.create_batch(PRODUCTS)
    for related in (NaiveOrderFactory, NaiveOrderItemFactory, NaivePaymentFactory):
        related._meta.sqlalchemy_session = session  # type: ignore[attr-defined]
    NaiveUserFactory.create_batch(users)


# -- hand-written tuples -------------------------------------------------------------------
def tuples(users: int, *, fake_names: bool) -> Iterator[tuple[str, list[tuple[Any, ...]]]]:
    """Rows per table, parents first: ``(table, rows)``; Faker names when ``fake_names``."""
    rnd = random.Random(1)
    fake = faker.Faker()
    fake.seed_instance(1)

    def new_id() -> uuid.UUID:
        return uuid.UUID(int=rnd.getrandbits(128), version=4)

    def name(i: int) -> str:
        return fake.name() if fake_names else f"User {i}"

    orgs = [
        (new_id(), fake.company() if fake_names else f"Org {i}", f"org-{i}", START + timedelta(seconds=i))
        for i in range(ORGANIZATIONS)
    ]
    yield "organizations", orgs
    products = []
    for i in range(PRODUCTS):
        price = Decimal(rnd.randint(100, 25_000)) / 100
        products.append((new_id(), orgs[i % ORGANIZATIONS][0], f"SKU-{i:06d}", f"Product {i}", price, START))
    yield "products", products
    user_rows, orders, items, payments = [], [], [], []
    for i in range(users):
        user_id, order_id = new_id(), new_id()
        at = START + timedelta(seconds=i)
        user_rows.append(
            (user_id, orgs[i % ORGANIZATIONS][0], f"user{i}@example.com", name(i), "customer", at)
        )
        first, second = products[rnd.randrange(PRODUCTS)], products[rnd.randrange(PRODUCTS)]
        total = first[4] + second[4]
        orders.append((order_id, user_id, "paid", "EUR", total, total, at, at))
        items.append((2 * i + 1, order_id, first[0], 1, first[4], first[4]))
        items.append((2 * i + 2, order_id, second[0], 1, second[4], second[4]))
        payments.append((new_id(), order_id, total, "captured", "card", at))
    yield "users", user_rows
    yield "orders", orders
    yield "order_items", items
    yield "payments", payments


def copy_tuples(driver: Any, tables: list[tuple[str, list[tuple[Any, ...]]]]) -> None:
    """Binary COPY of ``(table, rows)`` in order on a psycopg connection."""
    with driver.cursor() as cursor:
        for table, rows in tables:
            oids = cursor.execute(
                "SELECT atttypid FROM pg_attribute WHERE attrelid = %s::regclass AND attnum > 0 "
                "AND NOT attisdropped ORDER BY attnum",
                (table,),
            ).fetchall()
            with cursor.copy(f"COPY {table} FROM STDIN (FORMAT BINARY)") as copy:
                copy.set_types([oid for (oid,) in oids])
                for row in rows:
                    copy.write_row(row)
