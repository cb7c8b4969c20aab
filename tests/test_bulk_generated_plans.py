"""The compiled plans' generated code and direct Faker calls keep the per-object path's values.

The ordinary graphs and every compiled declaration kind are compared with the per-object path in
``tests/test_bulk_compiled.py``; here: what the generated code and the cached Faker call must still
see (a provider replaced mid-volume, a reinstall, ``SKIP`` values, ORM objects among plain values).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import factory
import factory.fuzzy
import factory.utils
import pytest
from factory.declarations import SKIP
from faker.providers import BaseProvider
from seedkit_reference.models import Order, OrderItem, Organization, Payment, User
from test_bulk_compiled import compiled, plans  # (puts the repository's benchmarks package on the path)
from test_bulk_row_path import bulk, per_object

from benchmarks import ordinary
from seedkit import SQLAlchemyFactory
from seedkit.bulk.compiled import CompiledPlan
from seedkit.bulk.row_builder import _FACTORY_ROWS, build_root, no_session
from seedkit.core import faker_paths
from seedkit.core.determinism import deterministic
from seedkit.factories.builder import lean_builds

START = datetime(2025, 1, 1, tzinfo=UTC)
LOCALE = "it_IT"  # a locale of these tests' own: its Faker proxy is only theirs


def _uuid() -> uuid.UUID:
    return uuid.UUID(int=factory.random.randgen.getrandbits(128), version=4)


class ItalianOrganizationFactory(SQLAlchemyFactory):
    class Meta:
        model = Organization

    id = factory.LazyFunction(_uuid)
    name = factory.Faker("company", locale=LOCALE)
    slug = factory.Sequence(lambda n: f"it-{n}")
    created_at = START


class _Replaced(BaseProvider):
    def company(self) -> str:
        return f"replaced {self.generator.random.randrange(1000)}"


def test_a_provider_replaced_between_rows_is_the_one_called() -> None:
    proxy = factory.Faker._get_faker(LOCALE)
    (generator,) = proxy._factories
    before = generator.__dict__["company"]
    records: list[Any] = []
    try:
        with deterministic(seed=3), no_session(), lean_builds():
            build_root(ItalianOrganizationFactory, {}, records)
            generator.add_provider(_Replaced)  # Faker binds the new provider's method on the generator
            build_root(ItalianOrganizationFactory, {}, records)
            expected = _Replaced(generator).company.__func__  # type: ignore[attr-defined]
            assert generator.__dict__["company"].__func__ is expected
    finally:
        generator.providers.remove(next(p for p in generator.providers if isinstance(p, _Replaced)))
        generator.company = before
    first, second = records
    assert not first.name.startswith("replaced ")
    assert second.name.startswith("replaced ")
    assert compiled(ItalianOrganizationFactory)


def test_the_faker_call_found_once_draws_what_format_draws() -> None:
    proxy = factory.Faker._get_faker(LOCALE)
    with deterministic(seed=8):
        found = faker_paths.format_call(proxy, "date_time_between")
        assert found is not None
        call, _ = found
        factory.random.reseed_random(11)
        direct = [call(start_date=START, end_date=START + timedelta(days=3), tzinfo=UTC) for _ in range(50)]
        factory.random.reseed_random(11)
        formatted = [
            proxy.format(
                "date_time_between", start_date=START, end_date=START + timedelta(days=3), tzinfo=UTC
            )
            for _ in range(50)
        ]
    assert direct == formatted
    assert len(set(direct)) > 40
    assert faker_paths.format_call(proxy, "date_time_between") is None  # not installed outside the context


def test_a_reinstall_finds_the_faker_call_again() -> None:
    records: list[Any] = []
    with no_session(), lean_builds():
        with deterministic(seed=4):
            build_root(ItalianOrganizationFactory, {}, records)
        epoch = faker_paths.epoch
        with deterministic(seed=4):
            assert faker_paths.epoch > epoch  # uninstalled, then installed again
            build_root(ItalianOrganizationFactory, {}, records)
    first, second = records
    assert (first.name, first.id) == (second.name, second.id)


# -- SKIP among compiled values, ORM objects among plain ones ------------------------------------
class SkippingUserFactory(SQLAlchemyFactory):
    class Meta:
        model = User

    id = factory.LazyFunction(_uuid)
    organization = factory.SubFactory(ItalianOrganizationFactory)
    full_name = factory.Faker("name")
    email = factory.Sequence(lambda n: f"skip{n}@example.com")
    role = factory.fuzzy.FuzzyChoice(["admin", "member"])
    created_at = factory.Sequence(lambda n: START + timedelta(hours=n))
    order = factory.RelatedFactory(f"{__name__}.SkippingOrderFactory", "user")


class SkippingOrderFactory(SQLAlchemyFactory):
    class Meta:
        model = Order

    id = factory.LazyFunction(_uuid)
    user = factory.SubFactory(SkippingUserFactory)
    status = factory.fuzzy.FuzzyChoice(["pending", "paid"])
    currency = "EUR"
    subtotal = factory.fuzzy.FuzzyDecimal(5, 50)
    total = factory.LazyAttribute(lambda o: o.subtotal)
    created_at = factory.LazyAttribute(lambda o: o.user.created_at)
    updated_at = factory.LazyAttribute(lambda o: o.created_at)
    payment = factory.RelatedFactory(f"{__name__}.SkippingPaymentFactory", "order")


class SkippingPaymentFactory(SQLAlchemyFactory):
    class Meta:
        model = Payment

    id = factory.LazyFunction(_uuid)
    order = factory.SubFactory(SkippingOrderFactory)
    amount = factory.LazyAttribute(lambda o: o.order.total)
    status = "captured"
    provider = factory.LazyAttribute(lambda o: o.order.user.organization.slug)  # an ORM object's column
    # SKIP: not passed to the model, as factory_boy's prepare_arguments drops it (paid_at stays NULL)
    paid_at = factory.LazyAttribute(lambda o: SKIP if o.order.status == "pending" else o.order.created_at)


def _seed_skipping(create: Callable[..., Any]) -> None:
    orgs = _pool(create, ItalianOrganizationFactory, 3)
    create(SkippingUserFactory, 14, organization=factory.Iterator(orgs))


def _pool(create: Callable[..., Any], factory_class: type[Any], count: int, **fields: Any) -> list[Any]:
    seeder = getattr(create, "__self__", None)
    if seeder is None:
        return list(create(factory_class, count, **fields))
    with seeder.bound():
        return list(factory_class.create_batch(count, **fields))


def test_skipped_values_and_orm_objects_write_the_per_object_rows(db_url: str, second_db: str) -> None:
    expected = per_object(db_url, _seed_skipping)
    _FACTORY_ROWS.clear()
    got, seeder = bulk(second_db, _seed_skipping, chunk_size=4)

    for factory_class in (SkippingUserFactory, SkippingOrderFactory, SkippingPaymentFactory):
        assert all(isinstance(plan, CompiledPlan) for plan in plans(factory_class)), plans(factory_class)
        assert compiled(factory_class)
    assert {d.path for d in seeder.paths.values()} == {"row"}
    assert expected.parts["pg:payments"].count == 14
    assert got.parts == expected.parts
    assert got.digest == expected.digest


# -- fuzzy declarations and Iterators as expressions of the generated code -------------------------
class _Upper(factory.fuzzy.FuzzyChoice):
    """A subclass with a fuzz of its own: the generated code calls it."""

    def fuzz(self) -> Any:
        return str(super().fuzz()).upper()


NAMES = factory.fuzzy.FuzzyChoice(tuple(f"drawn {i}" for i in range(9)))  # unrolled at its first draw
STATUSES = factory.Iterator(["pending", "paid", "shipped"])


class DrawnOrganizationFactory(SQLAlchemyFactory):
    class Meta:
        model = Organization

    id = factory.LazyFunction(_uuid)
    name = NAMES
    slug = factory.Sequence(lambda n: f"drawn-{n}")
    created_at = factory.fuzzy.FuzzyDateTime(START, START + timedelta(days=3))  # not an expression


class DrawnUserFactory(SQLAlchemyFactory):
    class Meta:
        model = User

    id = factory.LazyFunction(_uuid)
    organization = factory.SubFactory(DrawnOrganizationFactory)
    full_name = factory.fuzzy.FuzzyChoice(["ada", "bo", "cy"], getter=str.title)  # a getter: its fuzz
    email = factory.Sequence(lambda n: f"drawn{n}@example.com")
    role = factory.Iterator(["admin", "member", "customer"], getter=str.lower)
    created_at = factory.LazyAttribute(lambda o: o.organization.created_at + timedelta(hours=1))
    order = factory.RelatedFactory(f"{__name__}.DrawnOrderFactory", "user")


class DrawnOrderFactory(SQLAlchemyFactory):
    class Meta:
        model = Order

    id = factory.LazyFunction(_uuid)
    user = factory.SubFactory(DrawnUserFactory)
    status = STATUSES
    currency = _Upper(["eur", "usd", "chf"])
    subtotal = factory.fuzzy.FuzzyDecimal(5, 500)
    total = factory.fuzzy.FuzzyDecimal(900, precision=0)  # low 0.0, high 900
    created_at = factory.LazyAttribute(lambda o: o.user.created_at)
    updated_at = factory.LazyAttribute(lambda o: o.created_at)
    items = factory.RelatedFactoryList(f"{__name__}.DrawnItemFactory", "order", size=2)


class DrawnItemFactory(SQLAlchemyFactory):
    class Meta:
        model = OrderItem

    id = factory.Sequence(lambda n: n + 1)
    order = factory.SubFactory(DrawnOrderFactory)
    product = None  # passed at the call site: an Iterator of products
    quantity = factory.fuzzy.FuzzyInteger(1, 9, step=2)
    unit_price = factory.fuzzy.FuzzyDecimal(1, 20, precision=1)
    line_total = factory.LazyAttribute(lambda o: o.unit_price * o.quantity)


def _restart_drawn() -> None:
    """factory_boy's lazy state back to its start, so both paths draw the same from the first row."""
    NAMES.choices = None
    STATUSES.reset()


def _seed_drawn(create: Callable[..., Any]) -> None:
    _restart_drawn()
    orgs = _pool(create, DrawnOrganizationFactory, 3)
    catalog = _pool(create, ordinary.ProductFactory, 5, organization=factory.Iterator(orgs))
    products = factory.Iterator(catalog, getter=lambda product: product)
    create(DrawnUserFactory, 7, organization=factory.Iterator(orgs), order__items__product=products)
    products.reset()  # the next volume's items take the catalog again from its first product
    STATUSES.reset()
    create(DrawnUserFactory, 6, organization=factory.Iterator(orgs), order__items__product=products)


def test_fuzzy_values_and_iterators_drawn_by_expressions_write_the_per_object_rows(
    db_url: str, second_db: str
) -> None:
    expected = per_object(db_url, _seed_drawn)
    _FACTORY_ROWS.clear()
    got, seeder = bulk(second_db, _seed_drawn, chunk_size=4)

    for factory_class in (DrawnUserFactory, DrawnOrderFactory, DrawnItemFactory):
        assert compiled(factory_class), plans(factory_class)
    assert {seeder.paths[d].path for d in seeder.paths} == {"row"}
    assert expected.parts["pg:order_items"].count == 26
    assert got.parts == expected.parts
    assert got.digest == expected.digest


def test_fuzzy_values_and_iterators_are_drawn_without_a_call_per_value(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # FuzzyChoice/FuzzyInteger/FuzzyDecimal of factory_boy's own classes and Iterators are
    # expressions of the generated code: fuzz() runs only for the first draw of a FuzzyChoice (it
    # unrolls the choices), a subclass's own fuzz and a getter's; no ResetableIterator generator.
    calls: dict[str, int] = {}

    def counted(cls: type, method: str, label: str) -> None:
        real = getattr(cls, method)

        def call(self: Any, *args: Any) -> Any:
            key = label if self is not NAMES else "NAMES"
            calls[key] = calls.get(key, 0) + 1
            return real(self, *args)

        monkeypatch.setattr(cls, method, call)

    counted(factory.fuzzy.FuzzyChoice, "fuzz", "choice")
    counted(_Upper, "fuzz", "own")
    counted(factory.fuzzy.FuzzyInteger, "fuzz", "integer")
    counted(factory.fuzzy.FuzzyDecimal, "fuzz", "decimal")
    counted(factory.utils.ResetableIterator, "__iter__", "iterator")
    _restart_drawn()
    _FACTORY_ROWS.clear()
    records: list[Any] = []
    with deterministic(seed=3), no_session(), lean_builds():
        product = build_root(ordinary.ProductFactory, {}, records)
        calls.clear()
        for _ in range(5):
            build_root(DrawnUserFactory, {"order__items__product": factory.Iterator([product])}, records)
    users = [r for r in records if type(r).__name__ == "UserRow"]
    assert len(users) == 5
    assert {u.full_name for u in users} <= {"Ada", "Bo", "Cy"}
    assert calls == {
        "NAMES": 1,  # its first draw unrolls the choices
        "choice": 5 + 5,  # full_name has a getter: fuzz, which _Upper's super().fuzz() calls too
        "own": 5,
    }
