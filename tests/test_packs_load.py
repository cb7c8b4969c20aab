"""Loading the reference packs into real PostgreSQL (reference schema) and Mongo."""

from __future__ import annotations

import shutil
import uuid
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
import yaml
from conftest import create_database, drop_database
from sqlalchemy.orm import Session
from test_packs_support import DOMAIN_FACTORIES, REFERENCE_PACKS, state, write_pack

from seedkit.core.clock import parse_instant
from seedkit.core.determinism import deterministic
from seedkit.core.ids import label_int, label_object_id, label_uuid
from seedkit.errors import PackError
from seedkit.factories.binding import bind
from seedkit.packs import apply_packs, resolve_packs

START = parse_instant("2025-01-01T00:00:00Z")


def load(
    engine: sa.Engine, mongo: Any, names: list[str], roots: list[Path] | None = None, seed: int = 42
) -> dict[str, int]:
    packs = resolve_packs(names, roots or [REFERENCE_PACKS])
    with deterministic(seed, start=START) as context, engine.connect() as conn:
        return apply_packs(
            packs, connection=conn, mongo=mongo, context=context, factory_modules=DOMAIN_FACTORIES
        )


@pytest.fixture
def second_engine(pg_server_url: str, reference_template: str) -> Iterator[sa.Engine]:
    """Another fresh database at the reference schema."""
    name = f"test_{uuid.uuid4().hex[:12]}"
    eng = sa.create_engine(create_database(pg_server_url, name, template=reference_template))
    yield eng
    eng.dispose()
    drop_database(pg_server_url, name)


@pytest.mark.mongo
def test_golden_gives_the_expected_rows_and_references(engine: sa.Engine, mongo_db: Any) -> None:
    counts = load(engine, mongo_db, ["golden"])
    assert counts == {
        "pg:organizations": 1, "pg:products": 6, "pg:users": 2, "pg:orders": 1, "pg:order_items": 2,
        "pg:payments": 1, "mongo:audit_events": 2, "mongo:notifications": 1,
    }  # fmt: skip
    acme = label_uuid("organizations", "acme")
    customer = label_uuid("users", "customer")
    order_id = label_uuid("orders", "paid_order")
    with engine.connect() as conn:
        users = {row.role: row for row in conn.execute(sa.text("SELECT * FROM users"))}
        order = conn.execute(sa.text("SELECT * FROM orders")).one()
        items = conn.execute(
            sa.text("SELECT i.*, p.price, p.sku FROM order_items i JOIN products p ON p.id = i.product_id")
        ).all()
        payment = conn.execute(sa.text("SELECT * FROM payments")).one()
        org = conn.execute(sa.text("SELECT * FROM organizations")).one()
    assert org.id == acme and org.slug == "acme" and org.created_at == parse_instant("2024-10-03T00:00:00Z")
    assert set(users) == {"admin", "customer"}
    assert all(user.organization_id == acme for user in users.values())
    assert users["customer"].id == customer and users["customer"].email == "carol@example.com"
    assert order.id == order_id and order.user_id == customer and order.status == "paid"
    assert order.created_at == parse_instant("2024-12-29T00:00:00Z")  # -3d from the clock's start
    assert {item.id for item in items} == {
        label_int("order_items", "paid_order_keyboard"),
        label_int("order_items", "paid_order_mice"),
    }
    assert all(item.order_id == order_id and item.unit_price == item.price for item in items)
    assert all(item.line_total == item.unit_price * item.quantity for item in items)
    assert (
        sum(item.line_total for item in items)
        == order.subtotal
        == order.total
        == payment.amount
        == Decimal("88.80")
    )
    assert payment.order_id == order_id and payment.status == "captured"

    events = {e["action"]: e for e in mongo_db.audit_events.find()}
    assert set(events) == {"order.placed", "order.paid"}
    for event in events.values():
        assert event["actor_user_id"] == str(customer)
        assert event["subject"] == {"type": "order", "id": str(order_id)}
        assert event["occurred_at"].replace(tzinfo=None) == parse_instant("2024-12-29T00:00:00Z").replace(
            tzinfo=None
        )
    assert events["order.paid"]["_id"] == label_object_id("audit_events", "order_paid")
    assert events["order.paid"]["data"]["payment_id"] == str(payment.id)
    (notification,) = mongo_db.notifications.find()
    assert (notification["user_id"], notification["order_id"]) == (str(customer), str(order_id))


@pytest.mark.mongo
def test_same_pack_gives_the_same_data_on_two_fresh_databases(
    engine: sa.Engine, second_engine: sa.Engine, mongo_db: Any
) -> None:
    from seedkit.stores.mongo import connect

    other_mongo = connect(None, "second")
    load(engine, mongo_db, ["golden"], seed=1)
    load(second_engine, other_mongo, ["golden"], seed=2)  # no factory in golden: the seed does not matter
    first, second = state(engine, mongo_db), state(second_engine, other_mongo)
    assert first == second and first[1]["pg:users"] == 2


@pytest.mark.mongo
def test_file_order_does_not_matter(
    tmp_path: Path, engine: sa.Engine, second_engine: sa.Engine, mongo_db: Any
) -> None:
    from seedkit.stores.mongo import connect

    for name in ("catalog", "golden"):
        shutil.copytree(REFERENCE_PACKS / name, tmp_path / name)
        manifest_path = tmp_path / name / "pack.yaml"
        manifest = yaml.safe_load(manifest_path.read_text())
        manifest["files"] = dict(reversed(list(manifest["files"].items())))  # children listed first
        manifest_path.write_text(yaml.safe_dump(manifest, sort_keys=False))
    reversed_packs = resolve_packs(["golden"], [tmp_path])
    assert [f.table for f in reversed_packs[1].files][:2] == ["notifications", "audit_events"]
    other_mongo = connect(None, "reversed")
    load(engine, mongo_db, ["golden"])
    load(second_engine, other_mongo, ["golden"], roots=[tmp_path])
    assert state(engine, mongo_db) == state(second_engine, other_mongo)


@pytest.mark.mongo
def test_factory_records_fill_the_rest_deterministically(
    engine: sa.Engine, second_engine: sa.Engine, mongo_db: Any
) -> None:
    from seedkit.stores.mongo import connect

    counts = load(engine, mongo_db, ["customers"], seed=7)
    assert counts["pg:users"] == 3 and counts["pg:orders"] == 1 and counts["mongo:notifications"] == 1
    dave = label_uuid("users", "dave")
    with engine.connect() as conn:
        users = {row.email: row for row in conn.execute(sa.text("SELECT * FROM users"))}
        order = conn.execute(sa.text("SELECT * FROM orders")).one()
    assert users["dave@example.com"].id == dave and users["dave@example.com"].role == "customer"
    assert users["dave@example.com"].full_name  # filled by CustomerFactory
    assert users["dave@example.com"].created_at == START  # the injected clock, not the wall clock
    assert users["erin@example.com"].full_name == "Erin Early"  # given fields win
    assert users["frank@acme.example"].role == "admin"  # the trait
    assert all(u.organization_id == label_uuid("organizations", "acme") for u in users.values())
    assert order.user_id == dave and order.status == "pending" and order.total == Decimal("0.00")
    (note,) = mongo_db.notifications.find()
    assert note["user_id"] == str(dave) and note["message"] == "Welcome to ACME, Dave!"
    other_mongo = connect(None, "again")
    load(second_engine, other_mongo, ["customers"], seed=7)
    assert state(engine, mongo_db) == state(second_engine, other_mongo)


@pytest.mark.mongo
def test_factories_do_not_touch_a_bound_session(engine: sa.Engine, mongo_db: Any) -> None:
    """The profile runner binds a session on the same connection: the load must not use it."""
    packs = resolve_packs(["customers"], [REFERENCE_PACKS])
    with (
        deterministic(3) as context,
        engine.connect() as conn,
        conn.begin(),
        Session(bind=conn) as session,
        bind(session=session, mongo=mongo_db),
    ):
        apply_packs(packs, connection=conn, mongo=mongo_db, context=context, factory_modules=DOMAIN_FACTORIES)
        assert not session.new and not session.identity_map
    assert state(engine)[1]["pg:users"] == 3


@pytest.mark.mongo
def test_load_commits_its_own_transaction(engine: sa.Engine, mongo_db: Any) -> None:
    load(engine, mongo_db, ["catalog"])
    with engine.connect() as other:
        assert other.execute(sa.text("SELECT count(*) FROM products")).scalar() == 6


@pytest.mark.mongo
def test_inside_a_caller_transaction_a_failure_keeps_the_callers_work(
    tmp_path: Path, engine: sa.Engine, mongo_db: Any
) -> None:
    write_pack(tmp_path, "clash", {"organizations.yaml": "again:\n  name: Again\n  slug: acme\n"})
    catalog = resolve_packs(["catalog"], [REFERENCE_PACKS])
    clash = resolve_packs(["clash"], [tmp_path])
    with deterministic(0) as context, engine.connect() as conn, conn.begin():
        conn.execute(
            sa.text("INSERT INTO organizations VALUES (:id, 'Mine', 'mine', now())"), {"id": uuid.uuid4()}
        )
        counts = apply_packs(catalog, connection=conn, mongo=None, context=context)
        assert counts["pg:products"] == 6
        with pytest.raises(
            PackError, match=r"unique value slug=\(acme\) already exists in the database"
        ) as error:
            apply_packs(clash, connection=conn, mongo=None, context=context)
        assert (error.value.record, error.value.field) == ("again", "slug")
        # The caller's transaction is still usable and holds its own row and the first load.
        assert conn.execute(sa.text("SELECT count(*) FROM organizations")).scalar() == 2
    assert state(engine)[1]["pg:organizations"] == 2 and state(engine)[1]["pg:products"] == 6
