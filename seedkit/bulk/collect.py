"""Stand-ins the factories write to during bulk seeding, so that nothing is written per object.

:class:`CollectingSession` is a real SQLAlchemy ``Session`` whose ``flush()`` does nothing:
factories ``add()`` their objects as usual and those stay *pending*, with every ORM behaviour
factories may rely on (relationships, back-populated collections, lazy loads of rows already
written, ``session.info``), until the bulk seeder writes them with COPY.

:class:`CollectingDatabase` looks like a pymongo ``Database`` to Mongo factories: ``db[name]``
returns a collection whose ``insert_one``/``insert_many`` only keep the documents.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any

from pymongo.database import Database
from sqlalchemy import event
from sqlalchemy.orm import Session


class CollectingSession(Session):
    """A session that keeps added objects pending: ``flush()`` and ``commit()`` are no-ops (the
    seeder writes; the caller commits the connection's transaction)."""

    on_flush: Callable[[list[Any]], None] | None = None
    """Given the objects that joined the session (added, or by a cascade) since the last
    ``flush()``, in that order: the seeder fills in them what a flush would (keys the database
    generates, foreign keys from parents, Python defaults), so that later reads see those values."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Objects become pending by add() and by cascades (``order.items.append(item)``): a flush
        # writes both, in the order they joined the session.
        event.listen(self, "transient_to_pending", self._joined)

    def _joined(self, session: Session, instance: object) -> None:
        if self.on_flush is not None:
            self.__dict__.setdefault("_seedkit_added", []).append(instance)

    def flush(self, objects: Sequence[Any] | None = None) -> None:
        """Write nothing (the bulk seeder writes pending objects with COPY, chunk by chunk); hand
        the objects added since the last call to :attr:`on_flush`."""
        added = self.__dict__.pop("_seedkit_added", None)
        if added and self.on_flush is not None:
            self.on_flush(added)

    def commit(self) -> None:
        """Do nothing: a factory with ``sqlalchemy_session_persistence = "commit"`` must not end
        the run's transaction (committing is the caller's decision, as for every bulk write)."""
        return None


class _InsertResult:
    def __init__(self, ids: list[Any]) -> None:
        self.inserted_ids = ids
        self.inserted_id = ids[0] if ids else None
        self.acknowledged = True


class CollectingCollection:
    """Keeps inserted documents for a later unordered ``insert_many``."""

    def __init__(self, database: CollectingDatabase, name: str) -> None:
        self.database = database
        self.name = name
        self.full_name = f"{database.name}.{name}"
        self.documents: list[dict[str, Any]] = []

    def insert_one(self, document: dict[str, Any], *args: Any, **kwargs: Any) -> _InsertResult:
        self.documents.append(document)
        return _InsertResult([document.get("_id")])

    def insert_many(self, documents: Iterable[dict[str, Any]], *args: Any, **kwargs: Any) -> _InsertResult:
        added = list(documents)
        self.documents.extend(added)
        return _InsertResult([doc.get("_id") for doc in added])

    def __getattr__(self, name: str) -> Any:
        # Reads and other writes go to the real collection (they see what was written so far).
        return getattr(self.database.target[self.name], name)


class CollectingDatabase:
    """A pymongo-``Database`` look-alike whose collections collect inserted documents.

    Reads and other operations go to ``target``, the real database (``None``: collect only).
    """

    def __init__(self, target: Database[Any] | None) -> None:
        self._target = target
        self.name = target.name if target is not None else "collected"
        self.client = target.client if target is not None else None
        self._collections: dict[str, CollectingCollection] = {}

    @property
    def target(self) -> Database[Any]:
        """The real database (for reads), if any."""
        if self._target is None:
            raise AttributeError("documents are only collected here; there is no database to read from")
        return self._target

    def __getitem__(self, name: str) -> CollectingCollection:
        found = self._collections.get(name)
        if found is None:
            found = self._collections[name] = CollectingCollection(self, name)
        return found

    def get_collection(self, name: str, *args: Any, **kwargs: Any) -> CollectingCollection:
        return self[name]

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        return self[name]

    def take(self) -> dict[str, list[dict[str, Any]]]:
        """The documents collected so far, per collection, and forget them."""
        taken = {name: c.documents for name, c in self._collections.items() if c.documents}
        for collection in self._collections.values():
            collection.documents = []
        return taken
