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
per collection. ``_id`` comes from the active ID generator unless given. On pymongo's
``AsyncDatabase``, ``await create_async()`` / ``await create_batch_async(n)`` do the same.

Documents are made BSON-safe before they leave the factory (see :func:`to_bson`).
"""

from __future__ import annotations

import datetime as dt
import inspect
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
from pymongo.asynchronous.database import AsyncDatabase
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
_Pending = dict[tuple[int, str], tuple[Any, list[dict[str, Any]]]]  # Collection or AsyncCollection
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
def collected_documents() -> Iterator[_Pending | None]:
    """Collect the documents created inside, per collection, instead of inserting them.

    Yields the collected ``(collection, documents)`` (``None`` inside an outer collection,
    which gets them instead); the caller inserts them when the block ended without error.
    """
    if _batch.get() is not None:
        yield None
        return
    pending: _Pending = {}
    token = _batch.set(pending)
    try:
        yield pending
    finally:
        _batch.reset(token)


@contextmanager
def _batched() -> Iterator[None]:
    """Collect the documents created inside; insert them per collection at the end."""
    with collected_documents() as pending:
        yield
    # Reached only without an exception: a failed batch writes nothing.
    for collection, documents in (pending or {}).values():
        _insert(collection, documents)


def is_async_collection(collection: Any) -> bool:
    """Whether ``collection`` is an asyncio one (pymongo's ``AsyncCollection``, mongomock-motor's)."""
    return inspect.iscoroutinefunction(getattr(collection, "insert_many", None))


def _insert(collection: Collection[Any], documents: list[dict[str, Any]]) -> None:
    try:
        if len(documents) == 1:
            collection.insert_one(documents[0])
        else:
            collection.insert_many(documents, ordered=True)
    except (DuplicateKeyError, BulkWriteError) as exc:
        raise _insert_error(collection, exc) from exc


async def insert_collected_async(pending: _Pending) -> None:
    """Insert what :func:`collected_documents` collected, awaiting the asyncio collections."""
    collection: Any
    for collection, documents in pending.values():
        if not is_async_collection(collection):
            _insert(collection, documents)
            continue
        try:
            if len(documents) == 1:
                await collection.insert_one(documents[0])
            else:
                await collection.insert_many(documents, ordered=True)
        except (DuplicateKeyError, BulkWriteError) as exc:
            raise _insert_error(collection, exc) from exc


def _insert_error(collection: Any, exc: DuplicateKeyError | BulkWriteError) -> FactoryError:
    detail = exc.details or {}
    errors = detail.get("writeErrors", [detail])
    reason = errors[0].get("errmsg", str(exc)) if errors else str(exc)
    return FactoryError(f"cannot insert into {collection.name!r}: {reason}")


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
        mongo: Database[Any] | AsyncDatabase[Any] | None = params.pop("_mongo", None)
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
        collection: Any = current_mongo()[cls._collection_name()]
        pending = _batch.get()
        if pending is None:
            if is_async_collection(collection):
                name = cls.__name__
                raise FactoryError(
                    f"{name} is bound to an async Mongo database: use `await {name}.create_async(...)` "
                    f"or `await {name}.create_batch_async(n, ...)` (create() cannot await its insert)"
                )
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

    @classmethod
    async def create_async(cls, **kwargs: Any) -> dict[str, Any]:
        """``create()`` on an async Mongo database (and ``AsyncSession``) bound or passed as ``_mongo=``.

        The document (and any it creates through sub-factories) is inserted with an awaited
        ``insert_one``/``insert_many``; see :mod:`seedkit.factories.asynchronous`.
        """
        from seedkit.factories.asynchronous import create_async

        document: dict[str, Any] = await create_async(cls, kwargs)
        return document

    @classmethod
    async def create_batch_async(cls, size: int, **kwargs: Any) -> list[dict[str, Any]]:
        """``create_batch()`` on async stores: one awaited ``insert_many`` per collection."""
        from seedkit.factories.asynchronous import create_batch_async

        return await create_batch_async(cls, size, kwargs)
