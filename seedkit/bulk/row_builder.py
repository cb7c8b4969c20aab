"""The row path: factory_boy declarations evaluated into row records, without ORM instances or a session.

For factories that :func:`seedkit.bulk.paths.decide` puts on the row path, the bulk seeder builds
with :class:`RowStepBuilder`, the lean step builder (:mod:`seedkit.factories.builder`) with one
change: where factory_boy would call ``Factory._create`` (an ORM instance added to the session),
it makes a :class:`RowRecord`, a plain object whose ``__dict__`` holds the factory's keyword
arguments (columns and many-to-one parents), fills the columns seedkit fills on the per-object
path (clock and ID defaults, datetimes in the column's form) and hands it to the seeder, which
turns it into a row with the same :class:`~seedkit.bulk.rows.TableLayout` as ORM objects
(foreign keys read from the parent record or object). Everything else is factory_boy's code, in
factory_boy's order: the cached parse, the declarations resolved on demand, sequences,
``prepare_arguments`` (exclude, rename, ``_adjust_kwargs``), ``SubFactory`` parents built first,
``RelatedFactory``/``RelatedFactoryList`` children after. So every random draw, sequence, Iterator
step and ID comes in the order of the per-object path, and the rows are the same.

What a declaration can read on the row path is what it would read on a pending ORM object
*that no collection or session feeds*: column values (``None`` when unset, as on a pending
object) and many-to-one parents. ORM objects reached from a record (a pool of organizations
passed as ``factory.Iterator(orgs)``) are seen through an :class:`OrmView` that offers the same.
The model's own code (properties, hybrids, methods, ``__str__``/``__repr__``/``__format__``) runs
with the record or view as ``self``; ``isinstance`` and ``__class__`` give the model (``type()``
cannot: the one known difference). Collections the row path cannot list, a default ``repr``
(a memory address) and the session raise :class:`RowPathUnsupported`: those could differ from
the per-object path, so the seeder falls back to it (first row of a volume) or stops (later
rows), never writing different data.
"""

from __future__ import annotations

import functools
import types
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import TYPE_CHECKING, Any, ClassVar, cast

import sqlalchemy as sa
from factory import enums, errors
from factory.base import BaseFactory, DictFactory
from factory.declarations import SKIP, RelatedFactory, RelatedFactoryList
from sqlalchemy.ext.hybrid import hybrid_method, hybrid_property
from sqlalchemy.orm import QueryableAttribute, RelationshipDirection

from seedkit.bulk import record_collections
from seedkit.bulk.computed_attributes import computed_attributes
from seedkit.bulk.mutable_values import mutable_columns, note_created, note_value
from seedkit.bulk.record_collections import WRITTEN, refuse_written
from seedkit.core.clock import column_time
from seedkit.errors import FactoryError
from seedkit.factories.alchemy import _REUSABLE_MODELS, row_pool
from seedkit.factories.binding import bind
from seedkit.factories.builder import (
    _KINDS,
    _LAZY_ATTRIBUTE,
    _LAZY_FUNCTION,
    LeanBuildStep,
    LeanResolver,
    LeanStepBuilder,
    UnknownParameter,
    _evaluate,
    _kind,
    _parse,
    _plan,
    _Slot,
    building_with,
)

if TYPE_CHECKING:
    from seedkit.bulk.compiled import CompiledPlan

__all__ = [
    "OrmView",
    "RowPathUnsupported",
    "RowRecord",
    "RowStepBuilder",
    "build_root",
    "check_record",
    "join_record",
    "no_session",
]


class RowPathUnsupported(FactoryError):
    """A factory read, on the row path, something only an ORM object or the session has."""


def _unsupported(model: type, name: str) -> RowPathUnsupported:
    if name in computed_attributes(model):
        return RowPathUnsupported(
            f"{model.__name__}.{name} was read: the database computes it (a SQL expression attribute), "
            "which the row path cannot give before the rows are written"
        )
    return RowPathUnsupported(
        f"{model.__name__}.{name} was read: the row path offers column values, many-to-one parents, "
        "followed one-to-many collections and the model's own properties and methods, not this "
        "attribute (nor the session)"
    )


def _model_attribute(model: type, name: str, target: Any) -> Any:
    """``name`` of ``model`` read with ``target`` (a record or an :class:`OrmView`) as ``self``.

    The model's own code runs on what the row path offers: a ``property``, an instance-level
    ``hybrid_property`` or a ``cached_property`` is computed from ``target``; a method comes
    bound to it (as ``types.MethodType``); a ``hybrid_method`` too; class-level values (a
    constant, a ``staticmethod`` or ``classmethod``) are the model's. What these read of
    ``target`` is checked as any read: a collection or the session still raises
    :class:`RowPathUnsupported`. Mapped attributes other than columns and many-to-one parents
    (e.g. a ``column_property`` or an ``association_proxy``) raise it too.
    """
    for klass in model.__mro__:
        if name in klass.__dict__:
            found = klass.__dict__[name]
            break
    else:
        raise AttributeError(f"{model.__name__} has no attribute {name!r}")
    kind = type(found)
    if kind is property:
        if found.fget is None:
            raise AttributeError(f"property {name!r} of {model.__name__} has no getter")
        return found.fget(target)
    if kind is functools.cached_property:
        return found.func(target)
    if kind is hybrid_property:
        return found.fget(target)
    if kind is hybrid_method:
        return types.MethodType(found.func, target)
    if kind is types.FunctionType:
        return types.MethodType(found, target)
    if kind is staticmethod or kind is classmethod:
        return getattr(model, name)
    if isinstance(found, QueryableAttribute) or hasattr(found, "__get__"):
        raise _unsupported(model, name)  # mapped by SQLAlchemy, or a descriptor of its own
    return found  # a plain class attribute


def _model_str(target: Any, model: type) -> str:
    function: Any = model.__str__
    if function is object.__str__:
        return _model_repr(target, model)
    return cast(str, function(target))


def _model_repr(target: Any, model: type) -> str:
    function: Any = model.__repr__
    if function is object.__repr__:
        raise RowPathUnsupported(
            f"{model.__name__}'s repr() was read: the model has only object's default repr (a memory "
            "address), which differs from run to run"
        )
    return cast(str, function(target))


class RowRecord:
    """One row being built on the row path: the factory's keyword arguments as attributes.

    A subclass per model (see :func:`record_class`) knows the model's column and many-to-one
    attribute names: unset ones read as ``None``, as on a pending ORM object; other names of
    the model raise :class:`RowPathUnsupported`; names the model does not have raise
    ``AttributeError``, as on the ORM object.
    """

    _seedkit_model: ClassVar[type]
    _seedkit_unset: ClassVar[frozenset[str]]
    _seedkit_flushed: ClassVar[dict[str, Any]]
    FACTORY_BUILDER_PHASE: ClassVar[None] = None  # a value, not a declaration (factory_boy asks often)

    def __getattr__(self, name: str) -> Any:
        cls = type(self)
        if name in cls._seedkit_unset:
            fill = cls._seedkit_flushed.get(name)
            return None if fill is None else fill(self)
        model = cls._seedkit_model
        if name.startswith(("__", "_sa_")):
            raise AttributeError(f"{model.__name__} row has no attribute {name!r}")
        return _model_attribute(model, name, self)

    def __setattr__(self, name: str, value: Any) -> None:
        # A hook may set a column or a parent, as on the object, while the row is not written.
        if WRITTEN in self.__dict__:
            raise refuse_written(self, name)
        cls = type(self)
        if name not in cls._seedkit_unset and not name.startswith("_") and hasattr(cls._seedkit_model, name):
            raise RowPathUnsupported(
                f"{cls._seedkit_model.__name__}.{name} was set: the row path sets only columns and "
                "many-to-one parents"
            )
        object.__setattr__(self, name, value)

    @property  # type: ignore[misc]
    def __class__(self) -> type:  # isinstance(record, Model) holds, as on the object
        return type(self)._seedkit_model

    def __str__(self) -> str:
        return _model_str(self, type(self)._seedkit_model)

    def __repr__(self) -> str:
        return _model_repr(self, type(self)._seedkit_model)

    def __format__(self, spec: str) -> str:
        return cast(str, cast(Any, type(self)._seedkit_model).__format__(self, spec))


class _Parent:
    """A many-to-one attribute of a record: ORM objects are read through an :class:`OrmView`;
    setting it moves the record from the old parent's collection to the new one's."""

    __slots__ = ("collection", "key")

    def __init__(self, key: str, collection: str | None) -> None:
        self.key = key
        self.collection = collection

    def __get__(self, record: Any, owner: Any = None) -> Any:
        if record is None:
            return self
        return view(record.__dict__.get(self.key))

    def __set__(self, record: Any, value: Any) -> None:
        if type(value) is OrmView:
            value = value._seedkit_object
        old = record.__dict__.get(self.key)
        record.__dict__[self.key] = value
        if self.collection is not None and old is not value:
            if old is not None:
                record_collections.detach(record, old, self.collection)
            if value is not None:
                record_collections.append(record, value, self.collection)


class _ModelRows:
    """What the row path needs of one mapped model, computed once."""

    def __init__(self, model: type) -> None:
        from seedkit.factories.alchemy import _datetime_columns, _volatile_columns

        mapper: Any = sa.inspect(model)
        self.model = model
        computed = computed_attributes(model)  # read from a record: RowPathUnsupported
        self.columns = frozenset(prop.key for prop in mapper.column_attrs if prop.key not in computed)
        self.parents = frozenset(
            rel.key for rel in mapper.relationships if rel.direction is RelationshipDirection.MANYTOONE
        )
        self.allowed = self.columns | self.parents
        self.volatile = _volatile_columns(model)
        self.times = _datetime_columns(model)
        self.mutable = mutable_columns(model)
        """Columns whose dicts and lists are written as created (:mod:`seedkit.bulk.mutable_values`)."""
        self.reverses = record_collections.reverse_collections(model)
        """``(many-to-one key, parent's collection key)``: the parents' collections a new record joins."""
        reverse = dict(self.reverses)
        namespace: dict[str, Any] = {
            "_seedkit_model": model,
            "_seedkit_unset": self.allowed,
            "_seedkit_flushed": _flushed_columns(model, mapper, {key for key, _ in self.volatile}),
            "__slots__": (),
        }
        namespace.update(record_collections.collection_descriptors(model))
        namespace.update({key: _Parent(key, reverse.get(key)) for key in self.parents})
        # __slots__ = () on a subclass of a class with a __dict__: records keep one __dict__ each.
        self.record_class: type[RowRecord] = type(f"{model.__name__}Row", (RowRecord,), namespace)
        self.checked: set[tuple[str, ...]] = set()


def _flushed_columns(model: type, mapper: Any, volatile: set[str]) -> dict[str, Any]:
    """Per unset column a flush fills: the function giving what a record's read returns.

    A record is read only once it is complete (a parent, or the record in its hooks), which on
    the per-object path is after its flush: a foreign key then holds the parent's referenced
    value (read from the parent record or object), a Python default its value (computed once,
    with a :class:`~seedkit.bulk.rows.DefaultContext` for context-sensitive ones, and kept), and
    a column the database generates (identity, serial, server default) its value, which the row
    path knows only after the chunk is written: reading it raises :class:`RowPathUnsupported`.
    """
    from seedkit.bulk.rows import MISSING, DefaultContext, column_default, database_generated

    table_columns = [
        (prop.key, prop.columns[0]) for prop in mapper.column_attrs if isinstance(prop.columns[0], sa.Column)
    ]
    keys = [column.key for _, column in table_columns]
    attributes = [key for key, _ in table_columns]
    sources: dict[str, list[tuple[str, str, sa.Column[Any]]]] = {}
    for rel in mapper.relationships:
        if rel.direction is RelationshipDirection.MANYTOONE and rel.secondary is None:
            for local, remote in rel.local_remote_pairs:
                if isinstance(local, sa.Column) and local.table is mapper.local_table:
                    sources.setdefault(mapper.get_property_by_column(local).key, []).append(
                        (rel.key, rel.mapper.get_property_by_column(remote).key, remote)
                    )
    found: dict[str, Any] = {}
    mutable = mutable_columns(model)
    for key, column in table_columns:
        if key in volatile:
            continue
        if key in sources:
            found[key] = functools.partial(_parent_value, sources[key])
        elif database_generated(column):
            found[key] = functools.partial(_generated, model, key, column)
        else:
            default = column_default(column)
            if default is not None:

                def fill(record: Any, key: str = key, default: Any = default) -> Any:
                    values = record.__dict__
                    context = DefaultContext(keys, [values.get(a, MISSING) for a in attributes])
                    value = values[key] = default(context)  # once, as a flush computes it
                    if key in mutable:
                        note_value(record, key, value)  # written as flushed
                    return value

                found[key] = fill
    return found


def _parent_value(sources: list[tuple[str, str, sa.Column[Any]]], record: Any) -> Any:
    """A foreign key read from the many-to-one parent, as a flush copies it."""
    from seedkit.bulk.rows import database_generated

    for relationship, attribute, remote in sources:
        parent = record.__dict__.get(relationship)
        if parent is not None:
            value = getattr(parent, attribute)
            if value is None and database_generated(remote) and not isinstance(parent, RowRecord):
                raise _generated(type(parent), attribute, remote, parent)
            return value
    return None


_GENERATED_READERS: list[Callable[[Any, str, sa.Column[Any]], Any]] = []


@contextmanager
def reading_generated(read: Callable[[Any, str, sa.Column[Any]], Any]) -> Iterator[None]:
    """While rows are built: a record's column the database fills (a key, a server default),
    read before the record is written, is ``read(record, attribute, column)``: the bulk seeder
    reserves a key (and those of the records made before it, see :mod:`seedkit.bulk.keys`),
    gives a constant default's value, or refuses the read
    (:class:`~seedkit.bulk.server_values.ServerValueUnknown`)."""
    _GENERATED_READERS.append(read)
    try:
        yield
    finally:
        _GENERATED_READERS.remove(read)


def _generated(model: type, name: str, column: sa.Column[Any], record: Any) -> Any:
    if _GENERATED_READERS and isinstance(record, RowRecord):
        return _GENERATED_READERS[-1](record, name, column)
    raise RowPathUnsupported(
        f"{model.__name__}.{name} was read before its row is written: the database generates it "
        f"({column}), which the row path knows only once the chunk is written"
    )


@functools.cache
def model_rows(model: type) -> _ModelRows:
    """The row path's facts about ``model`` (its record class, columns, parents, filled columns)."""
    return _ModelRows(model)


def record_class(model: type) -> type[RowRecord]:
    """The :class:`RowRecord` subclass of ``model``."""
    return model_rows(model).record_class


def model_of(record_type: type) -> type:
    """The mapped class of a record class, or ``record_type`` itself for ORM classes."""
    return cast(type, getattr(record_type, "_seedkit_model", record_type))


# -- ORM objects seen from the row path ------------------------------------------------------
_MAPPED: dict[type, bool] = {}


def _is_mapped(cls: type) -> bool:
    known = _MAPPED.get(cls)
    if known is None:
        known = _MAPPED[cls] = hasattr(cls, "_sa_class_manager") and not issubclass(cls, RowRecord)
    return known


def view(value: Any) -> Any:
    """``value``, or an :class:`OrmView` of it when it is an ORM instance."""
    if value is None or not _is_mapped(type(value)) or isinstance(value, type):
        return value
    return OrmView(value)


class OrmView:
    """An ORM object as the row path lets declarations see it: column values and many-to-one parents.

    Reading a collection, a property or a method raises :class:`RowPathUnsupported` (on the
    per-object path they could hold the rows just built, which the row path does not add);
    setting an attribute too.
    """

    __slots__ = ("_seedkit_object",)
    _seedkit_object: Any
    FACTORY_BUILDER_PHASE: ClassVar[None] = None

    def __init__(self, obj: Any) -> None:
        object.__setattr__(self, "_seedkit_object", obj)

    def __getattr__(self, name: str) -> Any:
        obj = self._seedkit_object
        facts = model_rows(cast(Any, type(obj)))
        if name in facts.columns:
            value = getattr(obj, name)
            if value is None:
                fill = facts.record_class._seedkit_flushed.get(name)
                if fill is not None and _pending(obj):  # an ORM object not flushed: as a record
                    return fill(obj)
            return value
        if name in facts.parents:
            return view(getattr(obj, name))
        if name.startswith(("__", "_sa_")):
            raise AttributeError(f"{type(obj).__name__} has no attribute {name!r}")
        return _model_attribute(type(obj), name, self)

    def __setattr__(self, name: str, value: Any) -> None:
        raise RowPathUnsupported(
            f"{type(self._seedkit_object).__name__}.{name} was set on an existing object from the row path"
        )

    def __eq__(self, other: object) -> bool:
        target = other._seedkit_object if isinstance(other, OrmView) else other
        return bool(self._seedkit_object == target)

    def __hash__(self) -> int:
        return hash(self._seedkit_object)

    @property  # type: ignore[misc]
    def __class__(self) -> type:  # isinstance(view, Model) holds, as on the object
        return type(self._seedkit_object)

    def __str__(self) -> str:
        return _model_str(self, type(self._seedkit_object))

    def __repr__(self) -> str:
        return _model_repr(self, type(self._seedkit_object))

    def __format__(self, spec: str) -> str:
        return cast(str, cast(Any, type(self._seedkit_object)).__format__(self, spec))


def _pending(obj: Any) -> bool:
    state = sa.inspect(obj)
    return bool(state.transient or state.pending)


# -- the session, absent ---------------------------------------------------------------------
class _NoSession:
    """Bound instead of a session while rows are built: any use raises :class:`RowPathUnsupported`."""

    def __getattr__(self, name: str) -> Any:
        raise RowPathUnsupported(f"the session was used (session.{name}): the row path has no session")

    def __bool__(self) -> bool:
        return True


@contextmanager
def no_session() -> Iterator[None]:
    """Bind a session stand-in that refuses every use, for the duration of row building."""
    with bind(session=cast(Any, _NoSession())):
        yield


# -- building ----------------------------------------------------------------------------------
_RESOLUTION = enums.BuilderPhase.ATTRIBUTE_RESOLUTION
_POST = enums.BuilderPhase.POST_INSTANTIATION


class RowResolver(LeanResolver):
    """The lean resolver, handing declarations ORM objects as :class:`OrmView` s.

    Its ``_lean_get`` is the lean resolver's, with the common declarations (``LazyFunction``,
    ``LazyAttribute`` without context) called directly, as ``_evaluate`` would.
    """

    __slots__ = ()

    def _lean_get(self, name: str) -> Any:
        values = self._lean_values
        if name in values:
            return values[name]
        pending = self._lean_pending
        if name in pending:
            raise errors.CyclicDefinitionError(
                f"Cyclic lazy attribute definition for {name!r}; cycle found in {pending!r}."
            )
        entry = self._lean_declarations.get(name)
        if entry is None:
            raise UnknownParameter(name, values, self._lean_declarations)
        value, context = entry
        if getattr(value, "FACTORY_BUILDER_PHASE", None) == _RESOLUTION:
            pending.append(name)
            try:
                cls = type(value)
                kind = _KINDS.get(cls)
                if kind is None:
                    kind = _kind(cls)
                if kind == _LAZY_FUNCTION and not context and not value._defaults:
                    value = value.function()
                elif kind == _LAZY_ATTRIBUTE and not context and not value._defaults:
                    value = value.function(self)
                else:
                    value = _evaluate(value, self, self._lean_step, context)
            finally:
                pending.pop()
        values[name] = value
        return value

    def _row_get(self, name: str) -> Any:
        value = self._lean_get(name)
        mapped = _MAPPED.get(type(value))
        if mapped is None:
            mapped = _is_mapped(type(value))
        return OrmView(value) if mapped and not isinstance(value, type) else value

    __getattr__ = _row_get


_ROW_RESOLVER_ATTRIBUTES = frozenset(dir(RowResolver))


class RowBuildStep(LeanBuildStep):
    """A build step resolved by a :class:`RowResolver`."""

    def resolve(self, declarations: dict[str, Any]) -> None:
        stub = self.stub = RowResolver(declarations, self)
        attributes = self.attributes
        get = stub._lean_get
        for name in declarations:
            attributes[name] = getattr(stub, name) if name in _ROW_RESOLVER_ATTRIBUTES else get(name)


def _function(method: Any) -> Any:
    return getattr(method, "__func__", method)


class _FactoryRows:
    """What :meth:`RowStepBuilder.build` needs of one factory, decided once per factory ``_meta``."""

    def __init__(self, meta: Any) -> None:
        model = getattr(meta, "model", None)
        self.mapped = isinstance(model, type) and _is_mapped(model)
        if not self.mapped:
            return
        from seedkit.bulk.paths import decide

        factory_class = meta.factory
        self.factory_class = factory_class
        self.model: type = cast(type, model)
        self.decision = decide(factory_class)
        self.row_path = self.decision.row_path
        # prepare_arguments without its copies when it would only drop hidden names
        self.plain_arguments = (
            _function(factory_class._adjust_kwargs) is _function(BaseFactory._adjust_kwargs)
            and not meta.rename
            and not meta.inline_args
        )
        self.hidden = frozenset(meta.exclude) | frozenset(meta.parameters)
        self.after_postgeneration = _function(factory_class._after_postgeneration) is not _function(
            BaseFactory._after_postgeneration
        )
        self.facts = model_rows(self.model)
        self.record_class = self.facts.record_class
        self.compiled: dict[Any, CompiledPlan | str] = {}
        """The compiled plan (or why there is none) per shape of call: keyword names and value types."""

    def compiled_plan(self, meta: Any, extras: dict[str, Any]) -> CompiledPlan | str:
        """The :class:`~seedkit.bulk.compiled.CompiledPlan` of a call with ``extras``, or why it has none."""
        from seedkit.bulk.compiled import compile_plan  # it builds on this module

        if any(getattr(value, "FACTORY_BUILDER_PHASE", None) == _POST for value in extras.values()):
            return "a post-generation declaration is passed at the call site"
        try:
            plan = _plan(meta, {name: _Slot(name) for name in extras})
        except errors.FactoryError as exc:
            return f"the call does not parse ({exc})"
        return compile_plan(meta, plan, extras, self.hidden, self.facts, self.plain_arguments)


_FACTORY_ROWS: dict[int, tuple[Any, _FactoryRows]] = {}


def _factory_rows(meta: Any) -> _FactoryRows:
    entry = _FACTORY_ROWS.get(id(meta))
    if entry is None or entry[0] is not meta:
        entry = _FACTORY_ROWS[id(meta)] = (meta, _FactoryRows(meta))
    return entry[1]


_RELATED = (RelatedFactory, RelatedFactoryList)


class RowStepBuilder(LeanStepBuilder):
    """The lean step builder, making :class:`RowRecord` s instead of ORM instances (see module doc).

    Records are appended to ``sink`` in creation order (a parent before its children, as ORM
    objects are added to the session).
    """

    sink: list[Any]

    def recurse(self, factory_meta: Any, extras: dict[str, Any]) -> RowStepBuilder:
        child = RowStepBuilder(factory_meta, extras, strategy=self.strategy)
        child.sink = self.sink
        return child

    def build(self, parent_step: Any = None, force_sequence: int | None = None) -> Any:
        meta = self.factory_meta
        rows = _factory_rows(meta)
        if not rows.mapped:
            return super().build(parent_step, force_sequence)  # factory.Dict / factory.List
        if not rows.row_path:
            raise RowPathUnsupported(
                f"{rows.factory_class.__name__} takes the ORM path: {rows.decision.reason}"
            )
        _, plan = self.plan(rows)
        if type(plan) is not str:
            return cast("CompiledPlan", plan).build(self, rows, parent_step, force_sequence)
        pre, post = _parse(meta, self.extras)
        sequence = self.sequence_for(force_sequence)
        step = RowBuildStep(builder=self, sequence=sequence, parent_step=parent_step)
        step.resolve(pre)
        if rows.plain_arguments:  # what prepare_arguments gives then, without its copies
            hidden = rows.hidden
            args: tuple[Any, ...] = ()
            kwargs = {k: v for k, v in step.attributes.items() if k not in hidden and v is not SKIP}
        else:
            args, kwargs = meta.prepare_arguments(step.attributes)
        record = _record(rows.factory_class, rows.model, args, kwargs)
        self.sink.append(record)
        results = {}
        for name, (declaration, context) in post.items():
            if type(declaration) in _RELATED:
                results[name] = self._related(declaration, record, step, context)
            else:
                results[name] = declaration.evaluate_post(instance=record, step=step, overrides=context)
        if rows.after_postgeneration:
            meta.use_postgeneration_results(instance=record, step=step, results=results)
        step.stub = None
        return record

    def plan(self, rows: _FactoryRows | None = None) -> tuple[_FactoryRows, CompiledPlan | str]:
        """This call's factory facts and its compiled plan (or why it has none), compiled once per
        shape of call: the keyword names and the types of the values passed."""
        if rows is None:
            rows = _factory_rows(self.factory_meta)
        if not rows.mapped or not rows.row_path:
            return rows, "not a factory on the row path"
        extras = self.extras
        shape = (tuple(extras), tuple(map(type, extras.values()))) if extras else ()
        plan = rows.compiled.get(shape)
        if plan is None:
            plan = rows.compiled[shape] = rows.compiled_plan(self.factory_meta, extras)
        return rows, plan

    def _related(self, declaration: Any, record: Any, step: RowBuildStep, context: dict[str, Any]) -> Any:
        """``RelatedFactory[List].evaluate_post``: factory_boy's steps, without its intermediate objects."""
        if declaration._defaults:  # unroll_context (RelatedFactory's does not unroll: its flag is False)
            context = {**declaration._defaults, **context}
        if declaration.UNROLL_CONTEXT_BEFORE_EVALUATION and any(
            getattr(value, "FACTORY_BUILDER_PHASE", None) for value in context.values()
        ):
            context = step.recurse(DictFactory, dict(context), force_sequence=step.sequence)
        if type(declaration) is RelatedFactoryList:
            size = declaration.size
            count = size if isinstance(size, int) else size()  # called first, as factory_boy does
            return [self._related_one(declaration, record, step, context) for _ in range(count)]
        return self._related_one(declaration, record, step, context)

    def _related_one(self, declaration: Any, record: Any, step: RowBuildStep, context: dict[str, Any]) -> Any:
        """``RelatedFactory.call``: the value passed for it, or its factory called with the record."""
        if "" in context:
            return context[""]
        passed = dict(declaration.defaults)
        passed.update(context)
        if declaration.name:
            passed[declaration.name] = record
        child = RowStepBuilder(declaration.get_factory()._meta, passed, strategy=self.strategy)
        child.sink = self.sink
        return child.build(parent_step=step)


def _record(factory_class: Any, model: type, args: tuple[Any, ...], kwargs: dict[str, Any]) -> RowRecord:
    """What ``SQLAlchemyFactory._create`` would add to the session, as a record."""
    facts = model_rows(model)
    keys = tuple(kwargs)
    if keys not in facts.checked:
        if args:
            raise RowPathUnsupported(
                f"{factory_class.__name__} passes positional arguments (Meta.inline_args)"
            )
        check_record(factory_class, model, kwargs)
    record = facts.record_class()
    values = record.__dict__
    for key, value in kwargs.items():
        values[key] = value._seedkit_object if type(value) is OrmView else value
    for key, make in facts.volatile:
        if key not in values:
            values[key] = make()
    for key, timezone in facts.times:
        value = values.get(key)
        if isinstance(value, datetime):
            values[key] = column_time(value, timezone)
    join_record(record, facts)
    return record


def join_record(record: RowRecord, facts: _ModelRows) -> None:
    """Put a new record where a new ORM object would be: in its parents' collections and, for a
    model a ``ReuseOrCreate`` draws from, in the reuse pool; its dicts and lists are copied as
    the per-object path's flush writes them."""
    if facts.mutable:
        note_created(record, facts.mutable)
    if facts.reverses:
        record_collections.attach(record, facts.reverses)
    model = facts.model
    if model in _REUSABLE_MODELS:  # it joins the pool a ReuseOrCreate picks from, as on the ORM path
        join_pool(record, model)


def join_pool(record: RowRecord, model: type) -> None:
    """Put a new record of ``model`` (one a ``ReuseOrCreate`` draws from) into its reuse pool."""
    pool = row_pool(model)
    if pool is not None:
        tracker = record_collections.current_tracker()
        if tracker is not None:
            tracker.note(pool)
        pool.append(record)


def check_record(factory_class: Any, model: type, kwargs: dict[str, Any]) -> None:
    """Refuse keyword arguments a record cannot take (checked once per set of names).

    Raises:
        FactoryError: the per-object path's error for a name the model does not have.
        RowPathUnsupported: a name that is not a column or a many-to-one relationship.
    """
    facts = model_rows(model)
    keys = tuple(kwargs)
    if keys in facts.checked:
        return
    factory_class._check_attributes(model, kwargs)  # the per-object path's error, if any
    other = [key for key in keys if key not in facts.allowed]
    if other:
        raise RowPathUnsupported(
            f"{factory_class.__name__} sets {model.__name__}.{other[0]}, which is not a column or a "
            "many-to-one relationship (the row path sets no collections, properties or hybrids)"
        )
    facts.checked.add(keys)


def build_root(factory_class: type[Any], fields: dict[str, Any], sink: list[Any]) -> Any:
    """One ``factory_class.create(**fields)`` on the row path; its records go to ``sink``.

    A factory called while it is built (``OrderFactory.create(user=obj)`` in a post-generation
    hook) is built on the row path too, into ``sink`` at that point, as the per-object path adds
    its object to the session then; one that takes the ORM path, or ``.build()`` of a model,
    raises :class:`RowPathUnsupported`.
    """
    builder = RowStepBuilder(factory_class._meta, dict(fields), strategy=enums.CREATE_STRATEGY)
    builder.sink = sink
    with building_with(functools.partial(_nested_builder, sink)):
        return builder.build()


def _nested_builder(
    sink: list[Any], factory_meta: Any, params: dict[str, Any], strategy: str
) -> RowStepBuilder:
    """The builder of a factory called while rows are built (see :func:`build_root`)."""
    if strategy != enums.CREATE_STRATEGY and _factory_rows(factory_meta).mapped:
        raise RowPathUnsupported(
            f"{factory_meta.factory.__name__}.build() was called while rows are built: it would make an ORM "
            "object, which the row path does not have"
        )
    builder = RowStepBuilder(factory_meta, params, strategy=strategy)
    builder.sink = sink
    return builder
