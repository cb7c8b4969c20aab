"""Connecting to MongoDB: a real server from a URL, or mongomock in-process.

Only pymongo's public API is used on the returned database, so the same code runs on both.
A mongomock database can be backed by a file (:class:`MongomockFile`) so that separate CLI
runs see the same documents, as they would with a real server.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import mongomock
import pymongo
from bson import json_util
from pymongo.database import Database

from seedkit.errors import ConfigError, DatabaseUnavailable
from seedkit.stores.urls import redact

SERVER_TIMEOUT_MS = 3000
INDEX_OPTIONS = ("unique", "sparse", "expireAfterSeconds", "partialFilterExpression", "collation", "hidden")


def connect(url: str | None, database: str) -> Database[Any]:
    """A database on the server at ``url``, or an in-process mongomock one when ``url`` is None."""
    if url is None:
        return mongomock.MongoClient(tz_aware=True)[database]
    try:
        client: pymongo.MongoClient[Any] = pymongo.MongoClient(
            url, serverSelectionTimeoutMS=SERVER_TIMEOUT_MS, tz_aware=True
        )
        client.admin.command("ping")
    except pymongo.errors.PyMongoError as exc:
        # pymongo appends its timeouts and topology: "... refused (configured timeouts: ...), Timeout: ..."
        reason = str(exc).split(" (configured timeouts")[0].split(", Timeout: ")[0]
        raise DatabaseUnavailable(f"cannot connect to MongoDB at {redact(url)}: {reason}") from None
    return client[database]


def connect_async(url: str | None, like: Database[Any]) -> Any:
    """An asyncio database on the same documents as ``like`` (for ``create_async`` and async tests).

    With ``url`` (the server ``like`` is on): pymongo's ``AsyncMongoClient``, which connects
    on first use. Without (``like`` is mongomock's): mongomock-motor's async client over
    ``like``'s in-process client, so both see the same documents.

    Raises:
        ConfigError: no ``url`` and mongomock-motor is not installed (``pip install 'seedkit[async]'``).
    """
    if url is not None:
        client: pymongo.AsyncMongoClient[Any] = pymongo.AsyncMongoClient(
            url, serverSelectionTimeoutMS=SERVER_TIMEOUT_MS, tz_aware=True
        )
        return client[like.name]
    if not isinstance(like.client, mongomock.MongoClient):
        raise ConfigError(
            f"Mongo database {like.name!r} is on a server: its URL is needed to open it with AsyncMongoClient"
        )
    try:
        from mongomock_motor import AsyncMongoMockClient
    except ImportError:
        raise ConfigError(
            "an async Mongo database without a Mongo URL needs mongomock-motor: "
            "pip install 'seedkit[async]' (or set a Mongo URL)"
        ) from None
    return AsyncMongoMockClient(mock_mongo_client=like.client)[like.name]


def user_collections(db: Database[Any]) -> list[str]:
    """The database's collections except ``system.*``, sorted."""
    return sorted(name for name in db.list_collection_names() if not name.startswith("system."))


def index_specs(db: Database[Any], collection: str) -> dict[str, dict[str, Any]]:
    """Index name -> {"key": [(field, direction)...], options...}, without the ``_id_`` index."""
    specs = {}
    for name, info in db[collection].index_information().items():
        if name == "_id_":
            continue
        spec: dict[str, Any] = {"key": [tuple(part) for part in info["key"]]}
        spec.update({option: info[option] for option in INDEX_OPTIONS if option in info})
        specs[name] = spec
    return specs


def create_indexes(db: Database[Any], collection: str, specs: dict[str, dict[str, Any]]) -> None:
    """Create the indexes described by :func:`index_specs` (keys may come back from JSON as lists)."""
    for name, spec in specs.items():
        options = {k: v for k, v in spec.items() if k != "key"}
        db[collection].create_index([tuple(part) for part in spec["key"]], name=name, **options)


class MongomockFile:
    """Persists a mongomock database to an Extended-JSON file between processes."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def load(self, db: Database[Any]) -> None:
        """Replace ``db``'s contents with the file's (documents and indexes)."""
        if not self.path.exists():
            return
        dump = json_util.loads(self.path.read_text())
        for name in db.list_collection_names():
            db.drop_collection(name)
        for name, body in dump.items():
            db.create_collection(name)
            create_indexes(db, name, body["indexes"])
            if body["documents"]:
                db[name].insert_many(body["documents"])

    def save(self, db: Database[Any]) -> None:
        """Write ``db``'s documents and indexes to the file."""
        dump: dict[str, Any] = {}
        for name in user_collections(db):
            documents = list(db[name].find({}, sort=[("_id", 1)]))
            dump[name] = {"indexes": index_specs(db, name), "documents": documents}
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json_util.dumps(dump, json_options=json_util.CANONICAL_JSON_OPTIONS, indent=1))
        tmp.replace(self.path)


@contextmanager
def open_database(url: str | None, database: str, state_dir: Path | None = None) -> Iterator[Database[Any]]:
    """A Mongo database for one command: real when ``url`` is set; else mongomock, kept in
    ``state_dir/mongomock/<database>.json`` between runs when ``state_dir`` is given."""
    db = connect(url, database)
    try:
        if url is not None or state_dir is None:
            yield db
            return
        store = MongomockFile(state_dir / "mongomock" / f"{database}.json")
        store.load(db)
        _FILES[id(db)] = store
        try:
            yield db
        finally:
            _FILES.pop(id(db), None)
        store.save(db)
    finally:
        db.client.close()  # a real client's connection pool and monitor threads end here


_FILES: dict[int, MongomockFile] = {}


def checkpoint(db: Database[Any]) -> None:
    """Write a file-backed mongomock database (:func:`open_database`) to its file now; a real
    server's database needs nothing (its writes are durable already).

    A command writes the file once more when it ends; a run calls this just before it commits
    PostgreSQL, so that a process killed after that commit leaves a file holding the run's
    documents and its undo record, which the next command resolves by PostgreSQL's verdict
    (:func:`seedkit.stores.mongo_undo.recover`) like a real server's.
    """
    store = _FILES.get(id(db))
    if store is not None:
        store.save(db)
