"""Compiled plans of factories with traits, Maybe, declarations of their own, post-generation hooks
and ``_adjust_kwargs`` write what the per-object path writes (real PostgreSQL)."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import factory
import factory.fuzzy
import pytest
import sqlalchemy as sa
from factory.declarations import BaseDeclaration, PostGenerationDeclaration
from seedkit_reference import model_factories as reference
from seedkit_reference.models import Order, OrderItem, Organization, Payment, User
from test_bulk_compiled import compiled, plans
from test_bulk_row_path import bulk, per_object

from benchmarks.seed_worker import _reference_volumes  # test_bulk_compiled puts benchmarks on the path
from seedkit import SQLAlchemyFactory
from seedkit.bulk import compiled as compiled_module
from seedkit.bulk.compiled import CompiledPlan
from seedkit.bulk.compiled_hooks import AdjustedPlan
from seedkit.bulk.row_builder import _FACTORY_ROWS
from seedkit.core.declarations import IntegerFor, Now, UUIDFor

START = datetime(2025, 1, 1, tzinfo=UTC)


def _uuid() -> uuid.UUID:
    return uuid.UUID(int=factory.random.randgen.getrandbits(128), version=4)


class HookOrganizationFactory(SQLAlchemyFactory):
    class Meta:
        model = Organization

    id = UUIDFor("organizations")
    name = factory.Faker("company")
    slug = factory.Sequence(lambda n: f"h-org-{n}")
    created_at = factory.Faker("date_time_between", start_date=START, end_date=START + timedelta(days=30))


class _OwnOrganization(BaseDeclaration):
    """A declaration of one's own: every ``every``-th user (a default, or passed as
    ``organization__every``) gets a new organization named after the row's sequence and the
    attributes resolved so far; the others share the previous one."""

    last: Any = None

    def evaluate(self, instance: Any, step: Any, extra: Any) -> Any:
        if step.sequence % extra["every"] == 0 or _OwnOrganization.last is None:
            seen = ",".join(step.attributes)  # the declarations resolved before this one
            _OwnOrganization.last = step.recurse(
                HookOrganizationFactory, {"name": f"{instance.full_name} & co ({seen}) #{step.sequence}"}
            )
        return _OwnOrganization.last


class HookUserFactory(SQLAlchemyFactory):
    class Meta:
        model = User

    class Params:
        nickname = factory.LazyAttribute(lambda o: o.full_name.split()[0].lower())
        vip = factory.Trait(
            role="customer",
            email=factory.LazyAttributeSequence(lambda o, n: f"VIP.{o.nickname}.{n}@vip.test"),
        )
        staff = factory.Trait(role="admin")

    id = factory.LazyFunction(_uuid)
    full_name = factory.Faker("name")
    organization = _OwnOrganization(every=3)
    email = factory.LazyAttributeSequence(lambda o, n: f"{o.nickname}.{n}@Example.ORG")
    role = factory.Maybe(
        factory.LazyFunction(lambda: factory.random.randgen.random() < 0.5),
        yes_declaration="member",
        no_declaration=factory.fuzzy.FuzzyChoice(["member", "customer"]),
    )
    created_at = factory.SelfAttribute("organization.created_at")

    @factory.post_generation
    def orders(obj: Any, create: bool, extracted: int | None, **kwargs: Any) -> list[Any]:
        count = 1 if extracted is None else extracted
        return [HookOrderFactory.create(user=obj, **kwargs) for _ in range(count)]

    @factory.post_generation
    def signature(obj: Any, create: bool, extracted: Any, **kwargs: Any) -> None:
        # declared after orders: sees the orders it created (a hook setting a column)
        obj.full_name = f"{obj.full_name} ({len(obj.orders)} orders, {sum(o.total for o in obj.orders)})"

    @classmethod
    def _adjust_kwargs(cls, **kwargs: Any) -> dict[str, Any]:
        kwargs["email"] = kwargs["email"].lower()
        return kwargs


class _Lines(PostGenerationDeclaration):
    """A post-generation declaration of one's own: ``items=n`` lines (2 unless given), with the
    extra keyword arguments passed on, each priced from the order's subtotal."""

    def call(self, instance: Any, step: Any, context: Any) -> list[Any]:
        count = context.value if context.value_provided else 2
        subtotal = step.attributes["subtotal"]
        return [
            step.recurse(
                HookItemFactory,
                {
                    "order": instance,
                    "unit_price": (subtotal / (index + 1)).quantize(Decimal("0.01")),
                    **context.extra,
                },
            )
            for index in range(count)
        ]


class HookOrderFactory(SQLAlchemyFactory):
    class Meta:
        model = Order

    class Params:
        rush = False
        paid = factory.Trait(
            status="paid",
            payment=factory.RelatedFactory(f"{__name__}.HookPaymentFactory", "order"),
        )

    id = factory.LazyFunction(_uuid)
    user = factory.SubFactory(HookUserFactory)
    status = factory.Maybe("rush", yes_declaration="shipped", no_declaration="pending")
    currency = factory.Maybe(
        factory.SelfAttribute("user.organization.name"),  # always true: a decider reading a parent
        yes_declaration=factory.Faker("currency_code"),
        no_declaration="EUR",
    )
    subtotal = factory.fuzzy.FuzzyDecimal(5, 500)
    total = factory.LazyAttribute(lambda o: o.subtotal + (Decimal(10) if o.rush else Decimal(0)))
    created_at = Now()
    updated_at = factory.SelfAttribute("created_at")
    items = _Lines()


class HookItemFactory(SQLAlchemyFactory):
    class Meta:
        model = OrderItem

    id = IntegerFor("order_items")
    order = factory.SubFactory(HookOrderFactory)
    product = factory.SubFactory(
        "seedkit_reference.model_factories.ProductFactory",
        organization=factory.SelfAttribute("..order.user.organization"),
    )
    quantity = factory.fuzzy.FuzzyInteger(1, 4)
    unit_price = factory.SelfAttribute("product.price")
    line_total = factory.LazyAttribute(lambda o: o.unit_price * o.quantity)


class HookPaymentFactory(SQLAlchemyFactory):
    class Meta:
        model = Payment

    id = factory.LazyFunction(_uuid)
    order = factory.SubFactory(HookOrderFactory)
    amount = factory.SelfAttribute("order.total")
    status = "captured"
    provider = factory.fuzzy.FuzzyChoice(["card", "paypal"])
    paid_at = Now()


_HOOKED = (HookUserFactory, HookOrderFactory, HookItemFactory, HookPaymentFactory, HookOrganizationFactory)


def _seed_hooks(create: Callable[..., Any]) -> None:
    _OwnOrganization.last = None  # each path starts without a shared organization
    try:
        create(HookUserFactory, 7)  # traits off; one order each, no payment
        create(HookUserFactory, 5, vip=True, orders=2, orders__paid=True)  # a trait on; hook value, kwargs
        create(HookUserFactory, 4, staff=True, orders__rush=True, orders__items=1, organization__every=2)
        create(HookOrderFactory, 4, paid=True, items=3, items__quantity=4)  # extracted value and extra
    finally:
        _OwnOrganization.last = None  # keeps no record (nor its collections) alive after the test


def _column(url: str, sql: str) -> list[Any]:
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            return list(conn.execute(sa.text(sql)).scalars())
    finally:
        engine.dispose()


def test_traits_maybe_own_declarations_hooks_and_adjusted_kwargs_are_compiled_with_the_per_object_rows(
    db_url: str, second_db: str
) -> None:
    expected = per_object(db_url, _seed_hooks)
    _FACTORY_ROWS.clear()
    got, seeder = bulk(second_db, _seed_hooks, chunk_size=3)

    for factory_class in _HOOKED:
        assert compiled(factory_class), (factory_class.__name__, plans(factory_class))
    assert all(type(plan) is AdjustedPlan for plan in plans(HookUserFactory))  # it has _adjust_kwargs
    assert {d.path for d in seeder.paths.values()} == {"row"}
    # every branch was taken: traits on and off, the random Maybe both ways, hooks' values and kwargs
    assert set(_column(second_db, "SELECT DISTINCT role FROM users")) == {"admin", "customer", "member"}
    assert set(_column(second_db, "SELECT DISTINCT status FROM orders")) == {"pending", "paid", "shipped"}
    assert _column(second_db, "SELECT count(*) FROM orders") == [7 + 5 * 2 + 4 + 4 * (1 + 1)]
    assert _column(second_db, "SELECT count(*) FROM payments") == [5 * 2 + 4]
    assert _column(second_db, "SELECT count(*) FROM order_items WHERE quantity = 4") != [0]
    assert _column(second_db, "SELECT count(*) FROM users WHERE email LIKE 'vip.%@vip.test'") == [5]
    assert got.parts == expected.parts
    assert got.digest == expected.digest


def test_the_comparison_sees_hooks_run_in_another_order(
    db_url: str, second_db: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Guards the test above: compiled plans calling their post-generation declarations last-first
    # write other rows (the signature hook counts orders not made yet).
    expected = per_object(db_url, _seed_hooks)
    made = CompiledPlan.__init__

    def reversed_post(self: CompiledPlan, steps: Any, visible: Any, post: Any, facts: Any) -> None:
        made(self, steps, visible, tuple(reversed(post)), facts)

    monkeypatch.setattr(CompiledPlan, "__init__", reversed_post)
    _FACTORY_ROWS.clear()
    try:
        got, _ = bulk(second_db, _seed_hooks, chunk_size=3)
    finally:
        _FACTORY_ROWS.clear()  # plans made with the mutation
    assert got.parts["pg:users"].count == expected.parts["pg:users"].count
    assert got.parts["pg:users"].digest != expected.parts["pg:users"].digest


def test_the_reference_factories_are_compiled_with_the_per_object_rows(db_url: str, second_db: str) -> None:
    def seed(create: Callable[..., Any]) -> None:
        for factory_class, count, fields in _reference_volumes(30):
            create(factory_class, count, **fields)
        create(reference.UserFactory, 3, admin=True)  # a trait on
        create(reference.OrderFactory, 3, items=3)  # not paid: no payment, planned lines

    expected = per_object(db_url, seed)
    _FACTORY_ROWS.clear()
    got, seeder = bulk(second_db, seed, chunk_size=7)

    for name in reference.__all__:
        assert compiled(getattr(reference, name)), (name, plans(getattr(reference, name)))
    assert {d.path for d in seeder.paths.values()} == {"row"}
    assert got.parts == expected.parts
    assert got.digest == expected.digest


def test_a_maybe_decider_that_no_row_can_define_is_decided_once(monkeypatch: pytest.MonkeyPatch) -> None:
    # A trait not passed gives its Maybe's default branch in every row: the plan holds the branch.
    calls: list[str] = []
    real = compiled_module._compile

    def spy(declaration: Any) -> Any:
        calls.append(type(declaration).__name__)
        return real(declaration)

    monkeypatch.setattr(compiled_module, "_compile", spy)
    from seedkit.bulk.compiled_hooks import compile_pre

    trait_off = factory.Maybe(
        factory.SelfAttribute(".vip", default=False), yes_declaration="x", no_declaration="y"
    )
    evaluate, _, _ = compile_pre(trait_off, (), frozenset({"role"}), compiled_module._compile_one)
    assert evaluate(None, None) == "y"
    assert "SelfAttribute" not in calls
    evaluate, _, _ = compile_pre(trait_off, (), frozenset({"role", "vip"}), compiled_module._compile_one)
    assert "SelfAttribute" in calls  # passed: decided per row
