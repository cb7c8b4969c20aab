"""Shared by the isolation and snapshot tests: deterministic seed data and "app code" that commits."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from pymongo.database import Database
from seedkit_reference.document_factories import AuditEventFactory, NotificationFactory
from seedkit_reference.documents import ensure_indexes
from seedkit_reference.model_factories import CustomerFactory, OrganizationFactory, ProductFactory
from seedkit_reference.models import Organization
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.orm import Session

from seedkit.core.clock import parse_instant
from seedkit.core.determinism import deterministic
from seedkit.core.ids import label_uuid
from seedkit.factories.binding import bind
from seedkit.stores.fingerprint import Fingerprint, fingerprint

SEED = 11
APP_TIME = parse_instant("2025-06-01T00:00:00Z")


def seed_domain(engine: Engine, mongo: Database[Any] | None = None, *, indexes: bool = True) -> None:
    """The seeded state every test expects: 2 shops, products, customers with paid orders, documents.

    Deterministic (same seed, same clock), so calling it again after a truncate gives the same data.
    """
    if mongo is not None and indexes:
        ensure_indexes(mongo)
    with Session(engine) as session, deterministic(seed=SEED), bind(session=session, mongo=mongo):
        OrganizationFactory.create_batch(2)
        ProductFactory.create_batch(6)
        customers = CustomerFactory.create_batch(3, orders=2)
        if mongo is not None:
            for customer in customers:
                for order in customer.orders:
                    AuditEventFactory(order=order)
                NotificationFactory(order=customer.orders[0])
        session.commit()


def stores_fingerprint(engine: Engine | Connection, mongo: Database[Any] | None = None) -> Fingerprint:
    if isinstance(engine, Connection):
        return fingerprint(engine, mongo)
    with engine.connect() as conn:
        return fingerprint(conn, mongo)


def app_creates_organization(session: Session, slug: str, id_label: str | None = None) -> None:
    """Code under test: writes and commits through the session it is given."""
    uuid = label_uuid("test-organization", id_label or slug)
    session.add(Organization(id=uuid, name=slug.title(), slug=slug, created_at=APP_TIME))
    session.commit()


def count_slug(bind: Engine | Connection | Session, slug: str) -> int:
    statement = sa.text("SELECT count(*) FROM organizations WHERE slug = :s")
    if isinstance(bind, Engine):
        with bind.connect() as conn:
            return int(conn.execute(statement, {"s": slug}).scalar_one())
    return int(bind.execute(statement, {"s": slug}).scalar_one())
