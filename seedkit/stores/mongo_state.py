"""Mongo's side of isolation: emptying collections, and putting back a captured seeded state.

Mongo has no cross-collection rollback on mongomock (nor on a standalone server), so the
``rollback`` and ``snapshot`` strategies reset Mongo by restoring an in-memory copy of the
seeded collections after each test (see docs/isolation-rollback.md for exactly what).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import bson
from bson.codec_options import CodecOptions
from pymongo.database import Database

from seedkit.stores.mongo import create_indexes, index_specs, user_collections
from seedkit.stores.safety import check_destructive

_DECODE: CodecOptions[dict[str, Any]] = CodecOptions(tz_aware=True)


def mongo_target_url(db: Database[Any]) -> str:
    """A URL naming the server and database of ``db``, for the safety guard and messages."""
    client = db.client
    if type(client).__module__.startswith("mongomock"):
        return f"mongodb://localhost/{db.name}"
    try:
        host, port = client.address or ("unknown-host", 0)
    except Exception:  # server selection failed: judge it as not local
        host, port = "unknown-host", 0
    return f"mongodb://{host}:{port}/{db.name}"


def check_mongo_destructive(db: Database[Any], *, action: str, allow_unsafe: bool = False) -> None:
    """The safety guard for a Mongo database (local server, test-looking name, not production)."""
    check_destructive(mongo_target_url(db), action=action, allow_unsafe=allow_unsafe)


def clear_collections(
    db: Database[Any],
    *,
    allow_unsafe: bool = False,
    indexes: dict[str, dict[str, dict[str, Any]]] | None = None,
) -> None:
    """Delete every document of every collection; collections stay.

    ``indexes`` (from :func:`capture_indexes`): the collections and the indexes each must have
    afterwards; a collection whose indexes differ (a test created or dropped one) gets them
    rebuilt, and a collection it does not name (a test made it) is dropped: a real server keeps a
    collection that ``delete_many`` emptied (mongomock does not). Without it, the indexes stay
    as they are.
    """
    check_mongo_destructive(db, action="delete all documents of", allow_unsafe=allow_unsafe)
    for name in user_collections(db):
        if indexes is not None and name not in indexes and not _is_seedkits_own(name):
            db.drop_collection(name)
            continue
        db[name].delete_many({})
        wanted = indexes.get(name) if indexes is not None else None
        if wanted is not None and index_specs(db, name) != wanted:
            db[name].drop_indexes()
            create_indexes(db, name, wanted)


def capture_indexes(db: Database[Any]) -> dict[str, dict[str, dict[str, Any]]]:
    """Every collection's index definitions (:func:`~seedkit.stores.mongo.index_specs`), by name."""
    return {name: index_specs(db, name) for name in user_collections(db)}


def replace_collections(
    db: Database[Any], contents: dict[str, tuple[list[Any], dict[str, dict[str, Any]]]]
) -> None:
    """Make ``db`` hold exactly ``contents``: collection -> (documents, :func:`index_specs`).

    Collections not in ``contents`` are dropped. Each listed collection is emptied (not dropped,
    so its options such as validators stay), its indexes rebuilt only if they differ, then the
    documents are inserted in the given order.
    """
    existing = {name for name in user_collections(db) if not _is_seedkits_own(name)}
    for name in sorted(existing - set(contents)):
        db.drop_collection(name)
    for name, (documents, indexes) in contents.items():
        collection = db[name]
        if name not in existing:
            db.create_collection(name)
        else:
            collection.delete_many({})
        if index_specs(db, name) != indexes:
            collection.drop_indexes()
            create_indexes(db, name, indexes)
        if documents:
            collection.insert_many(documents)


def _is_seedkits_own(name: str) -> bool:
    """A seeding run's backup or record (see :mod:`seedkit.stores.mongo_undo`): never user data."""
    from seedkit.stores.mongo_undo import BACKUP_PREFIX, IDS, RECORD

    return name.startswith(BACKUP_PREFIX) or name in (RECORD, IDS)


@dataclass(frozen=True)
class _CollectionState:
    documents: tuple[bytes, ...]  # BSON, in ``_id`` order: exact types, immune to later mutation
    indexes: dict[str, dict[str, Any]]


class MongoBaseline:
    """An in-memory copy of a Mongo database's collections (documents and indexes).

    :meth:`restore` makes the database equal to the copy again (:func:`replace_collections`):
    collections the copy does not know are dropped; each known collection is emptied and
    refilled with the copied documents, and its indexes are rebuilt only when they differ from
    the copy. Its cost is proportional to the number of seeded documents.
    """

    def __init__(self, collections: dict[str, _CollectionState]) -> None:
        self._collections = collections

    @property
    def collection_names(self) -> list[str]:
        return sorted(self._collections)

    @classmethod
    def capture(cls, db: Database[Any]) -> MongoBaseline:
        collections = {
            name: _CollectionState(
                documents=tuple(bson.encode(doc) for doc in db[name].find({}, sort=[("_id", 1)])),
                indexes=index_specs(db, name),
            )
            for name in user_collections(db)
        }
        return cls(collections)

    def restore(self, db: Database[Any], *, allow_unsafe: bool = False) -> None:
        check_mongo_destructive(db, action="restore the seeded collections of", allow_unsafe=allow_unsafe)
        replace_collections(
            db,
            {
                name: ([bson.decode(raw, codec_options=_DECODE) for raw in state.documents], state.indexes)
                for name, state in self._collections.items()
            },
        )
