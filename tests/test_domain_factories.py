"""The reference domain's factories on real PostgreSQL (and Mongo for documents)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest
import sqlalchemy as sa
from bson import Decimal128
from seedkit_reference import document_factories, model_factories
from seedkit_reference.document_factories import AuditEventFactory, NotificationFactory
from seedkit_reference.model_factories import (
    CustomerFactory,
    OrderFactory,
    OrderItemFactory,
    OrganizationFactory,
    PaymentFactory,
    ProductFactory,
    UserFactory,
)
from seedkit_reference.models import Order, OrderItem, Payment, Product, User
from sqlalchemy.orm import Session

from seedkit.core.determinism import deterministic
from seedkit.errors import FactoryError
from seedkit.factories.binding import bind


def count(session: Session, table: str) -> int:
    return int(session.execute(sa.text(f"SELECT count(*) FROM {table}")).scalar_one())


@pytest.fixture
def session(engine: sa.Engine, mongo_db: Any) -> Iterator[Session]:
    with Session(engine) as s, deterministic(seed=5), bind(session=s, mongo=mongo_db):
        yield s


def test_domain_factories_are_importable_from_seedkit() -> None:
    import seedkit

    assert seedkit.UserFactory is UserFactory
    assert seedkit.AuditEventFactory is AuditEventFactory
    assert seedkit.SQLAlchemyFactory is model_factories.SQLAlchemyFactory
    assert seedkit.MongoFactory is document_factories.MongoFactory


@pytest.mark.mongo
def test_an_explicit_organization_is_used_and_no_other_is_created(session: Session) -> None:
    org = OrganizationFactory()
    users = [UserFactory(organization=org), UserFactory(organization=org, admin=True)]
    assert all(user.organization is org for user in users)
    session.commit()
    assert count(session, "organizations") == 1
    assert count(session, "users") == 2


@pytest.mark.mongo
def test_user_gets_its_own_organization_through_the_sub_factory(session: Session) -> None:
    a, b = UserFactory.create_batch(2)
    assert a.organization is not b.organization
    assert count(session, "organizations") == 2


@pytest.mark.mongo
def test_emails_slugs_and_skus_are_unique(session: Session) -> None:
    users = UserFactory.create_batch(30)
    products = ProductFactory.create_batch(30)
    assert len({u.email for u in users}) == 30
    assert len({u.organization.slug for u in users}) == 30
    assert len({p.sku for p in products}) == 30
    session.commit()  # the database's unique constraints agree


@pytest.mark.mongo
def test_build_creates_nothing(session: Session) -> None:
    order = OrderFactory.build(paid=True, items=2)
    assert order.status == "paid" and len(order.items) == 2 and len(order.payments) == 1
    assert order.total == sum(item.line_total for item in order.items)
    assert count(session, "orders") == 0 and count(session, "organizations") == 0


@pytest.mark.mongo
def test_paid_order_totals_add_up_in_the_database(session: Session) -> None:
    order = OrderFactory(paid=True, items=3)
    session.commit()
    lines = session.execute(
        sa.select(OrderItem.quantity, OrderItem.unit_price, OrderItem.line_total, Product.price)
        .join(Product, Product.id == OrderItem.product_id)
        .where(OrderItem.order_id == order.id)
    ).all()
    assert len(lines) == 3
    for quantity, unit_price, total, price in lines:
        assert unit_price == price and total == unit_price * quantity
    stored = session.execute(
        sa.select(Order.status, Order.subtotal, Order.total).where(Order.id == order.id)
    ).one()
    assert stored.status == "paid"
    assert stored.subtotal == sum(line.line_total for line in lines) > 0
    assert stored.total == stored.subtotal
    payments = session.execute(
        sa.select(Payment.amount, Payment.status).where(Payment.order_id == order.id)
    ).all()
    assert payments == [(stored.total, "captured")]


@pytest.mark.mongo
def test_order_items_are_distinct_products_of_the_customers_organization(session: Session) -> None:
    org = OrganizationFactory()
    ProductFactory.create_batch(6, organization=org)
    other_shop_product = ProductFactory(organization__name="Elsewhere")
    customer = CustomerFactory(organization=org)
    order = OrderFactory(user=customer, items=4)
    products = [item.product for item in order.items]
    assert len({p.id for p in products}) == 4
    assert all(p.organization is org for p in products)
    assert other_shop_product not in products
    assert count(session, "products") == 7  # picked among existing ones, none created


@pytest.mark.mongo
def test_missing_products_are_created_for_the_organization(session: Session) -> None:
    customer = CustomerFactory()
    order = OrderFactory(user=customer, items=2)
    assert count(session, "products") == 2
    assert {item.product.organization_id for item in order.items} == {customer.organization_id}


@pytest.mark.mongo
def test_pending_order_without_items_is_empty(session: Session) -> None:
    order = OrderFactory()
    assert (order.status, order.subtotal, order.total, order.items, order.payments) == (
        "pending",
        Decimal("0.00"),
        Decimal("0.00"),
        [],
        [],
    )


@pytest.mark.mongo
def test_payment_factory_alone_pays_a_new_order_once(session: Session) -> None:
    payment = PaymentFactory()
    assert payment.order.status == "paid"
    assert payment.amount == payment.order.total > 0
    assert count(session, "payments") == 1


@pytest.mark.mongo
def test_order_item_factory_alone_builds_its_order_and_a_product_of_that_shop(session: Session) -> None:
    item = OrderItemFactory(quantity=2)
    assert item.line_total == item.unit_price * 2 == item.product.price * 2
    assert item.product.organization is item.order.user.organization


def test_order_item_ids_come_from_the_integer_generator(engine: sa.Engine) -> None:
    with Session(engine) as s, bind(session=s), deterministic(seed=5, partition=3):
        order = OrderFactory(items=3)
        ids = sorted(item.id for item in order.items)
    assert ids == [3_000_000_001, 3_000_000_002, 3_000_000_003]


@pytest.mark.mongo
def test_customer_orders_count_or_range(session: Session) -> None:
    assert len(CustomerFactory(orders=2).orders) == 2
    counts = [len(c.orders) for c in CustomerFactory.create_batch(40, orders="0-5")]
    assert set(counts) <= set(range(6)) and len(set(counts)) > 2
    assert all(order.status == "paid" for c in session.scalars(sa.select(User)) for order in c.orders)
    assert len(CustomerFactory(orders=1, orders__items=4).orders[0].items) == 4


def test_customer_orders_are_deterministic(engine: sa.Engine) -> None:
    def run() -> list[tuple[str, int, Decimal]]:
        with Session(engine) as s, bind(session=s), deterministic(seed=9):
            customers = CustomerFactory.create_batch(10, orders="0-5")
            result = [
                (c.email, len(c.orders), sum((o.total for o in c.orders), Decimal(0))) for c in customers
            ]
            s.rollback()
        return result

    assert run() == run()


@pytest.mark.mongo
def test_bad_orders_value_is_a_clear_error(session: Session) -> None:
    with pytest.raises(
        FactoryError, match=r"CustomerFactory\.orders: expected a number or a range like '0-5'"
    ):
        CustomerFactory(orders="few")


@pytest.mark.mongo
def test_volumes_spread_over_existing_organizations(session: Session) -> None:
    orgs = OrganizationFactory.create_batch(5)
    ProductFactory.create_batch(40)
    CustomerFactory.create_batch(30, orders="0-3")
    assert count(session, "organizations") == 5
    org_ids = {o.id for o in orgs}
    assert set(session.scalars(sa.select(Product.organization_id).distinct())) <= org_ids
    assert len(set(session.scalars(sa.select(User.organization_id).distinct()))) > 1
    mismatched = session.execute(
        sa.text(
            "SELECT count(*) FROM order_items i JOIN orders o ON o.id = i.order_id "
            "JOIN users u ON u.id = o.user_id JOIN products p ON p.id = i.product_id "
            "WHERE p.organization_id <> u.organization_id"
        )
    ).scalar_one()
    assert mismatched == 0
    totals_off = session.execute(
        sa.text(
            "SELECT count(*) FROM orders o WHERE o.subtotal <> "
            "(SELECT coalesce(sum(line_total), 0) FROM order_items WHERE order_id = o.id) "
            "OR o.total <> o.subtotal "
            "OR o.total <> (SELECT coalesce(sum(amount), 0) FROM payments WHERE order_id = o.id)"
        )
    ).scalar_one()
    assert totals_off == 0


@pytest.mark.mongo
def test_audit_event_points_at_postgres_rows(session: Session, mongo_db: Any) -> None:
    order = OrderFactory(paid=True, items=2)
    event = AuditEventFactory(order=order)
    stored = mongo_db.audit_events.find_one({"_id": event["_id"]})
    assert stored["actor_user_id"] == str(order.user.id)
    assert stored["subject"] == {"type": "order", "id": str(order.id)}
    assert stored["action"] == "order.paid"
    assert stored["data"]["total"] == Decimal128(order.total)


@pytest.mark.mongo
def test_audit_event_without_rows_creates_its_actor_in_postgres(session: Session, mongo_db: Any) -> None:
    event = AuditEventFactory()
    user = session.get(User, uuid.UUID(event["actor_user_id"]))
    assert user is not None
    assert event["subject"] == {"type": "user", "id": str(user.id)}
    explicit = AuditEventFactory(actor=user)
    assert explicit["actor_user_id"] == str(user.id) and count(session, "users") == 1


@pytest.mark.mongo
def test_notifications_for_an_order_and_for_a_user(session: Session, mongo_db: Any) -> None:
    order = OrderFactory(paid=True)
    about_order = NotificationFactory(order=order)
    assert about_order["user_id"] == str(order.user.id) and about_order["order_id"] == str(order.id)
    assert about_order["amount"] == Decimal128(order.total)
    customer = CustomerFactory()
    plain = NotificationFactory(user=customer)
    assert plain["order_id"] is None and plain["amount"] is None and plain["user_id"] == str(customer.id)
    NotificationFactory.create_batch(3, user=customer)
    assert mongo_db.notifications.count_documents({"user_id": str(customer.id)}) == 4
