"""The base of seedkit's PostgreSQL factories: factory_boy's SQLAlchemy factory, made safe.

Compared with ``factory.alchemy.SQLAlchemyModelFactory``, :class:`SQLAlchemyFactory`:

- writes through the session bound with ``seedkit.bind(session=...)`` (or a ``_session=``
  argument, or ``Meta.sqlalchemy_session``), so factories need no global session; an explicit
  ``Meta.sqlalchemy_session = None`` opts a factory out of the bound session;
- flushes each object by default (``Meta.sqlalchemy_session_persistence = "commit"`` commits);
- runs ``Meta.sqlalchemy_get_or_create`` inside a SAVEPOINT, so a conflicting insert never
  rolls back the caller's transaction;
- starts sequences at the active partition's ``sequence_start``;
- creates through an ``AsyncSession`` with ``await create_async()`` / ``create_batch_async()``;
- uses an explicitly passed foreign key (``organization_id=...``) instead of building a
  second related object beside it, and rejects the attributes the model's constructor would
  refuse with a readable :class:`~seedkit.factories.errors.UnknownAttributeError`.

Its errors are factory_boy's types too (see :mod:`seedkit.factories.errors`), and every
remaining difference from factory_boy is listed in docs/migrating-from-factory-boy.md.

:class:`ReuseOrCreate` is a ``SubFactory`` that prefers an object the same session already
created, so volume seeding spreads many children over a few parents.
"""

from __future__ import annotations

import difflib
import functools
import inspect
import weakref
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import datetime
from typing import Any

import factory
import factory.random
import sqlalchemy as sa
from factory import enums
from factory.alchemy import SQLAlchemyModelFactory, SQLAlchemyOptions
from factory.declarations import SKIP, BaseDeclaration
from sqlalchemy import event
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import (
    Mapper,
    RelationshipDirection,
    Session,
    configure_mappers,
    decl_api,
    scoped_session,
)
from sqlalchemy.orm.mapper import _event_on_init

from seedkit.core.clock import column_time
from seedkit.core.determinism import current, deterministic_active, ensure_active
from seedkit.core.volatile import column_injector
from seedkit.factories.asynchronous import create_async, create_batch_async, sync_session_of
from seedkit.factories.binding import bound_session, current_session, overriding_session
from seedkit.factories.builder import generate, lean_building
from seedkit.factories.errors import FactoryError, FactoryIntegrityError, NotBoundError, UnknownAttributeError

__all__ = [
    "ReuseOrCreate",
    "SQLAlchemyFactory",
    "convert_pooled_records",
    "row_pool",
    "row_pools",
    "session_for",
]

_explicit_session: ContextVar[Session | None] = ContextVar("seedkit_explicit_session", default=None)
_passed_names: ContextVar[frozenset[str]] = ContextVar("seedkit_passed_names", default=frozenset())
_POOL_KEY = "seedkit.reusable"
_REUSABLE_MODELS: set[type] = set()


def session_for(factory_class: type[SQLAlchemyModelFactory]) -> Session:
    """The session ``factory_class`` writes to.

    In order: a session bound with ``seedkit.bind(session=..., override=True)`` (the bulk path's);
    a ``_session=`` argument of the current call; ``Meta.sqlalchemy_session_factory()``
    (stored in ``_meta.sqlalchemy_session``, as factory_boy does); ``Meta.sqlalchemy_session``;
    the session bound with :func:`seedkit.bind`, unless the factory opted out of it with an
    explicit ``Meta.sqlalchemy_session = None``. An ``AsyncSession`` is written through its
    ``sync_session`` inside ``create_async``; anywhere else it is refused with a
    :class:`FactoryError` saying to use ``create_async``.

    Raises:
        NotBoundError: no session (a ``RuntimeError``, as factory_boy's).
    """
    session = _chosen_session(factory_class)
    return sync_session_of(session if session is not None else current_session(), factory_class.__name__)


def _chosen_session(factory_class: type[SQLAlchemyModelFactory]) -> Any:
    """What :func:`session_for` picks, as given (maybe an ``AsyncSession``), or None for the bound one.

    Raises:
        NotBoundError: the factory opted out of the bound session and has none of its own.
    """
    overriding = overriding_session()
    if overriding is not None:
        return overriding
    explicit = _explicit_session.get()
    if explicit is not None:
        return _unscoped(explicit)
    meta = _options(factory_class)
    if meta.sqlalchemy_session_factory is not None:
        meta.sqlalchemy_session = meta.sqlalchemy_session_factory()
    if meta.sqlalchemy_session is not None:
        return _unscoped(meta.sqlalchemy_session)
    if not getattr(meta, "uses_bound_session", True):
        raise NotBoundError(
            f"{factory_class.__name__}: no session provided: its Meta.sqlalchemy_session is None, which "
            "opts it out of the session bound with seedkit.bind; pass _session=... or set a session"
        )
    return bound_session()


def _unscoped(session: Any) -> Session:
    """The thread's session of a ``scoped_session`` (factory_boy users keep one in ``Meta``), else ``session``.

    Object states name the real session, not the proxy: the reuse pools compare them.
    """
    return session() if isinstance(session, scoped_session) else session


class SQLAlchemyFactoryOptions(SQLAlchemyOptions):
    """factory_boy's SQLAlchemy options, plus whether the factory writes through the bound session.

    Attributes:
        uses_bound_session: ``False`` when the factory's ``class Meta`` says
            ``sqlalchemy_session = None`` explicitly (without a session factory), as factory_boy
            users do to get a factory that only builds; inherited otherwise (default ``True``).
    """

    uses_bound_session: bool

    def _fill_from_meta(self, meta: Any, base_meta: Any) -> None:
        super()._fill_from_meta(meta, base_meta)
        if meta is not None and hasattr(meta, "sqlalchemy_session"):
            self.uses_bound_session = not (
                meta.sqlalchemy_session is None and getattr(meta, "sqlalchemy_session_factory", None) is None
            )
        else:
            self.uses_bound_session = getattr(base_meta, "uses_bound_session", True)


def _options(factory_class: type) -> Any:
    """The factory's ``_meta`` (factory_boy types it without the SQLAlchemy options)."""
    return factory_class._meta  # type: ignore[attr-defined]


@contextmanager
def _using(session: Session | None) -> Iterator[None]:
    if session is None:
        yield
        return
    token = _explicit_session.set(session)
    try:
        yield
    finally:
        _explicit_session.reset(token)


def _mapper(model: type) -> Mapper[Any] | None:
    return sa.inspect(model, raiseerr=False)


@functools.cache
def _model_attributes(model: type) -> frozenset[str]:
    """Names a model's constructor accepts: columns, relationships, hybrids..."""
    mapper = _mapper(model)
    return frozenset(mapper.all_orm_descriptors.keys()) if mapper is not None else frozenset()


@functools.cache
def _foreign_keys(model: type) -> tuple[tuple[str, type, tuple[tuple[str, str], ...]], ...]:
    """Per many-to-one relationship: its name, target class and (local key, target key) pairs."""
    mapper = _mapper(model)
    if mapper is None:
        return ()
    return tuple(
        (
            rel.key,
            rel.mapper.class_,
            tuple(
                (mapper.get_property_by_column(local).key, rel.mapper.get_property_by_column(remote).key)
                for local, remote in rel.local_remote_pairs
            ),
        )
        for rel in mapper.relationships
        if rel.direction is RelationshipDirection.MANYTOONE
    )


class SQLAlchemyFactory(SQLAlchemyModelFactory):
    """Abstract base of seedkit factories for SQLAlchemy models (see the module docstring)."""

    _options_class = SQLAlchemyFactoryOptions

    class Meta:
        abstract = True
        sqlalchemy_session_persistence = "flush"

    @classmethod
    def _setup_next_sequence(cls) -> int:
        return current().sequence_start

    @classmethod
    async def create_async(cls, **kwargs: Any) -> Any:
        """``create()`` through an ``AsyncSession`` (bound, ``Meta.sqlalchemy_session`` or ``_session=``).

        The same objects, IDs and timestamps as ``create()``: the call runs in
        ``AsyncSession.run_sync`` (see :mod:`seedkit.factories.asynchronous`).
        """
        return await create_async(cls, kwargs)

    @classmethod
    async def create_batch_async(cls, size: int, **kwargs: Any) -> list[Any]:
        """``create_batch(size, ...)`` through an ``AsyncSession``, like :meth:`create_async`."""
        return await create_batch_async(cls, size, kwargs)

    @classmethod
    def _generate(cls, strategy: str, params: dict[str, Any]) -> Any:
        session = params.pop("_session", None)
        if session is None and deterministic_active():
            # A call inside a deterministic block (every nested call: hooks, bulk roots) has nothing
            # to enter: both context managers below would be no-ops, at ~1 us each per call.
            return cls._generate_in_context(strategy, params)
        with ensure_active(), _using(session):
            return cls._generate_in_context(strategy, params)

    @classmethod
    def _generate_in_context(cls, strategy: str, params: dict[str, Any]) -> Any:
        """``_generate`` once the deterministic context and the passed session are in place."""
        if strategy == enums.CREATE_STRATEGY:
            chosen = _chosen_session(cls)
            if chosen is not None:  # refuse an AsyncSession outside create_async, naming this factory
                sync_session_of(chosen, cls.__name__)
        cls._use_passed_foreign_keys(strategy, params)
        if strategy == enums.CREATE_STRATEGY and (existing := cls._existing_row(params)) is not None:
            return existing
        token = _passed_names.set(frozenset(params))  # get_or_create's fallback lookup reads them
        try:
            if lean_building():
                return generate(cls, strategy, params)
            return super()._generate(strategy, params)
        finally:
            _passed_names.reset(token)

    @classmethod
    def _existing_row(cls, params: dict[str, Any]) -> Any:
        """With ``sqlalchemy_get_or_create`` fields all passed as values: the row they match, or None.

        Looked up before any declaration runs, so that a found row costs no write at all
        (factory_boy would build the SubFactory parents first and leave them orphaned). Lookup
        fields that come from declarations are matched in ``_create``, after building.
        """
        fields = tuple(_options(cls).sqlalchemy_get_or_create)
        if not fields or any(f not in params or isinstance(params[f], BaseDeclaration) for f in fields):
            return None
        lookup = sa.select(cls._meta.model).filter_by(**{f: params[f] for f in fields})
        return session_for(cls).scalars(lookup).one_or_none()

    @classmethod
    def _use_passed_foreign_keys(cls, strategy: str, params: dict[str, Any]) -> None:
        """``organization_id=x`` given without ``organization``: use row x, build no new parent.

        factory_boy would still run the ``organization`` SubFactory and the new object would
        silently win over the passed key (factory_boy issues #463, #571). ``build()`` keeps just
        the key and never reads the database; a ``None`` key means no parent. With ``create``,
        a key that matches no row is refused at once when the object is flushed or committed
        (the database would refuse it there too), and left to the database when
        ``sqlalchemy_session_persistence`` is ``None``.

        Raises:
            FactoryIntegrityError: the key matches no row (an ``IntegrityError``).
        """
        for relation, target_class, pairs in _foreign_keys(cls._meta.model):
            if relation in params or not pairs or any(local not in params for local, _ in pairs):
                continue
            if relation not in cls._meta.declarations:
                continue  # nothing would build a parent: the key alone is fine
            keys = [params[local] for local, _ in pairs]
            if any(_is_declaration(key) for key in keys):
                continue  # a declaration, evaluated with the others, as factory_boy does
            if strategy != enums.CREATE_STRATEGY or any(key is None for key in keys):
                params[relation] = SKIP  # keep just the key (None: no parent)
                continue
            criteria = {remote: key for (_, remote), key in zip(pairs, keys, strict=True)}
            target = _row(session_for(cls), target_class, criteria)
            if target is not None:
                params[relation] = target
            elif _options(cls).sqlalchemy_session_persistence is None:
                params[relation] = SKIP  # not flushed here: the database checks the key later
            else:
                given = ", ".join(f"{local}={params[local]!r}" for local, _ in pairs)
                raise FactoryIntegrityError(f"{cls.__name__}: {given} matches no {target_class.__name__} row")

    @classmethod
    def _check_attributes(cls, model_class: type, kwargs: Mapping[str, Any]) -> None:
        """Refuse, readably, the keywords the model's constructor would refuse, and only those.

        Raises:
            UnknownAttributeError: naming the factory, the attribute and the valid names (a
                ``TypeError``, like the constructor's own error).
        """
        unknown = _refused_keywords(model_class, kwargs)
        if not unknown:
            return
        columns = _model_attributes(model_class)
        declared = {name for name in cls._meta.declarations if not name.startswith("_")}
        name = unknown[0]
        if name in declared:  # the factory's own declaration, not the caller's typo
            raise UnknownAttributeError(
                f"{cls.__name__} declares {name!r}, but {model_class.__name__} has no column or "
                f"relationship {name!r}. Its columns and relationships: {', '.join(sorted(columns))}"
            )
        valid = sorted(columns | declared | set(cls._meta.parameters))
        hint = difflib.get_close_matches(name, valid, n=1)
        did_you_mean = f" (did you mean {hint[0]!r}?)" if hint else ""
        raise UnknownAttributeError(
            f"{cls.__name__}: unknown attribute {name!r}{did_you_mean}: it is not a declaration, a "
            f"parameter, or a column/relationship of {model_class.__name__}. Valid names: {', '.join(valid)}"
        )

    @classmethod
    def _build(cls, model_class: type, *args: Any, **kwargs: Any) -> Any:
        cls._check_attributes(model_class, kwargs)
        return _new_instance(model_class, args, kwargs)

    @classmethod
    def _create(cls, model_class: type, *args: Any, **kwargs: Any) -> Any:
        cls._check_attributes(model_class, kwargs)
        session = session_for(cls)
        if _options(cls).sqlalchemy_get_or_create:
            return cls._get_or_create(model_class, session, args, kwargs)
        return cls._save(model_class, session, args, kwargs)

    @classmethod
    def _save(cls, model_class: type, session: Session, args: Any, kwargs: dict[str, Any]) -> Any:
        obj = _new_instance(model_class, args, kwargs)
        _fill_volatile(obj)
        session.add(obj)
        cls._persist(session)
        _remember(session, obj)
        return obj

    @classmethod
    def _persist(cls, session: Session) -> None:
        persistence = _options(cls).sqlalchemy_session_persistence
        if persistence == "flush":
            session.flush()
        elif persistence == "commit":
            session.commit()

    @classmethod
    def _get_or_create(cls, model_class: type, session: Session, args: Any, kwargs: dict[str, Any]) -> Any:
        """The row matching the ``sqlalchemy_get_or_create`` fields, else a new one.

        As in factory_boy, the row is looked up by all those fields; when the insert conflicts,
        by the fields the caller passed (``slug=`` alone finds the row of that slug whatever
        its generated ``text``), or by all of them when the caller passed none (a concurrent
        insert of the same values). The insert runs in a SAVEPOINT: a conflict rolls back only
        the savepoint, never the caller's earlier writes in the transaction (factory_boy calls
        ``session.rollback()``).

        Raises:
            FactoryError: a field has no value (factory_boy's ``FactoryError``).
            FactoryIntegrityError: the insert conflicts and no row matches (an ``IntegrityError``,
                as factory_boy's, with the database's reason).
            sqlalchemy.orm.exc.MultipleResultsFound: several rows match, as in factory_boy.
        """
        fields: tuple[str, ...] = tuple(_options(cls).sqlalchemy_get_or_create)
        missing = [f for f in fields if f not in kwargs]
        if missing:
            raise FactoryError(f"{cls.__name__}: sqlalchemy_get_or_create field {missing[0]!r} has no value")
        keys = {field: kwargs[field] for field in fields}
        found = session.scalars(sa.select(model_class).filter_by(**keys)).one_or_none()
        if found is not None:
            return found
        savepoint = session.begin_nested()  # flushes pending work first, outside the savepoint
        obj = model_class(*args, **kwargs)
        _fill_volatile(obj)
        try:
            with savepoint:
                session.add(obj)
        except IntegrityError as exc:
            _forget_in_parents(session, obj)
            passed = _passed_names.get()
            retry = {field: value for field, value in keys.items() if field in passed} or keys
            found = session.scalars(sa.select(model_class).filter_by(**retry)).one_or_none()
            if found is None:
                reason = str(exc.orig).strip().splitlines()[0] if exc.orig else str(exc)
                raise FactoryIntegrityError(
                    f"{cls.__name__}: cannot insert {model_class.__name__}, and no row matches {retry}: "
                    + reason,
                    statement=exc.statement,
                    params=exc.params,
                    orig=exc.orig,
                ) from exc
            return found
        cls._persist(session)
        _remember(session, obj)
        return obj


def _is_declaration(value: Any) -> bool:
    """Whether ``value`` is a factory_boy declaration (evaluated by the builder), not a value."""
    return getattr(value, "FACTORY_BUILDER_PHASE", None) is not None


def _row(session: Session, model: type, criteria: dict[str, Any]) -> Any:
    """The row of ``model`` matching ``criteria``, from the identity map when they are its primary key."""
    mapper = _mapper(model)
    assert mapper is not None
    primary_key = [mapper.get_property_by_column(column).key for column in mapper.primary_key]
    if sorted(primary_key) == sorted(criteria):
        return session.get(model, tuple(criteria[key] for key in primary_key))
    return session.scalars(sa.select(model).filter_by(**criteria)).one_or_none()


def _refused_keywords(model: type, kwargs: Mapping[str, Any]) -> list[str]:
    """The keywords ``model(**kwargs)`` would refuse with a ``TypeError``, without calling it.

    SQLAlchemy's declarative constructor accepts any name the class has (columns,
    relationships, hybrids, plain ``@property`` setters...); another constructor accepts the
    keywords of its signature. Models that are not mapped are not checked.
    """
    mapper = _mapper(model)
    if mapper is None:
        return []
    constructor = mapper.class_manager.original_init
    if constructor is _DECLARATIVE_CONSTRUCTOR:
        return [name for name in kwargs if not hasattr(model, name)]
    keywords = _constructor_keywords(constructor)
    return [] if keywords is None else [name for name in kwargs if name not in keywords]


def _constructor_keywords(constructor: Any) -> frozenset[str] | None:
    """The keyword names ``constructor`` takes; ``None`` when it takes ``**kwargs`` or is opaque."""
    try:
        parameters = inspect.signature(constructor).parameters.values()
    except (TypeError, ValueError):
        return None
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters):
        return None
    takes = (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)
    return frozenset(p.name for p in parameters if p.kind in takes)


@functools.cache
def _plain_columns(model: type) -> frozenset[str] | None:
    """Column attributes of ``model`` that may be set without attribute events, if it is plain.

    A model is plain when it keeps the declarative constructor and has no validators and no
    ``init`` listeners; a column attribute qualifies when nothing listens to its sets. ``None``
    when the model is not plain (its constructor must run). Decided once per model, the first
    time it is built in the bulk path: register listeners and validators before seeding.
    """
    mapper = _mapper(model)
    if mapper is None:
        return None
    configure_mappers()
    manager = mapper.class_manager
    if (
        manager.original_init is not _DECLARATIVE_CONSTRUCTOR
        or mapper.validators
        or mapper.polymorphic_on is not None
        or list(manager.dispatch.init) != [_MAPPER_INIT_EVENT]  # SQLAlchemy's own: configures
        or manager.dispatch.init_failure
    ):
        return None
    return frozenset(prop.key for prop in mapper.column_attrs if not manager[prop.key].impl.dispatch.set)


@functools.cache
def _volatile_columns(model: type) -> tuple[tuple[str, Callable[[], Any]], ...]:
    """Attributes whose column default reads the wall clock or a random source, each with the
    callable giving the injected value instead (see :mod:`seedkit.core.volatile`)."""
    mapper = _mapper(model)
    if mapper is None:
        return ()
    found = []
    for prop in mapper.column_attrs:
        column = prop.columns[0]
        if isinstance(column, sa.Column):
            entity = f"{column.table.name}.{column.name}"
            make = column_injector(column, entity)
            if make is not None:
                found.append((prop.key, make))
    return tuple(found)


@functools.cache
def _datetime_columns(model: type) -> tuple[tuple[str, bool], ...]:
    """``(attribute, timezone)`` of the model's ``DateTime`` columns."""
    mapper = _mapper(model)
    if mapper is None:
        return ()
    return tuple(
        (prop.key, bool(prop.columns[0].type.timezone))
        for prop in mapper.column_attrs
        if isinstance(prop.columns[0], sa.Column) and isinstance(prop.columns[0].type, sa.DateTime)
    )


def _fill_volatile(obj: Any) -> None:
    """Set the attributes :func:`_volatile_columns` names that the factory left unset, and give
    every datetime the column's form (:func:`~seedkit.core.clock.column_time`: naive means UTC)."""
    model: type = type(obj)
    volatile = _volatile_columns(model)
    times = _datetime_columns(model)
    if not volatile and not times:
        return
    values = obj.__dict__
    plain = _plain_columns(model) if lean_building() else None

    def put(key: str, value: Any) -> None:
        if plain is not None and key in plain:
            values[key] = value
        else:
            setattr(obj, key, value)

    for key, make in volatile:
        if key not in values:
            put(key, make())
    for key, timezone in times:
        value = values.get(key)
        if isinstance(value, datetime):
            fixed = column_time(value, timezone)
            if fixed is not value:
                put(key, fixed)


_DECLARATIVE_CONSTRUCTOR = decl_api._declarative_constructor
_MAPPER_INIT_EVENT = _event_on_init


def _new_instance(model_class: type, args: Any, kwargs: dict[str, Any]) -> Any:
    """``model_class(*args, **kwargs)``; when building lean, plain columns skip attribute events.

    The events of a column set on a new object only record that it changed (what a flush
    reads); the bulk path reads the values themselves. Relationships keep their events
    (back-populated collections, cascades), as every attribute of a model that is not plain.
    """
    plain = _plain_columns(model_class) if lean_building() and not args else None
    if plain is None:
        return model_class(*args, **kwargs)
    obj: Any = sa.inspect(model_class).class_manager.new_instance()
    values = obj.__dict__
    for key, value in kwargs.items():
        if key in plain:
            values[key] = value
        else:
            setattr(obj, key, value)
    return obj


def _forget_in_parents(session: Session, obj: Any) -> None:
    """Reload the parents' collections (``org.users``...) that still hold a rolled-back object."""
    mapper = _mapper(type(obj))
    if mapper is None:
        return
    for rel in mapper.relationships:
        parent = getattr(obj, rel.key) if rel.direction is RelationshipDirection.MANYTOONE else None
        if parent is not None and sa.inspect(parent).persistent:
            reverse = [r.key for r in getattr(rel, "_reverse_property", ())]
            if reverse:
                session.expire(parent, reverse)


def _remember(session: Session, obj: Any) -> None:
    """Keep objects of models that a :class:`ReuseOrCreate` draws from, per session."""
    model = type(obj)
    if model in _REUSABLE_MODELS:
        if _POOL_KEY not in session.info:
            _watch(session)
        session.info.setdefault(_POOL_KEY, {}).setdefault(model, []).append(obj)


# A pool must only offer objects still alive in its session (pending or persistent there).
# Checking every object at every pick costs O(pool); instead, the session events of every
# transition out of that state note the object as a suspect, and a pick checks only the
# suspects of its model (an object may also come back before the pick: the bulk seeder
# detaches and re-attaches what it keeps). Suspects live outside ``session.info``, which the
# bulk seeder and the partitions walk.
_SUSPECTS: weakref.WeakKeyDictionary[Session, dict[type, dict[int, Any]]] = weakref.WeakKeyDictionary()


def _suspect(session: Session, obj: Any) -> None:
    model = type(obj)
    if model in _REUSABLE_MODELS and model in session.info.get(_POOL_KEY, ()):
        _SUSPECTS.setdefault(session, {}).setdefault(model, {})[id(obj)] = obj


_LEAVING = (
    "pending_to_transient",
    "persistent_to_transient",
    "persistent_to_detached",
    "persistent_to_deleted",
)


def _watch(session: Session) -> None:
    """Listen for objects leaving ``session`` (that session only: SQLAlchemy's ``Session`` class,
    shared with the host application, gets no listener)."""
    for leaving in _LEAVING:
        if not event.contains(session, leaving, _suspect):
            event.listen(session, leaving, _suspect)


def _alive(session: Session, obj: Any) -> bool:
    state = sa.inspect(obj)
    return state.session is session and (state.persistent or state.pending)


def _live_pool(session: Session, model: type) -> list[Any]:
    """The session's pool of ``model``, without the objects that left the session."""
    pool: list[Any] = session.info.get(_POOL_KEY, {}).get(model, [])
    suspects = _SUSPECTS.get(session, {}).pop(model, None)
    if suspects:
        dead = {key for key, obj in suspects.items() if not _alive(session, obj)}
        if dead:
            pool[:] = [obj for obj in pool if id(obj) not in dead]
    return pool


# The row path (seedkit.bulk) builds records, not ORM objects, with no session bound: while it
# runs, ReuseOrCreate picks from the pools of the bulk seeder's session, which also hold its
# records (in creation order, beside the ORM objects its ORM-path volumes create). A record
# picked on the ORM path is replaced, in its pool, by the ORM object the seeder makes of it.
_row_pool_session: ContextVar[Session | None] = ContextVar("seedkit_row_pool_session", default=None)
_ORM_OBJECTS: weakref.WeakKeyDictionary[Session, Callable[[], Callable[[Any], Any] | None]] = (
    weakref.WeakKeyDictionary()
)  # weak methods: a strong one would keep its seeder, and so the session, alive


@contextmanager
def row_pools(session: Session) -> Iterator[None]:
    """While rows are built in the block, :class:`ReuseOrCreate` picks from ``session``'s pools
    (records and ORM objects), and :func:`row_pool` gives them to the records made."""
    token = _row_pool_session.set(session)
    try:
        yield
    finally:
        _row_pool_session.reset(token)


def row_pool(model: type) -> list[Any] | None:
    """The pool of ``model`` records join while rows are built (None outside :func:`row_pools`)."""
    session = _row_pool_session.get()
    if session is None:
        return None
    if _POOL_KEY not in session.info:
        _watch(session)
    return session.info.setdefault(_POOL_KEY, {}).setdefault(model, [])


def convert_pooled_records(session: Session, orm_object: Callable[[Any], Any]) -> None:
    """Let ``session``'s pools hold records: one picked on the ORM path is replaced by
    ``orm_object(record)`` (an ORM object persistent in ``session``), in its place in the pool."""
    _ORM_OBJECTS[session] = (
        weakref.WeakMethod(orm_object) if inspect.ismethod(orm_object) else lambda: orm_object
    )


def _picked(session: Session, pool: list[Any], picked: Any) -> Any:
    """``picked`` as the ORM path needs it: a pooled record becomes (for good) its ORM object."""
    if hasattr(picked, "_sa_instance_state"):
        return picked
    reference = _ORM_OBJECTS.get(session)
    orm_object = reference() if reference is not None else None
    if orm_object is None:
        raise FactoryError(f"ReuseOrCreate picked {picked!r}, which is not an ORM object")
    obj = orm_object(picked)
    for i, item in enumerate(pool):
        if item is picked:
            pool[i] = obj
            break
    return obj


class ReuseOrCreate(factory.SubFactory):
    """A SubFactory that reuses an object the bound session already created with a factory.

    With ``create``, it picks (seeded random) one of the ``factory_class`` model's objects
    created by seedkit factories in the same session and still alive there; when there is
    none, or deep overrides are given (``organization__name="x"``), or when building, it
    runs the sub-factory like ``SubFactory``. Only objects created by factories in this
    session are candidates, never other rows of the table, so parallel partitions and repeated
    runs stay deterministic.
    """

    def __init__(self, factory_class: type[SQLAlchemyFactory], **kwargs: Any) -> None:
        if not (isinstance(factory_class, type) and issubclass(factory_class, SQLAlchemyFactory)):
            raise FactoryError(f"ReuseOrCreate needs a SQLAlchemyFactory class, got {factory_class!r}")
        super().__init__(factory_class, **kwargs)
        _REUSABLE_MODELS.add(factory_class._meta.model)

    def evaluate(self, instance: Any, step: Any, extra: dict[str, Any]) -> Any:
        factory_class = self.get_factory()
        if step.builder.strategy == enums.CREATE_STRATEGY and not extra:
            rows = _row_pool_session.get()
            if rows is not None:  # the row path: records (and ORM objects) of the seeder's run
                pool = _live_pool(rows, factory_class._meta.model)
                if pool:
                    return factory.random.randgen.choice(pool)
                return super().evaluate(instance, step, extra)
            session = session_for(factory_class)
            pool = _live_pool(session, factory_class._meta.model)
            if pool:
                return _picked(session, pool, factory.random.randgen.choice(pool))
        return super().evaluate(instance, step, extra)
