"""Putting Mongo back as it was when a seeding run fails.

PostgreSQL needs no help: ``TRUNCATE`` and inserts are transactional, so the seeding's
transaction undoes them on rollback. MongoDB has no such transaction on a standalone server,
so :class:`MongoRun` keeps what a rollback needs: a reset sets each collection aside under a
backup name (``rename``, instant and index-preserving) and recreates it empty with the same
indexes; :meth:`MongoRun.rollback` drops what the run wrote and renames the backups back;
:meth:`MongoRun.commit` drops the backups.
"""

from __future__ import annotations

from typing import Any

from pymongo.database import Database

from seedkit.stores import mongo

BACKUP_PREFIX = "_seedkit_reset."


def live_collections(db: Database[Any]) -> list[str]:
    """The collections seedkit manages: not ``system.*``, not reset backups."""
    return [name for name in mongo.user_collections(db) if not name.startswith(BACKUP_PREFIX)]


class MongoRun:
    """What one seeding run did to a Mongo database, so that it can be undone.

    Created before the run writes anything; it remembers each collection's document ids.
    Backups left by a run that was killed mid-way are restored first: that run's PostgreSQL
    transaction was rolled back, so the backups are the data that belongs with the database.
    """

    def __init__(self, db: Database[Any]) -> None:
        self.db = db
        self._restore_leftovers()
        self.before: dict[str, list[Any]] = {
            name: [doc["_id"] for doc in db[name].find({}, {"_id": 1})] for name in live_collections(db)
        }
        self.set_aside: dict[str, str] = {}

    def clear(self) -> None:
        """Empty every collection, keeping it and its indexes; reversible until :meth:`commit`."""
        for name in self.before:
            backup = BACKUP_PREFIX + name
            self.db[name].rename(backup)
            self.set_aside[name] = backup
            self.db.create_collection(name)
            mongo.create_indexes(self.db, name, mongo.index_specs(self.db, backup))

    def commit(self) -> None:
        """Keep the run's writes: drop the backups of cleared collections."""
        for backup in self.set_aside.values():
            self.db.drop_collection(backup)
        self.set_aside.clear()

    def rollback(self) -> None:
        """Undo the run: drop new collections, delete new documents, restore cleared collections."""
        for name in live_collections(self.db):
            if name in self.set_aside:
                self.db.drop_collection(name)
            elif name in self.before:
                self.db[name].delete_many({"_id": {"$nin": self.before[name]}})
            else:
                self.db.drop_collection(name)
        for name, backup in self.set_aside.items():
            self.db[backup].rename(name)
        self.set_aside.clear()

    def _restore_leftovers(self) -> None:
        for backup in sorted(self.db.list_collection_names()):
            if backup.startswith(BACKUP_PREFIX):
                name = backup[len(BACKUP_PREFIX) :]
                self.db.drop_collection(name)
                self.db[backup].rename(name)
