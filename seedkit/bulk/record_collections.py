"""One-to-many collections of row records: what a pending ORM object's back-populated collection holds.

On the per-object path, creating ``Product(organization=org)`` appends the product to
``org.products``: SQLAlchemy back-populates the reverse side of a many-to-one relationship
(``back_populates`` or ``backref``) on assignment. An organization created in the same run
holds, in its collection, the products created with it as parent, in creation order (a row
flushed before it is read is loaded in insertion order, the order of those appends). Records
(:class:`~seedkit.bulk.row_builder.RowRecord`) get the same: when a record is made with a
record as its many-to-one parent, it is appended to the parent's collection
(:func:`attach`), and reading the collection on the parent gives that list.

A collection is filled only once something has read it (:attr:`CollectionTracker.followed`;
most never are, and filling each costs every child an append and every parent a list): the first
read raises :class:`CollectionNotFollowed`, and the seeder builds that chunk again with it filled.
Records of models a ``ReuseOrCreate`` draws from, kept across chunks, have every one filled.

Only what can be shown to equal the per-object path is offered; reading any other collection
raises :class:`~seedkit.bulk.row_builder.RowPathUnsupported` (the seeder then takes the ORM
path, or stops): a many-to-many collection (association rows are not written), a one-to-many
relationship without a reverse side (the per-object path would load it from the database),
``order_by`` (the per-object path sorts on load, by PostgreSQL's collation), a collection
class other than ``list``, a one-to-one (``uselist=False``) reverse, a ``lazy`` strategy that
does not load a list (``dynamic``, ``write_only``, ``noload``, ``raise``).

Memory stays flat: after a chunk is written (:meth:`CollectionTracker.after_write`), the
collections of records the seeder does not keep are dropped (a later read raises), and those of
kept records (a ``ReuseOrCreate`` pool) are dropped once they hold more than
:data:`KEEP_COLLECTION` records, as the ORM path expires them, or more than :data:`KEEP_UNREAD`
while nothing has read them. A read of a dropped collection raises, and the seeder takes the
ORM path from the start of that chunk. A trial root (the first of a
volume) is undone with :meth:`CollectionTracker.rewind`.

Hand-written: SQLAlchemy's collections need instance state and a session, which the row path
exists to avoid.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any, NoReturn

import sqlalchemy as sa
from sqlalchemy.orm import RelationshipDirection, RelationshipProperty

from seedkit.errors import FactoryError
from seedkit.factories.alchemy import _REUSABLE_MODELS

__all__ = [
    "KEEP_COLLECTION",
    "CollectionNotFollowed",
    "CollectionTracker",
    "RecordList",
    "attach",
    "collection_descriptors",
    "reverse_collections",
    "tracking",
]

WRITTEN = "_seedkit_written"
"""Key, in a record's ``__dict__``, marking its row as handed to the writer (set by the seeder)."""

KEEP_COLLECTION = 1_000
"""A kept record's collection with more records than this is dropped after its chunk is written."""

KEEP_UNREAD = 100
"""The same for a collection no declaration has read yet (the reference ``organization.users``):
most are never read, and each keeps its records alive."""


class _Expired:
    """Stands, in a record's ``__dict__``, for a collection the row path no longer holds."""

    __slots__ = ("why",)

    def __init__(self, why: str) -> None:
        self.why = why


_WRITTEN = _Expired("its records were written in an earlier chunk and not kept")
_TOO_LARGE = _Expired(f"it held more than {KEEP_COLLECTION:,} records when its chunk was written")
_UNREAD = _Expired(f"it held more than {KEEP_UNREAD:,} records, none read yet, when its chunk was written")
_TWINNED = _Expired("an ORM-path volume reused this row as an ORM object, whose collection it is now")


def _unsupported(message: str) -> Exception:
    from seedkit.bulk.row_builder import RowPathUnsupported

    return RowPathUnsupported(message)


class CollectionNotFollowed(Exception):
    """A declaration read a collection the seeder does not follow yet (see :meth:`CollectionTracker.follow`).

    Raised out of the row being built; the seeder follows the collection from then on, undoes the
    chunk and builds it again (the same values: its streams are put back). Not a
    ``RowPathUnsupported``: nothing needs the ORM path.
    """

    def __init__(self, record_class: type, key: str, owner: str) -> None:
        super().__init__(f"{owner} was read before the row path followed it")
        self.record_class = record_class
        self.key = key


_NOT_FOLLOWED = _Expired("its children were made before the row path followed this collection")


class RecordList(list[Any]):
    """A record's collection: a list that refuses changes (on the per-object path a change would
    set or clear the child's parent, which the row path does not follow)."""

    __slots__ = ("owner", "read")

    owner: str
    """``Model.collection``, for messages."""
    read: bool
    """Whether a declaration has read it."""

    @staticmethod
    def empty(owner: str) -> RecordList:
        """An empty collection of ``owner`` (``Model.collection``).

        Made without a Python ``__init__`` (list's own runs): the row path makes one per parent
        with children, and with a Python ``__init__`` that took 0.6 us instead of 0.15 us.
        """
        made = RecordList()
        made.owner = owner
        made.read = False
        return made

    def _refuse(self, *args: Any, **kwargs: Any) -> NoReturn:
        raise _unsupported(f"{self.owner} was changed: the row path does not change collections")

    append = extend = insert = remove = pop = clear = sort = reverse = _refuse
    __setitem__ = __delitem__ = __iadd__ = __imul__ = _refuse


def _refusal(rel: RelationshipProperty[Any]) -> str | None:
    """Why the row path cannot offer ``rel`` (a one-to-many or many-to-many side), or None."""
    if rel.secondary is not None or rel.direction is RelationshipDirection.MANYTOMANY:
        return "a many-to-many collection (the row path writes no association rows)"
    if not rel._reverse_property:
        return "a one-to-many relationship without back_populates/backref (the per-object path loads it)"
    if not rel.uselist:
        return "a one-to-one (uselist=False) relationship"
    if rel.order_by:
        return "its order_by sorts it when loaded (by the database's collation)"
    if rel.collection_class not in (None, list):
        return f"its collection class is {getattr(rel.collection_class, '__name__', rel.collection_class)}, not list"
    if rel.lazy not in ("select", True, "joined", "selectin", "subquery", "immediate"):
        return f"it is lazy={rel.lazy!r}"
    return None


class _Collection:
    """A one-to-many attribute of a record class: the list :func:`attach` fills."""

    __slots__ = ("key", "owner", "refused")

    def __init__(self, model: type, key: str, refused: str | None) -> None:
        self.key = key
        self.owner = f"{model.__name__}.{key}"
        self.refused = refused

    def __get__(self, record: Any, owner: Any = None) -> Any:
        if record is None:
            return self
        if self.refused is not None:
            raise _unsupported(f"{self.owner} was read: the row path does not offer {self.refused}")
        values = record.__dict__
        found = values.get(self.key)
        tracker = _TRACKER.get()
        if found is None and tracker is not None and record._seedkit_model not in _REUSABLE_MODELS:
            since = tracker.followed.get((type(record), self.key))
            if since is None:  # its children were not appended: follow it, the chunk is made again
                raise CollectionNotFollowed(type(record), self.key, self.owner)
            if values.get(WRITTEN, since) < since:  # written before it was followed (a record kept by hand)
                raise _unsupported(f"{self.owner} was read: {_NOT_FOLLOWED.why}")
        if found is None:  # no child yet: an empty list, which children made later join
            found = values[self.key] = RecordList.empty(self.owner)
            if tracker is not None:
                tracker.parents.append((record, self.key))
        elif type(found) is _Expired:
            raise _unsupported(f"{self.owner} was read: the row path no longer holds it ({found.why})")
        found.read = True
        return found

    def __set__(self, record: Any, value: Any) -> None:
        raise _unsupported(f"{self.owner} was set: the row path does not set collections")


def collection_descriptors(model: type) -> dict[str, _Collection]:
    """The record class attributes of ``model``'s collections (one-to-many and many-to-many)."""
    mapper: Any = sa.inspect(model)
    return {
        rel.key: _Collection(model, rel.key, _refusal(rel))
        for rel in mapper.relationships
        if rel.direction is not RelationshipDirection.MANYTOONE
    }


def reverse_collections(model: type) -> tuple[tuple[str, str], ...]:
    """``(many-to-one key, the parent's collection key)`` for each parent collection the row path fills."""
    mapper: Any = sa.inspect(model)
    found = []
    for rel in mapper.relationships:
        if rel.direction is not RelationshipDirection.MANYTOONE:
            continue
        for reverse in rel._reverse_property:
            if reverse.direction is RelationshipDirection.ONETOMANY and _refusal(reverse) is None:
                found.append((rel.key, reverse.key))
    return tuple(found)


# -- following what happens to collections while rows are built -------------------------------
class CollectionTracker:
    """What the row path changed in collections since the last write (one per bulk seeder).

    ``parents``: ``(record, collection key)`` of the collections made since the last write
    (so a write looks at those, not at every attribute of their records); ``orm_parents``: ORM
    objects whose collection the per-object path would have appended to (their loaded
    collection is expired after the write); a journal of changed lists while a trial runs.
    """

    def __init__(self) -> None:
        self.parents: list[tuple[Any, str]] = []
        self.orm_parents: dict[tuple[int, str], tuple[Any, str]] = {}
        self._journal: dict[int, tuple[list[Any], list[Any]]] | None = None
        self.followed: dict[tuple[type, str], int] = {}
        """``(record class, collection key)`` of the collections that records' children join, each
        with the :attr:`generation` it was followed in: only those some declaration has read
        (:class:`CollectionNotFollowed`), as most are never read and filling each would cost every
        child an append and every parent a list. Records of models a ``ReuseOrCreate`` draws
        from (kept across chunks and volumes) have every collection filled."""
        self.generation = 0
        """How many collections are followed; a written record holds the generation it was written in."""

    def follow(self, record_class: type, key: str) -> None:
        """Fill collection ``key`` of ``record_class`` records from now on (the seeder builds the
        chunk that read it again)."""
        self.generation += 1
        self.followed[(record_class, key)] = self.generation

    # -- trial -------------------------------------------------------------------------
    def begin_trial(self) -> None:
        """Start noting every list changed, so that :meth:`rewind` can put it back."""
        self._journal = {}

    def end_trial(self) -> None:
        """Stop noting changes (the trial is kept)."""
        self._journal = None

    def rewind(self) -> None:
        """Put every list changed since :meth:`begin_trial` back as it was, and stop noting."""
        journal, self._journal = self._journal or {}, None
        for changed, saved in journal.values():
            list.__init__(changed, saved)

    def note(self, changed: list[Any]) -> None:
        """Called before ``changed`` (a collection or a pool) is changed."""
        journal = self._journal
        if journal is not None and id(changed) not in journal:
            journal[id(changed)] = (changed, list(changed))

    # -- after a write -----------------------------------------------------------------
    def after_write(self, kept: list[Any]) -> list[tuple[Any, str]]:
        """Drop the collections the row path no longer needs (see the module doc); returns the
        ``(ORM object, collection key)`` pairs whose loaded collection must be expired.

        ``kept``: the records kept for later calls (the reuse pools), the only ones whose
        collections stay, up to :data:`KEEP_COLLECTION` records each.
        """
        parents, self.parents = self.parents, []
        if kept:
            keep = {id(record) for record in kept}
            parents = [pair for pair in parents if id(pair[0]) not in keep]
        for parent, key in parents:
            values = parent.__dict__
            if type(values.get(key)) is RecordList:
                values[key] = _WRITTEN
        for record in kept:
            values = record.__dict__
            for key, value in values.items():
                if type(value) is RecordList:
                    if len(value) > KEEP_COLLECTION:
                        values[key] = _TOO_LARGE
                    elif len(value) > KEEP_UNREAD and not value.read:
                        values[key] = _UNREAD
        orm, self.orm_parents = list(self.orm_parents.values()), {}
        return orm


_TRACKER: ContextVar[CollectionTracker | None] = ContextVar("seedkit_collection_tracker", default=None)


@contextmanager
def tracking(tracker: CollectionTracker) -> Iterator[None]:
    """Report collection changes made in the block to ``tracker``."""
    token = _TRACKER.set(tracker)
    try:
        yield
    finally:
        _TRACKER.reset(token)


def current_tracker() -> CollectionTracker | None:
    """The tracker of the rows being built, if a seeder follows them."""
    return _TRACKER.get()


def attach(record: Any, reverses: tuple[tuple[str, str], ...]) -> None:
    """Append a new ``record`` to the collection of each record it has as many-to-one parent.

    ``reverses``: :func:`reverse_collections` of its model.
    """
    values = record.__dict__
    tracker = _TRACKER.get()
    journal = tracker._journal if tracker is not None else None
    followed = tracker.followed if tracker is not None else None
    for parent_key, collection_key in reverses:
        parent = values.get(parent_key)
        if parent is None:
            continue
        if type(parent) in _RECORD_CLASSES:  # the usual case, as _append does it without a call
            if (
                followed is not None
                and (type(parent), collection_key) not in followed
                and parent._seedkit_model not in _REUSABLE_MODELS
            ):
                continue  # nothing has read it (CollectionTracker.followed)
            parent_values = parent.__dict__
            found = parent_values.get(collection_key)
            if type(found) is RecordList and (journal is None or WRITTEN not in parent_values):
                list.append(found, record)
                continue
        _append(parent, collection_key, record, tracker)


_RECORD_CLASSES: set[type] = set()
"""The record classes :func:`_append` has seen (types with ``_seedkit_model``)."""

_OWNERS: dict[tuple[type, str], str] = {}
"""``Model.collection`` by (record class, collection key), for :meth:`RecordList.empty`."""


def _append(parent: Any, key: str, record: Any, tracker: CollectionTracker | None) -> None:
    parent_values = getattr(parent, "__dict__", None)
    if parent_values is None or not hasattr(type(parent), "_seedkit_model"):
        if tracker is not None and hasattr(parent, "_sa_instance_state"):
            tracker.orm_parents[(id(parent), key)] = (parent, key)
        return
    _RECORD_CLASSES.add(type(parent))
    if (
        tracker is not None
        and (type(parent), key) not in tracker.followed
        and parent._seedkit_model not in _REUSABLE_MODELS
    ):
        return  # nothing has read this collection: not filled (CollectionTracker.followed)
    found = parent_values.get(key)
    if found is None:
        owner = _OWNERS.get((type(parent), key))
        if owner is None:
            owner = _OWNERS[(type(parent), key)] = f"{type(parent)._seedkit_model.__name__}.{key}"
        found = parent_values[key] = RecordList.empty(owner)
        if tracker is not None:
            tracker.parents.append((parent, key))
    elif type(found) is _Expired:
        return
    # A chunk's own records leave with it when it is undone: only older ones' lists are noted.
    if tracker is not None and tracker._journal is not None and WRITTEN in parent_values:
        tracker.note(found)
    list.append(found, record)


def detach(record: Any, parent: Any, key: str) -> None:
    """Remove ``record`` from ``parent``'s collection ``key`` (its parent was set to another)."""
    if not hasattr(type(parent), "_seedkit_model"):
        return
    found = parent.__dict__.get(key)
    if type(found) is RecordList:
        tracker = _TRACKER.get()
        if tracker is not None:
            tracker.note(found)
        for i, item in enumerate(found):
            if item is record:
                list.__delitem__(found, i)
                break


def append(record: Any, parent: Any, key: str) -> None:
    """Append ``record`` to ``parent``'s collection ``key`` (its parent was set to ``parent``)."""
    _append(parent, key, record, _TRACKER.get())


def expire_twinned(record: Any) -> None:
    """``record`` was handed to the ORM path as an ORM object: its collections stop here."""
    values = record.__dict__
    for key, value in list(values.items()):
        if type(value) is RecordList:
            values[key] = _TWINNED


def refuse_written(record: Any, name: str) -> FactoryError:
    """The error for setting ``name`` on a record whose row is written."""
    model = type(record)._seedkit_model
    return FactoryError(
        f"bulk seeding: {model.__name__}.{name} was set after its row was written; the bulk path only "
        "inserts (create this volume without bulk)"
    )
