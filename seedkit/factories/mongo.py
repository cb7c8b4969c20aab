"""The base of seedkit's MongoDB factories: plain dict documents written with pymongo.

::

    class AuditEventFactory(MongoFactory):
        class Meta:
            collection = "audit_events"

        occurred_at = Now()
        action = "order.paid"

``build()`` returns the document without writing it, ``create()`` inserts it into
``Meta.collection`` of the database bound with ``seedkit.bind(mongo=db)`` (or passed as
``_mongo=db``), and ``create_batch(n)`` writes all ``n`` documents with one ``insert_many``
per collection. ``_id`` comes from the active ID generator unless given.

Documents are made BSON-safe before they leave the factory (see :func:`to_bson`).
"""

from __future__ import annotations

import datetime as dt
import re
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from decimal import Decimal, InvalidOperation
from typing import Any

import bson
from bson import Decimal128
from factory import base
from pymongo.collection import Collection
from pymongo.database import Database
from pymongo.errors import BulkWriteError, DuplicateKeyError

from seedkit.core.determinism import current, ensure_active, ids
from seedkit.errors import FactoryError
from seedkit.factories.binding import bind, current_mongo
from seedkit.factories.builder import generate, lean_building

__all__ = ["MongoFactory", "to_bson"]

_INT64 = 2**63
# Values BSON stores as they are (besides dict, list and the conversions below).
_NATIVE = (
    str,
    bytes,
    float,
    bson.ObjectId,
    bson.Decimal128,
    bson.Int64,
    bson.Binary,
    bson.Code,
    bson.Regex,
    bson.Timestamp,
    bson.MinKey,
    bson.MaxKey,
    bson.DBRef,
    re.Pattern,
)

# (database, collection name) -> documents waiting for insert_many, while a batch is open.
_Pending = dict[tuple[int, str], tuple[Collection[Any], list[dict[str, Any]]]]
_batch: ContextVar[_Pending | None] = ContextVar("seedkit_mongo_batch", default=None)


def to_bson(value: Any, *, factory_name: str, field: str) -> Any:
    """``value`` as BSON stores it, or a :class:`FactoryError` naming factory, field and type.

    Conversions: ``Decimal`` -> ``Decimal128``; ``uuid.UUID`` -> ``str``; aware datetimes ->
    UTC, truncated to milliseconds (BSON's precision, so the returned document equals the
    stored one); tuples -> lists. Naive datetimes are refused: their time zone is unknown.
    """
    if value is None or isinstance(value, (bool, *_NATIVE)):
        return value
    if isinstance(value, int):
        if not -_INT64 <= value < _INT64:
            raise FactoryError(f"{factory_name}: field {field!r}: integer {value} does not fit BSON's int64")
        return value
    if isinstance(value, dt.datetime):
        if value.tzinfo is None or value.utcoffset() is None:
            raise FactoryError(
                f"{factory_name}: field {field!r}: naive datetime {value.isoformat()} "
                "(use an aware datetime, e.g. from seedkit's clock)"
            )
        moment = value.astimezone(dt.UTC)
        return moment.replace(microsecond=moment.microsecond // 1000 * 1000)
    if isinstance(value, Decimal):
        try:
            return Decimal128(value)
        except (InvalidOperation, ValueError) as exc:
            raise FactoryError(f"{factory_name}: field {field!r}: {value} does not fit Decimal128") from exc
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, dict):
        converted: dict[str, Any] = {}
        for key, item in value.items():
            if not isinstance(key, str):
                kind = type(key).__name__
                raise FactoryError(f"{factory_name}: field {field!r}: key {key!r} is a {kind}, not a string")
            converted[key] = to_bson(item, factory_name=factory_name, field=f"{field}.{key}")
        return converted
    if isinstance(value, list | tuple):
        return [
            to_bson(item, factory_name=factory_name, field=f"{field}[{i}]") for i, item in enumerate(value)
        ]
    raise FactoryError(
        f"{factory_name}: field {field!r}: a {type(value).__module__}.{type(value).__qualname__} "
        f"({value!r:.60}) cannot be stored in BSON"
    )


@contextmanager
def _batched() -> Iterator[None]:
    """Collect the documents created inside; insert them per collection at the end."""
    if _batch.get() is not None:  # an outer batch writes everything
        yield
        return
    pending: _Pending = {}
    token = _batch.set(pending)
    try:
        yield
    finally:
        _batch.reset(token)
    # Reached only without an exception: a failed batch writes nothing.
    for collection, documents in pending.values():
        _insert(collection, documents)


def _insert(collection: Collection[Any], documents: list[dict[str, Any]]) -> None:
    try:
        if len(documents) == 1:
            collection.insert_one(documents[0])
        else:
            collection.insert_many(documents, ordered=True)
    except (DuplicateKeyError, BulkWriteError) as exc:
        detail = exc.details or {}
        errors = detail.get("writeErrors", [detail])
        reason = errors[0].get("errmsg", str(exc)) if errors else str(exc)
        raise FactoryError(f"cannot insert into {collection.name!r}: {reason}") from exc


class MongoOptions(base.FactoryOptions):
    """factory_boy options plus ``Meta.collection``."""

    def _build_default_options(self) -> list[base.OptionDefault]:
        return [*super()._build_default_options(), base.OptionDefault("collection", None, inherit=True)]


class MongoFactory(base.Factory):
    """Abstract base of seedkit factories for Mongo documents (see the module docstring)."""

    _options_class = MongoOptions

    class Meta:
        abstract = True
        model = dict

    @classmethod
    def _setup_next_sequence(cls) -> int:
        return current().sequence_start

    @classmethod
    def _generate(cls, strategy: str, params: dict[str, Any]) -> Any:
        mongo: Database[Any] | None = params.pop("_mongo", None)
        with ensure_active(), bind(mongo=mongo):
            if lean_building():
                return generate(cls, strategy, params)
            return super()._generate(strategy, params)

    @classmethod
    def _collection_name(cls) -> str:
        name = cls._meta.collection  # type: ignore[attr-defined]
        if not name:
            raise FactoryError(f'{cls.__name__}: set `class Meta: collection = "..."`')
        return str(name)

    @classmethod
    def _build(cls, model_class: type, *args: Any, **kwargs: Any) -> dict[str, Any]:
        collection = cls._collection_name()
        given = kwargs.pop("_id", None)
        document: dict[str, Any] = {"_id": ids().object_id(collection) if given is None else given}
        document.update(kwargs)
        return {key: to_bson(value, factory_name=cls.__name__, field=key) for key, value in document.items()}

    @classmethod
    def _create(cls, model_class: type, *args: Any, **kwargs: Any) -> dict[str, Any]:
        document = cls._build(model_class, *args, **kwargs)
        collection = current_mongo()[cls._collection_name()]
        pending = _batch.get()
        if pending is None:
            _insert(collection, [document])
        else:
            key = (id(collection.database.client), collection.full_name)
            pending.setdefault(key, (collection, []))[1].append(document)
        return document

    @classmethod
    def create_batch(cls, size: int, **kwargs: Any) -> list[dict[str, Any]]:
        """Create ``size`` documents (and their sub-documents) with one ``insert_many`` per collection."""
        with _batched():
            return [cls.create(**kwargs) for _ in range(size)]
