"""Putting Mongo back as it was when a seeding run fails, even when its process is killed.

PostgreSQL needs no help: ``TRUNCATE`` and inserts are transactional, so the seeding's
transaction undoes them on rollback. MongoDB has no such transaction on a standalone server,
so :class:`MongoRun` keeps what a rollback needs: a reset sets each collection aside under a
backup name (``rename``, instant and index-preserving) and recreates it empty with the same
indexes; :meth:`MongoRun.rollback` drops what the run wrote, renames the backups back and
rebuilds the indexes of any collection whose indexes the run changed (a project's index hook
runs inside the run); :meth:`MongoRun.commit` drops the backups.

A run that does not reset adds documents to collections that already hold some; its rollback
deletes exactly the documents whose ``_id`` was not there before. Those ids are kept in Mongo,
not in memory or in one command: :class:`MongoRun` copies every collection's ``_id`` values into
the ``_seedkit_run.ids`` collection (``{_id: {c: collection, i: id}}``) in batches of
:data:`BATCH`, and the rollback reads each collection's ids in batches, asks that collection
which of them it knows (``$in``) and deletes the others (``$in``). Every command and document
stays within :data:`BATCH` ids, far below MongoDB's 16 MB limit, whatever the size of the
collections (a single ``$nin`` over every id, as before, is refused from about 1.4 million
ObjectIds on). Plain finds, inserts and deletes work on any server (mongomock, a real server,
wire-protocol servers); ``$out``/``$lookup`` would copy server-side but are not everywhere.

A killed process can neither commit nor roll back, and PostgreSQL may have committed just before
the kill. So :meth:`MongoRun.follow` writes a record into Mongo before the run's first Mongo
write: the PostgreSQL transaction's id (``pg_current_xact_id()``), the collections there were
(their ids are in ``_seedkit_run.ids`` already), and the collections set aside. The next run (or :func:`recover`) asks
PostgreSQL's commit log what became of that transaction (``pg_xact_status``): committed, the
run is finished (backups dropped); aborted or unknown, it is undone. Either way Mongo ends up
with the PostgreSQL side it belongs to.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

import sqlalchemy as sa
from pymongo.database import Database
from sqlalchemy.engine import Connection, Engine

from seedkit.errors import SeedkitError
from seedkit.stores import mongo

BACKUP_PREFIX = "_seedkit_reset."
RECORD = "_seedkit_run"
"""The collection holding the record of a run in progress (one document)."""
IDS = "_seedkit_run.ids"
"""The collection holding the ``_id`` values the collections had when the run started."""
BATCH = 10_000
"""Ids per command (copy, compare, delete): a bounded command size on any collection."""


def live_collections(db: Database[Any]) -> list[str]:
    """The collections seedkit manages: not ``system.*``, not reset backups, not a run's record."""
    return [
        name
        for name in mongo.user_collections(db)
        if not name.startswith(BACKUP_PREFIX) and name not in (RECORD, IDS)
    ]


class MongoRun:
    """What one seeding run did to a Mongo database, so that it can be undone.

    Created before the run writes anything; it remembers each collection's document ids (in
    Mongo, see the module docstring) and indexes (in this process only). What a killed run left
    is resolved first; ``bind`` is the PostgreSQL engine or connection to ask about that run's
    transaction. ``reset``: the run will :meth:`clear` every collection first, which sets the
    documents aside whole, so no ids are copied.
    """

    def __init__(
        self, db: Database[Any], bind: Engine | Connection | None = None, *, reset: bool = False
    ) -> None:
        self.db = db
        recover(db, bind)
        self.before: list[str] = live_collections(db)
        self.ids = not reset  # without ids, a rollback leaves the collections it did not clear alone
        if self.ids:
            _copy_ids(db, self.before)
        self.indexes = {name: mongo.index_specs(db, name) for name in self.before}
        self.set_aside: dict[str, str] = {}
        self._record: dict[str, Any] | None = None

    def follow(self, conn: Connection, *, reset: bool = False) -> None:
        """Tie this run to ``conn``'s open PostgreSQL transaction; call before the first Mongo write.

        ``reset``: the run will :meth:`clear` every collection (the backups hold the documents).
        The record names the collections only; their ids are in ``_seedkit_run.ids``.
        """
        xid = conn.execute(sa.text("SELECT pg_current_xact_id()::text")).scalar_one()
        self._record = {
            "_id": "run",
            "xid": xid,
            "before": list(self.before),
            "ids": self.ids,
            "set_aside": {},
        }
        self.db[RECORD].replace_one({"_id": "run"}, self._record, upsert=True)

    def clear(self) -> None:
        """Empty every collection, keeping it and its indexes; reversible until :meth:`commit`."""
        for name in self.before:
            backup = BACKUP_PREFIX + name
            self.set_aside[name] = backup
            if self._record is not None:  # recorded before the rename, so a kill never loses it
                self.db[RECORD].update_one({"_id": "run"}, {"$set": {f"set_aside.{name}": backup}})
            self.db[name].rename(backup)
            self.db.create_collection(name)
            mongo.create_indexes(self.db, name, mongo.index_specs(self.db, backup))

    def commit(self) -> None:
        """Keep the run's writes: drop the backups of cleared collections."""
        _finish(self.db, self.set_aside)
        self.set_aside.clear()

    def rollback(self) -> None:
        """Undo the run: drop new collections, delete new documents, restore cleared collections
        and the indexes each collection had."""
        _undo(self.db, self.before, self.set_aside, ids=self.ids)
        for name, specs in self.indexes.items():
            if mongo.index_specs(self.db, name) != specs:
                self.db[name].drop_indexes()
                mongo.create_indexes(self.db, name, specs)
        self.set_aside.clear()


def _finish(db: Database[Any], set_aside: dict[str, str]) -> None:
    for backup in set_aside.values():
        db.drop_collection(backup)
    db.drop_collection(IDS)
    db.drop_collection(RECORD)


def _batches(cursor: Iterable[dict[str, Any]]) -> Iterator[list[Any]]:
    """The ``_id`` values of ``cursor``'s documents, :data:`BATCH` at a time."""
    batch: list[Any] = []
    for document in cursor:
        batch.append(document["_id"])
        if len(batch) >= BATCH:
            yield batch
            batch = []
    if batch:
        yield batch


def _copy_ids(db: Database[Any], names: list[str]) -> None:
    """Keep every ``_id`` of the collections ``names`` in ``_seedkit_run.ids`` (replacing what was there)."""
    db.drop_collection(IDS)
    for name in names:
        for batch in _batches(db[name].find({}, {"_id": 1}, batch_size=BATCH)):
            db[IDS].insert_many([{"_id": {"c": name, "i": ident}} for ident in batch], ordered=False)


def _delete_new(db: Database[Any], name: str) -> None:
    """Delete the documents of collection ``name`` whose ``_id`` ``_seedkit_run.ids`` does not hold."""
    new: list[Any] = []
    for batch in _batches(db[name].find({}, {"_id": 1}, batch_size=BATCH)):
        keys = [{"c": name, "i": ident} for ident in batch]
        known = {repr(doc["_id"]["i"]) for doc in db[IDS].find({"_id": {"$in": keys}}, {"_id": 1})}
        new.extend(ident for ident in batch if repr(ident) not in known)
        while len(new) >= BATCH:
            db[name].delete_many({"_id": {"$in": new[:BATCH]}})
            del new[:BATCH]
    if new:
        db[name].delete_many({"_id": {"$in": new}})


def _undo(db: Database[Any], before: list[str], set_aside: dict[str, str], *, ids: bool) -> None:
    """Put ``db`` back: collections set aside come back, new ones are dropped, and with ``ids``
    the documents added to the others are deleted (a reset run has no ids: it writes only after
    setting every collection aside, so one not set aside yet was not written)."""
    names = set(db.list_collection_names())
    for name in live_collections(db):
        if name in set_aside and set_aside[name] in names:
            db.drop_collection(name)
        elif name in before:
            if ids:
                _delete_new(db, name)
        elif name not in set_aside:
            db.drop_collection(name)
    for name, backup in set_aside.items():
        if backup in names:
            db[backup].rename(name, dropTarget=True)
    db.drop_collection(IDS)
    db.drop_collection(RECORD)


def recover(db: Database[Any], bind: Engine | Connection | None) -> str | None:
    """Finish or undo what a killed run left in ``db``; returns ``"committed"``/``"undone"`` or None.

    With a record, PostgreSQL decides (``pg_xact_status`` of the recorded transaction): a
    committed transaction keeps the run's documents, anything else undoes them; a transaction
    still in progress is another live run, refused. Backups without a record (an older run)
    are restored.
    """
    record = db[RECORD].find_one({"_id": "run"})
    if record is None:
        leftovers = {
            name[len(BACKUP_PREFIX) :]: name
            for name in sorted(db.list_collection_names())
            if name.startswith(BACKUP_PREFIX)
        }
        if not leftovers:
            db.drop_collection(IDS)  # a run that died before its first write
            return None
        _undo(db, [], leftovers, ids=False)
        return "undone"
    status = _status(bind, str(record["xid"])) if bind is not None else None
    if status == "in progress":
        raise SeedkitError(
            f"another seeding run (PostgreSQL transaction {record['xid']}) is writing to Mongo database "
            f"{db.name!r}; wait for it to finish"
        )
    if status == "committed":
        _finish(db, dict(record.get("set_aside", {})))
        return "committed"
    before = record.get("before", [])
    if isinstance(before, dict):  # a record of an earlier seedkit: the ids are in it
        db.drop_collection(IDS)
        for name, kept in before.items():
            for start in range(0, len(kept), BATCH):
                keys = [{"_id": {"c": name, "i": ident}} for ident in kept[start : start + BATCH]]
                db[IDS].insert_many(keys, ordered=False)
    _undo(db, list(before), dict(record.get("set_aside", {})), ids=bool(record.get("ids", True)))
    return "undone"


def _status(bind: Engine | Connection, xid: str) -> str | None:
    """``pg_xact_status`` of ``xid``, asked on a connection of its own (``bind``'s stays untouched)."""
    engine = bind.engine if isinstance(bind, Connection) else bind
    with engine.connect() as conn:
        return conn.execute(sa.text("SELECT pg_xact_status(CAST(:x AS xid8))"), {"x": xid}).scalar()
