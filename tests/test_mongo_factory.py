"""MongoFactory: generated _id, BSON-safe values, clear errors, one insert_many per batch."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import factory
import pytest
from bson import Decimal128

from seedkit.core.declarations import Money, Now
from seedkit.core.determinism import deterministic
from seedkit.core.ids import IdGenerator
from seedkit.errors import FactoryError
from seedkit.factories.binding import bind
from seedkit.factories.mongo import MongoFactory


class InvoiceFactory(MongoFactory):
    class Meta:
        collection = "invoices"

    number = factory.Sequence(lambda n: f"INV-{n}")
    amount = Money(1, 100)
    issued_at = Now()
    customer_id = factory.LazyFunction(lambda: uuid.UUID(int=7))
    lines = factory.LazyFunction(lambda: [{"price": Decimal("1.50"), "tags": ("a", "b")}])


class NoCollectionFactory(MongoFactory):
    value = 1


@pytest.fixture
def db(mongo_db: Any) -> Iterator[Any]:
    with deterministic(seed=11, start="2025-03-01T00:00:00Z"), bind(mongo=mongo_db):
        yield mongo_db


@pytest.mark.mongo
def test_id_comes_from_the_id_generator(db: Any) -> None:
    docs = InvoiceFactory.create_batch(3)
    expected = IdGenerator(seed=11)
    assert [d["_id"] for d in docs] == [expected.object_id("invoices") for _ in range(3)]
    assert [d["_id"] for d in db.invoices.find({}, sort=[("number", 1)])] == [d["_id"] for d in docs]


@pytest.mark.mongo
def test_a_given_id_is_kept(db: Any) -> None:
    doc = InvoiceFactory(_id="inv-1")
    assert db.invoices.find_one({"_id": "inv-1"})["number"] == doc["number"]


@pytest.mark.mongo
def test_values_are_stored_bson_safe(db: Any) -> None:
    doc = InvoiceFactory(
        issued_at=datetime(2025, 3, 1, 12, 0, 0, 123456, tzinfo=timezone(timedelta(hours=2)))
    )
    stored = db.invoices.find_one({"_id": doc["_id"]})
    assert isinstance(stored["amount"], Decimal128)
    assert stored["amount"].to_decimal() == doc["amount"].to_decimal()
    assert stored["lines"] == [{"price": Decimal128("1.50"), "tags": ["a", "b"]}]
    assert stored["customer_id"] == str(uuid.UUID(int=7))
    # Converted to UTC and to BSON's millisecond precision: what is returned is what is stored.
    assert doc["issued_at"] == datetime(2025, 3, 1, 10, 0, 0, 123000, tzinfo=UTC)
    assert stored["issued_at"] == doc["issued_at"]
    assert stored == doc


@pytest.mark.mongo
def test_clock_driven_times(db: Any) -> None:
    docs = InvoiceFactory.build_batch(2)
    assert [d["issued_at"] for d in docs] == [datetime(2025, 3, 1, 0, 0, s, tzinfo=UTC) for s in (0, 1)]


@pytest.mark.mongo
def test_naive_datetime_is_refused_naming_the_field(db: Any) -> None:
    with pytest.raises(FactoryError, match=r"InvoiceFactory: field 'issued_at': naive datetime"):
        InvoiceFactory(issued_at=datetime(2025, 1, 1))
    assert db.invoices.count_documents({}) == 0


@pytest.mark.mongo
@pytest.mark.parametrize(
    ("value", "field", "kind"),
    [
        ({"a", "b"}, "extra", "builtins.set"),
        ({"nested": [1, object()]}, "extra.nested[1]", "builtins.object"),
        (2**70, "extra", "int64"),
    ],
)
def test_values_bson_cannot_encode_are_refused_before_insert(
    db: Any, value: Any, field: str, kind: str
) -> None:
    with pytest.raises(FactoryError) as error:
        InvoiceFactory(extra=value)
    assert f"InvoiceFactory: field {field!r}" in str(error.value)
    assert kind in str(error.value)
    assert db.invoices.count_documents({}) == 0


@pytest.mark.mongo
def test_build_returns_the_document_without_inserting(db: Any) -> None:
    doc = InvoiceFactory.build()
    assert doc["number"].startswith("INV-") and isinstance(doc["amount"], Decimal128)
    assert db.invoices.count_documents({}) == 0


@pytest.mark.mongo
def test_create_batch_uses_one_insert_many(db: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[tuple[str, int]] = []
    collection_class = type(db.invoices)
    insert_many, insert_one = collection_class.insert_many, collection_class.insert_one

    def spy_many(self: Any, documents: Any, *args: Any, **kwargs: Any) -> Any:
        documents = list(documents)
        calls.append(("insert_many", len(documents)))
        return insert_many(self, documents, *args, **kwargs)

    def spy_one(self: Any, document: Any, *args: Any, **kwargs: Any) -> Any:
        calls.append(("insert_one", 1))
        return insert_one(self, document, *args, **kwargs)

    monkeypatch.setattr(collection_class, "insert_many", spy_many)
    monkeypatch.setattr(collection_class, "insert_one", spy_one)
    InvoiceFactory.create_batch(25)
    InvoiceFactory()
    assert calls == [("insert_many", 25), ("insert_one", 1)]
    assert db.invoices.count_documents({}) == 26


@pytest.mark.mongo
def test_a_failing_batch_writes_nothing(db: Any) -> None:
    class SometimesBadFactory(InvoiceFactory):
        extra = factory.Sequence(lambda n: {1, 2} if n % 3 == 2 else n)

    with pytest.raises(FactoryError, match=r"SometimesBadFactory: field 'extra'"):
        SometimesBadFactory.create_batch(5)
    assert db.invoices.count_documents({}) == 0


@pytest.mark.mongo
def test_duplicate_id_is_a_factory_error(db: Any) -> None:
    InvoiceFactory(_id="same")
    with pytest.raises(FactoryError, match=r"cannot insert into 'invoices'"):
        InvoiceFactory(_id="same")


@pytest.mark.mongo
def test_database_from_argument_or_clear_error(mongo_db: Any) -> None:
    with pytest.raises(FactoryError, match=r"seedkit\.bind\(mongo="):
        InvoiceFactory()
    InvoiceFactory(_mongo=mongo_db)
    assert mongo_db.invoices.count_documents({}) == 1


@pytest.mark.mongo
def test_missing_collection_is_a_clear_error(db: Any) -> None:
    with pytest.raises(FactoryError, match=r"NoCollectionFactory: set `class Meta: collection"):
        NoCollectionFactory()
