"""The bulk seeder's flush side: rows read per table layout, the checks on them, garbage per chunk."""

from __future__ import annotations

import gc
import sys
import uuid
from decimal import Decimal
from types import SimpleNamespace
from typing import Any

import factory
import pytest
import sqlalchemy as sa
from seedkit_reference.model_factories import OrganizationFactory
from seedkit_reference.models import OrderItem
from sqlalchemy.dialects import postgresql

from seedkit.bulk import DEFAULT_CHUNK_SIZE, ORM_CHUNK_SIZE, BulkSeeder
from seedkit.bulk import seeder as seeder_module
from seedkit.bulk.copy import SWITCH_INTERVAL
from seedkit.bulk.rows import MISSING, TableLayout
from seedkit.bulk.seeder import _check_int_ranges, _finish_rows, _in_pending_order
from seedkit.core.determinism import deterministic
from seedkit.errors import FactoryError

ORDER = SimpleNamespace(id=uuid.UUID(int=1))
PRODUCT = SimpleNamespace(id=uuid.UUID(int=2))
PRICE = Decimal("2.50")


def _item(**values: Any) -> SimpleNamespace:
    """An object whose ``__dict__`` holds an order item's attributes, as a record's does."""
    return SimpleNamespace(**{"id": 7, "quantity": 2, "unit_price": PRICE, "line_total": PRICE, **values})


@pytest.fixture(scope="module")
def items() -> TableLayout:
    return TableLayout(sa.inspect(OrderItem), postgresql.dialect())


def test_rows_take_foreign_keys_from_parents_and_name_the_rows_with_an_unset_column(
    items: TableLayout,
) -> None:
    objects = [
        _item(order=ORDER, product=PRODUCT),  # both keys from the parents
        _item(order=ORDER, product_id=uuid.UUID(int=3)),  # one key set directly, no parent
        _item(order=ORDER),  # product_id unset
        SimpleNamespace(
            id=8, unit_price=PRICE, line_total=PRICE, order=ORDER, product=PRODUCT
        ),  # no quantity
        _item(order=None, order_id=uuid.UUID(int=4), product=PRODUCT),  # no parent, its key set
    ]
    rows, incomplete = items.rows(objects)
    assert incomplete == [2, 3]
    by_name = [dict(zip(items.names, row, strict=True)) for row in rows]
    assert by_name[0] == {
        "id": 7,
        "order_id": ORDER.id,
        "product_id": PRODUCT.id,
        "quantity": 2,
        "unit_price": PRICE,
        "line_total": PRICE,
    }
    assert by_name[1]["product_id"] == uuid.UUID(int=3)
    assert by_name[2]["product_id"] is MISSING
    assert by_name[3]["quantity"] is MISSING
    assert by_name[4]["order_id"] == uuid.UUID(int=4)
    assert [items.row(obj.__dict__) for obj in objects] == rows  # one object's row: the same values


def test_only_the_named_rows_get_their_unset_columns_filled(items: TableLayout) -> None:
    rows, incomplete = items.rows([_item(order=ORDER, product=PRODUCT), _item(order=ORDER)])
    columns, finished = _finish_rows(items, rows, incomplete)
    assert columns == tuple(items.names)
    assert finished[1][items.names.index("product_id")] is None  # no default: NULL, as a flush writes it
    assert MISSING not in finished[0] and MISSING not in finished[1]


@pytest.mark.parametrize(
    ("quantities", "bad"),
    [
        ([1, 2**31, 3], 2**31),  # integers only: the column's extremes
        ([None, -(2**31) - 1, 5], -(2**31) - 1),  # with NULLs, which do not compare with integers
        ([MISSING, 2**40], 2**40),  # with an unset value
        ([True, 2**31], 2**31),  # with a bool, an int that is not an integer value here
        ([2**31], 2**31),  # one row
    ],
)
def test_an_integer_out_of_its_columns_range_is_refused_whatever_else_the_column_holds(
    items: TableLayout, quantities: list[Any], bad: int
) -> None:
    rows = [[1, ORDER.id, PRODUCT.id, quantity, PRICE, PRICE] for quantity in quantities]
    with pytest.raises(FactoryError, match=rf"order_items\.quantity = {bad} does not fit INTEGER"):
        _check_int_ranges(items, rows)


@pytest.mark.parametrize(
    "quantities",
    [[1, 2**31 - 1, -(2**31)], [None, 5], [None], [MISSING], [2.5e12, 3], ["5", "6"], []],
)
def test_values_in_range_or_not_integers_pass_the_range_check(
    items: TableLayout, quantities: list[Any]
) -> None:
    _check_int_ranges(items, [[1, ORDER.id, PRODUCT.id, quantity, PRICE, PRICE] for quantity in quantities])


def test_rows_of_classes_sharing_a_table_keep_the_order_they_were_created_in(items: TableLayout) -> None:
    first, second, third = _item(id=1), _item(id=2), _item(id=3)
    pending = [first, second, third]
    parts = [
        (items, [first, third], [[1, 0], [3, MISSING]], [1]),
        (items, [second], [[2, 0]], []),
    ]
    rows, incomplete = _in_pending_order(parts, pending)
    assert rows == [[1, 0], [2, 0], [3, MISSING]]
    assert incomplete == [2]


def test_a_chunk_that_leaves_no_garbage_cycles_is_not_collected(
    engine: sa.Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[Any] = []
    collect = gc.collect
    monkeypatch.setattr(gc, "collect", lambda *args: calls.append(args) or collect(*args))
    with engine.connect() as conn:
        with deterministic(seed=3), BulkSeeder(conn, chunk_size=5) as seeder:
            seeder.create(OrganizationFactory, 20)  # four chunks: reference counting frees each
        assert conn.execute(sa.text("SELECT count(*) FROM organizations")).scalar() == 20
    assert calls == []


class _Cycle:
    """An object in a reference cycle with itself, counted while it exists."""

    alive = 0
    most = 0

    def __init__(self) -> None:
        self.me = self
        type(self).alive += 1
        type(self).most = max(type(self).most, type(self).alive)

    def __del__(self) -> None:
        type(self).alive -= 1


def _name_leaving_cycles() -> str:
    for _ in range(500):
        _Cycle()
    return "Cyclic"


class CyclicOrganizationFactory(OrganizationFactory):
    name = factory.LazyFunction(_name_leaving_cycles)


def test_garbage_cycles_are_collected_once_a_chunk_passes_the_bound(
    engine: sa.Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(seeder_module, "COLLECT_AFTER", 2_000)
    gc.collect()
    _Cycle.alive = _Cycle.most = 0
    with engine.connect() as conn, deterministic(seed=3), BulkSeeder(conn, chunk_size=5) as seeder:
        seeder.create(CyclicOrganizationFactory, 40)  # 20,000 objects in cycles, 2,500 a chunk
    # Collected after each chunk (2,500 > 2,000): at most the chunk before's and this chunk's.
    assert 2_500 <= _Cycle.most <= 5_000


_INTERVALS: list[float] = []


def _name_noting_the_switch_interval() -> str:
    _INTERVALS.append(sys.getswitchinterval())
    return f"org {len(_INTERVALS)}"


class IntervalOrganizationFactory(OrganizationFactory):
    name = factory.LazyFunction(_name_noting_the_switch_interval)


@pytest.mark.parametrize("background", [True, False])
def test_rows_are_generated_with_a_short_switch_interval_beside_the_writer_thread_only(
    engine: sa.Engine, background: bool
) -> None:
    _INTERVALS.clear()
    before = sys.getswitchinterval()
    with engine.connect() as conn, deterministic(seed=3), BulkSeeder(conn, background=background) as seeder:
        seeder.create(IntervalOrganizationFactory, 3)
        assert seeder.paths[f"{__name__}.IntervalOrganizationFactory"].path == "row"
    assert len(_INTERVALS) == 3
    expected = min(before, SWITCH_INTERVAL) if background else before
    assert set(_INTERVALS) == {
        expected
    }  # the writer thread gets the GIL promptly; no thread, nothing changed
    assert sys.getswitchinterval() == before  # set back after the volume


def test_chunk_size_sets_both_paths_and_each_has_its_default(engine: sa.Engine) -> None:
    with engine.connect() as conn:
        with BulkSeeder(conn) as seeder:
            assert (seeder.chunk_size, seeder.orm_chunk_size) == (DEFAULT_CHUNK_SIZE, ORM_CHUNK_SIZE)
        with BulkSeeder(conn, chunk_size=7) as seeder:
            assert (seeder.chunk_size, seeder.orm_chunk_size) == (7, 7)
