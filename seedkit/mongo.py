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

from seedkit.errors import DatabaseUnavailable
from seedkit.urls import redact

SERVER_TIMEOUT_MS = 3000


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
        reason = str(exc).split(",")[0]
        raise DatabaseUnavailable(f"cannot connect to MongoDB at {redact(url)}: {reason}") from None
    return client[database]


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
            collection = db[name]
            for index in body.get("indexes", []):
                # JSON turns the (field, direction) pairs into lists; pymongo wants tuples.
                collection.create_index([tuple(k) for k in index["key"]], **index.get("options", {}))
            if body["documents"]:
                collection.insert_many(body["documents"])
            elif name not in db.list_collection_names():
                db.create_collection(name)

    def save(self, db: Database[Any]) -> None:
        """Write ``db``'s documents and indexes to the file."""
        dump: dict[str, Any] = {}
        for name in sorted(db.list_collection_names()):
            collection = db[name]
            indexes = []
            for index_name, info in collection.index_information().items():
                if index_name == "_id_":
                    continue
                options = {k: v for k, v in info.items() if k in ("unique", "sparse", "expireAfterSeconds")}
                indexes.append({"key": list(info["key"]), "options": {"name": index_name, **options}})
            dump[name] = {"indexes": indexes, "documents": list(collection.find({}, sort=[("_id", 1)]))}
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json_util.dumps(dump, json_options=json_util.CANONICAL_JSON_OPTIONS, indent=1))
        tmp.replace(self.path)


@contextmanager
def open_database(url: str | None, database: str, state_dir: Path | None = None) -> Iterator[Database[Any]]:
    """A Mongo database for one command: real when ``url`` is set; else mongomock, kept in
    ``state_dir/mongomock/<database>.json`` between runs when ``state_dir`` is given."""
    db = connect(url, database)
    if url is not None or state_dir is None:
        yield db
        return
    store = MongomockFile(state_dir / "mongomock" / f"{database}.json")
    store.load(db)
    yield db
    store.save(db)
