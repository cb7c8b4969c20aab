"""Deterministic declarations: time from the injected clock, IDs from the generators,
randomness (factory_boy and Faker) from the seed, partitions that never collide."""

from __future__ import annotations

import gc
import types
import weakref
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import factory
import pytest
import sqlalchemy as sa
from seedkit_reference.model_factories import CustomerFactory, OrganizationFactory
from seedkit_reference.models import Organization
from sqlalchemy.orm import Session

from seedkit.core.declarations import IntegerFor, Money, Now, ObjectIdFor, Relative, UUIDFor, count_from
from seedkit.core.determinism import clock, deterministic
from seedkit.core.ids import DEFAULT_INT_STRIDE, IdGenerator
from seedkit.errors import ConfigError, FactoryError
from seedkit.factories.binding import bind

START = datetime(2025, 2, 3, 4, 5, 6, tzinfo=UTC)


class StampFactory(factory.DictFactory):
    at = Now()
    deadline = Relative("-3d")
    uuid = UUIDFor("stamps")
    oid = ObjectIdFor("stamps")
    number = IntegerFor("stamps")
    price = Money("0.50", "20")
    name = factory.Faker("name")


def test_timestamps_in_the_database_are_the_clocks_ticking_by_step(engine: sa.Engine) -> None:
    with Session(engine) as s, bind(session=s), deterministic(seed=1, start=START, step="90s"):
        OrganizationFactory.create_batch(3)
        s.commit()
        assert clock().peek() == START + timedelta(seconds=270)
        stored = list(s.scalars(sa.select(Organization.created_at).order_by(Organization.created_at)))
    assert stored == [START, START + timedelta(seconds=90), START + timedelta(seconds=180)]


def test_relative_is_the_clock_start_plus_offset_and_does_not_tick() -> None:
    with deterministic(start=START, step="1h"):
        stamps = StampFactory.build_batch(2)
    assert [s["deadline"] for s in stamps] == [START - timedelta(days=3)] * 2
    assert [s["at"] for s in stamps] == [START, START + timedelta(hours=1)]


def test_bad_offset_fails_when_the_factory_is_defined() -> None:
    with pytest.raises(ConfigError, match="not a duration"):
        Relative("three days ago")


def test_ids_come_from_the_active_generator() -> None:
    with deterministic(seed=4, partition=1):
        stamps = StampFactory.build_batch(3)
    expected = IdGenerator(seed=4, partition=1)
    # Declarations run in class order, so per stamp: one UUID, then one ObjectId.
    assert [(s["uuid"], s["oid"]) for s in stamps] == [
        (expected.uuid("stamps"), expected.object_id("stamps")) for _ in range(3)
    ]
    assert [s["number"] for s in stamps] == [DEFAULT_INT_STRIDE + n for n in (1, 2, 3)]


def test_declarations_read_the_context_active_when_called() -> None:
    with deterministic(seed=1):
        outer_first = StampFactory()
        with deterministic(seed=2, start="2030-01-01T00:00:00Z"):
            inner = StampFactory()
        outer_second = StampFactory()
    with deterministic(seed=1):
        replay = StampFactory.build_batch(2)
    assert inner["at"] == datetime(2030, 1, 1, tzinfo=UTC)
    assert inner["uuid"] != outer_first["uuid"]
    # The outer context continues as if the inner block had not run (clock, IDs, factory_boy
    # random and Faker's stream).
    for field in ("at", "deadline", "uuid", "oid", "number", "price", "name"):
        assert [outer_first[field], outer_second[field]] == [r[field] for r in replay], field


def test_same_seed_same_values_other_seed_other_values() -> None:
    def run(seed: int) -> list[dict[str, object]]:
        with deterministic(seed=seed):
            return StampFactory.build_batch(5)

    assert run(1) == run(1)
    other = run(2)
    for field in ("uuid", "oid", "price", "name"):
        assert [s[field] for s in run(1)] != [s[field] for s in other]


def test_faker_declarations_are_seeded_by_the_context() -> None:
    def names(seed: int) -> list[str]:
        with deterministic(seed=seed):
            return [o.name for o in OrganizationFactory.build_batch(5)] + [
                s["name"] for s in StampFactory.build_batch(5)
            ]

    first = names(10)
    assert first == names(10)
    assert first != names(11)
    assert len(set(first)) > 5


def test_money_is_two_place_decimal_in_range() -> None:
    with deterministic(seed=3):
        prices = [s["price"] for s in StampFactory.build_batch(200)]
    assert all(isinstance(p, Decimal) and p.as_tuple().exponent == -2 for p in prices)
    assert all(Decimal("0.50") <= p <= Decimal("20.00") for p in prices)
    assert len(set(prices)) > 100


def test_money_rejects_an_empty_range() -> None:
    with pytest.raises(FactoryError, match="lower bound"):
        Money(5, 1)


@pytest.mark.parametrize("spec", [-1, "x", "5-1", "1-", True, 2.5])
def test_count_from_refuses_what_is_not_a_count(spec: object) -> None:
    with pytest.raises(FactoryError, match=r"orders: expected"):
        count_from(spec, what="orders")  # type: ignore[arg-type]


def test_count_from_ranges_are_seeded_and_inclusive() -> None:
    def draws(seed: int) -> list[int]:
        with deterministic(seed=seed):
            return [count_from("0-5") for _ in range(300)]

    assert draws(1) == draws(1)
    assert set(draws(1)) == {0, 1, 2, 3, 4, 5}
    assert count_from(" 3 ") == 3 and count_from(7) == 7


def test_freeze_bridge_moves_datetime_now_with_the_clock() -> None:
    with deterministic(start=START, step="1s", freeze=True):
        stamp = StampFactory.build()
        assert stamp["at"] == START
        assert datetime.now(UTC) == START + timedelta(seconds=1)


def test_two_partitions_with_the_same_seed_never_collide(engine: sa.Engine) -> None:
    for partition in (0, 1):
        with Session(engine) as s, bind(session=s), deterministic(seed=7, partition=partition):
            CustomerFactory.create_batch(25, orders="1-3")
            s.commit()  # unique constraints on ids, emails, slugs, SKUs would refuse a collision
    with engine.connect() as conn:
        for table, column in [
            ("users", "id"),
            ("users", "email"),
            ("organizations", "slug"),
            ("products", "sku"),
            ("orders", "id"),
            ("order_items", "id"),
            ("payments", "id"),
        ]:
            total, distinct = conn.execute(
                sa.text(f"SELECT count(*), count(DISTINCT {column}) FROM {table}")
            ).one()
            assert total == distinct > 0, table
        assert conn.execute(sa.text("SELECT count(*) FROM users")).scalar_one() == 50
        low, high = conn.execute(
            sa.text(f"SELECT count(*) FILTER (WHERE id <= {DEFAULT_INT_STRIDE}), count(*) FROM order_items")
        ).one()
        assert 0 < low < high  # both partitions wrote items, each in its own key range


def test_an_activated_context_continues_where_it_left_off() -> None:
    from seedkit.core.determinism import Deterministic, activate

    context = Deterministic(seed=5)
    with activate(context):
        first = StampFactory()
    with deterministic(seed=9):
        StampFactory()  # another context in between must not disturb it
    with activate(context):
        second = StampFactory()
    with deterministic(seed=5):
        replay = StampFactory.build_batch(2)
    for field in ("at", "uuid", "oid", "number", "price", "name"):
        assert [first[field], second[field]] == [r[field] for r in replay], field


class PaletteFactory(factory.DictFactory):
    class Params:
        warm = factory.Trait(color=factory.Iterator(["red", "orange"]))

    color = factory.Iterator(["cyan", "magenta", "yellow"])
    shade = factory.Iterator(range(1, 100), cycle=False)
    nested = factory.SubFactory(factory.DictFactory, size=factory.Iterator(["S", "M", "L", "XL"]))


def _palette(count: int) -> list[tuple[str, int, str]]:
    return [(p["color"], p["shade"], p["nested"]["size"]) for p in PaletteFactory.build_batch(count)] + [
        (p["color"], p["shade"], p["nested"]["size"]) for p in PaletteFactory.build_batch(2, warm=True)
    ]


def test_iterators_start_again_with_every_context() -> None:
    _palette(1)  # read outside, in the default context
    with deterministic(seed=1):
        first = _palette(4)
    with deterministic(seed=1):
        second = _palette(4)
    assert first == second
    assert first[:3] == [("cyan", 1, "S"), ("magenta", 2, "M"), ("yellow", 3, "L")]
    assert first[-2:] == [("red", 5, "S"), ("orange", 6, "M")]


def test_an_iterator_continues_where_its_context_left_off() -> None:
    from seedkit.core.determinism import Deterministic, activate

    context = Deterministic(seed=5)
    with activate(context):
        first = _palette(2)
    with deterministic(seed=9):
        _palette(5)  # reads the same iterators further in between
    with activate(context):
        second = _palette(2)
    with deterministic(seed=5):
        PaletteFactory.build_batch(2)
        PaletteFactory.build_batch(2, warm=True)
        replay = _palette(2)
    assert second == replay
    assert first != second


def test_factory_classes_made_per_test_are_freed() -> None:
    """pytest-factoryboy makes a factory subclass per model fixture per test: no context keeps one alive."""
    made: list[weakref.ref[type]] = []
    for n in range(30):
        with deterministic(seed=n):
            subclass = type("Factory", (PaletteFactory,), {})
            subclass.build()
            made.append(weakref.ref(subclass))
        del subclass
    gc.collect()
    assert [ref() for ref in made if ref() is not None] == []


def test_a_factory_whose_definition_raised_does_not_break_later_contexts() -> None:
    gc.disable()  # the half-made class stays until collected: keep it for the test
    try:
        with pytest.raises(TypeError):

            class BrokenFactory(factory.Factory):
                class Meta:
                    model = dict
                    no_such_option = True

        with deterministic(seed=1):
            assert _palette(1)
    finally:
        gc.enable()


def test_factories_defined_between_contexts_are_reset_at_any_depth() -> None:
    class Leaf(factory.DictFactory):
        n = factory.Sequence(lambda n: n)

    with deterministic(seed=1):
        Leaf()  # a context has seen Leaf without subclasses

    class Namespaced(Leaf):  # another model: its own counter
        class Meta:
            model = types.SimpleNamespace

    class Colored(Leaf):  # shares Leaf's counter, adds an Iterator
        color = factory.Iterator(["red", "green"])

    for _ in range(3):
        Namespaced(), Colored()
    with deterministic(seed=1):
        assert (Namespaced().n, Colored()["color"], Colored()["color"]) == (0, "red", "green")


def test_a_frozen_block_makes_declarations_bound_to_the_wall_clock_read_the_clock() -> None:
    import datetime as dt

    import factory.fuzzy

    class Dated(factory.DictFactory):
        day = factory.fuzzy.FuzzyDate(dt.date(2024, 12, 1))  # end: date.today() when defined
        until = factory.fuzzy.FuzzyDate(dt.date(2024, 12, 1), dt.date(2024, 12, 3))  # an explicit end
        moment = factory.fuzzy.FuzzyDateTime(datetime(2024, 12, 1, tzinfo=UTC))  # end: now when defined
        stamp = factory.LazyFunction(dt.datetime.now)  # the real function itself
        today = factory.LazyFunction(dt.date.today)

    declarations = Dated._meta.declarations
    ends = (declarations["day"].end_date, declarations["moment"].end_dt)
    with deterministic(start="2025-01-01T12:00:00Z", step=0, freeze=True):
        rows = Dated.build_batch(20)
    assert all(dt.date(2024, 12, 1) <= row["day"] <= dt.date(2025, 1, 1) for row in rows)
    assert all(row["until"] <= dt.date(2024, 12, 3) for row in rows)
    assert all(
        datetime(2024, 12, 1, tzinfo=UTC) <= row["moment"] <= datetime(2025, 1, 1, 12, tzinfo=UTC)
        for row in rows
    )
    assert {row["stamp"] for row in rows} == {datetime(2025, 1, 1, 12)}
    assert {row["today"] for row in rows} == {dt.date(2025, 1, 1)}
    # afterwards, the declarations and the process's datetime are as they were
    assert (declarations["day"].end_date, declarations["moment"].end_dt) == ends
    assert declarations["stamp"].function == dt.datetime.now
    assert dt.datetime is datetime and Dated.build()["stamp"].year > 2025


def test_uuid4_from_int_is_the_standard_constructors_uuid_in_every_respect() -> None:
    import copy
    import pickle
    import random
    import uuid

    from seedkit.core.ids import uuid4_from_int

    draws = random.Random(11)
    values = [0, 2**128 - 1, 1 << 76, 0xC000 << 48, *(draws.getrandbits(128) for _ in range(20_000))]
    for value in values:
        standard, fast = uuid.UUID(int=value, version=4), uuid4_from_int(value)
        assert (fast, str(fast), hash(fast), fast.version, fast.variant, fast.is_safe) == (
            standard,
            str(standard),
            hash(standard),
            standard.version,
            standard.variant,
            standard.is_safe,
        )
    fast = uuid4_from_int(values[-1])
    assert pickle.loads(pickle.dumps(fast)) == fast and copy.deepcopy(fast) == fast
    assert type(fast) is uuid.UUID
