"""Which path a factory takes in bulk seeding: the row path (no ORM) or the ORM path, and why.

The row path (:mod:`seedkit.bulk.row_builder`) evaluates a factory's declarations into row
records and never makes an ORM instance or touches a session. That gives the per-object path's
values only when nothing in the factory graph needs an ORM object or the session, so the
decision is made once per factory class (cached), conservatively, from what can be known
statically:

- the factory is a :class:`~seedkit.SQLAlchemyFactory` that keeps seedkit's creation hooks
  (``_create``, ``_save``, ``_generate``... not overridden), writes through the bound session
  (no ``Meta.sqlalchemy_session`` of its own, no ``sqlalchemy_get_or_create``, no
  ``"commit"`` persistence);
- its model is *plain* (declarative constructor, no validators, no ``init`` listeners, no
  polymorphism, no attribute events on columns: the check of the event-free construction; no
  user attribute listeners on its relationships or on the parents' collections it joins:
  :mod:`seedkit.bulk.attribute_events`), and
  no mapper flush events (``before_insert``... see :mod:`seedkit.bulk.flush_events`: the ORM
  path runs them as flush would);
- no declaration calls a method of the object (``PostGenerationMethodCall``); every
  ``SubFactory``, :class:`~seedkit.ReuseOrCreate` (it picks from the seeder's pool of records
  and ORM objects, or creates like a ``SubFactory``), ``RelatedFactory`` and
  ``RelatedFactoryList`` (also inside ``Maybe``, traits, parameters and sub-factory arguments)
  names a factory that takes the row path itself.

What cannot be known statically, what a ``LazyAttribute`` function or a post-generation hook
reads, sets or creates, is checked while the rows are built: records offer column values,
many-to-one parents and the one-to-many collections of the records made with them as parent
(:mod:`seedkit.bulk.record_collections`); a hook may set columns and parents of a record not
written yet, and create with factories that take the row path (built into the same rows); ORM
objects reached from a record offer column values and many-to-one parents. Anything else
(reading an ORM object's collection, a property, a method, the session, a factory on the ORM
path) raises :class:`~seedkit.bulk.row_builder.RowPathUnsupported`. The seeder tries each volume's first
root on the row path and, if it raises, undoes the trial and takes the ORM path (the reason is
recorded); a later root that raises stops seeding with that error (never different data).
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass
from typing import Any

import factory
from factory.base import BaseFactory
from factory.declarations import (
    Maybe,
    Parameter,
    PostGenerationMethodCall,
    RelatedFactory,
    RelatedFactoryList,
    SimpleParameter,
    SubFactory,
    Trait,
    Transformer,
)

__all__ = ["PathDecision", "decide", "decide_call", "evaluation", "volume_entry"]

ROW = "row"
ORM = "orm"
COMPILED = "compiled"
RESOLVER = "resolver"


@dataclass(frozen=True)
class PathDecision:
    """The path a factory takes in bulk seeding.

    Attributes:
        factory: the factory's qualified name (``module.Class``).
        path: ``"row"`` (declarations evaluated into row records, no ORM) or ``"orm"`` (ORM
            instances in a collecting session).
        reason: why, in one sentence.
    """

    factory: str
    path: str
    reason: str

    @property
    def row_path(self) -> bool:
        """Whether the factory takes the row path."""
        return self.path == ROW


# Class attributes of SQLAlchemyFactory the row path replaces: a factory that overrides one of
# them does something on creation the row path would not do.
_HOOKS = (
    "create",
    "create_batch",
    "_generate",
    "_create",
    "_build",
    "_save",
    "_persist",
    "_get_or_create",
    "_existing_row",
    "_check_attributes",
    "_after_postgeneration",
)

_DECISIONS: weakref.WeakKeyDictionary[type, PathDecision] = weakref.WeakKeyDictionary()


def _qualified(factory_class: type) -> str:
    return f"{factory_class.__module__}.{factory_class.__qualname__}"


def decide(factory_class: type[Any]) -> PathDecision:
    """The path ``factory_class`` takes in a :class:`~seedkit.bulk.BulkSeeder` (decided once, cached).

    Only what the factory classes say is read (no database, no factory call); see the module
    docstring for the rules. A factory graph with cycles (``OrderFactory`` and
    ``UserFactory`` naming each other) is decided as a whole.
    """
    found = _DECISIONS.get(factory_class)
    if found is None:
        found = _DECISIONS[factory_class] = _decide(factory_class, {})
    return found


def decide_call(factory_class: type[Any], fields: dict[str, Any]) -> PathDecision:
    """The path of one volume, ``factory_class.create_batch(n, **fields)``: the factory's, unless a
    value passed needs the ORM path (a declaration that does, a foreign key looked up in the session)."""
    decision = decide(factory_class)
    if not decision.row_path:
        return decision
    from seedkit.factories.alchemy import _foreign_keys

    for key, value in fields.items():
        if key == "_session":
            return PathDecision(decision.factory, ORM, "a _session= argument names its own session")
        problem = _declaration_problem(value, {})
        if problem is not None:
            return PathDecision(decision.factory, ORM, f"the value passed as {key}=: {problem}")
    model = factory_class._meta.model
    for relation, _target, pairs in _foreign_keys(model):
        passed = relation not in fields and pairs and all(local in fields for local, _ in pairs)
        if passed and relation in factory_class._meta.declarations:
            locals_ = ", ".join(local for local, _ in pairs)
            return PathDecision(
                decision.factory, ORM, f"the foreign key passed as {locals_}= is looked up in the session"
            )
    return decision


def _decide(factory_class: type[Any], visiting: dict[type, None]) -> PathDecision:
    name = _qualified(factory_class)
    reason = _factory_problem(factory_class, visiting)
    if reason is None:
        return PathDecision(
            name,
            ROW,
            "plain model, declarations that need no ORM object or session; hooks and values checked as rows are built",
        )
    return PathDecision(name, ORM, reason)


def _factory_problem(factory_class: type[Any], visiting: dict[type, None]) -> str | None:
    """Why ``factory_class`` needs the ORM path, or None."""
    from seedkit.factories.alchemy import SQLAlchemyFactory, _options, _plain_columns

    if not (isinstance(factory_class, type) and issubclass(factory_class, SQLAlchemyFactory)):
        return f"{getattr(factory_class, '__name__', factory_class)!s} is not a seedkit SQLAlchemyFactory"
    meta = _options(factory_class)
    if meta.abstract:
        return "an abstract factory"
    for hook in _HOOKS:
        own = getattr(factory_class, hook)
        base = getattr(SQLAlchemyFactory, hook)
        if getattr(own, "__func__", own) is not getattr(base, "__func__", base):
            return f"it overrides {hook}(), which the row path does not call"
    if meta.sqlalchemy_get_or_create:
        return "sqlalchemy_get_or_create looks rows up in the session"
    if meta.sqlalchemy_session is not None or meta.sqlalchemy_session_factory is not None:
        return "it writes to a session of its own (Meta.sqlalchemy_session)"
    if not getattr(meta, "uses_bound_session", True):
        return "it opted out of the bound session (Meta.sqlalchemy_session = None)"
    if meta.sqlalchemy_session_persistence == "commit":
        return 'its sqlalchemy_session_persistence is "commit"'
    model = meta.model
    plain = _plain_columns(model)
    if plain is None:
        return (
            f"its model {model.__name__} is not plain (own constructor, validators, init listeners "
            "or polymorphism): its constructor must run"
        )
    import sqlalchemy as sa

    from seedkit.bulk.attribute_events import attribute_listeners
    from seedkit.bulk.flush_events import flush_events

    mapper = sa.inspect(model)
    evented = sorted(prop.key for prop in mapper.column_attrs if prop.key not in plain)
    if evented:
        return f"attribute events listen to {model.__name__}.{evented[0]}"
    listeners = attribute_listeners(mapper)
    if listeners:
        return f"attribute events listen to {listeners[0]}, which only ORM objects fire"
    events = flush_events(mapper)
    if events:
        return f"mapper events listen to {model.__name__} ({', '.join(events)}), which only a flush runs"
    if len({col.table for col in mapper.columns if isinstance(col, sa.Column)}) != 1:
        return f"its model {model.__name__} is mapped to more than one table"
    visiting[factory_class] = None
    try:
        for name, value in _declarations(factory_class):
            problem = _declaration_problem(value, visiting)
            if problem is not None:
                return f"{name}: {problem}"
    finally:
        del visiting[factory_class]
    return None


def _declarations(factory_class: type[Any]) -> list[tuple[str, Any]]:
    meta = factory_class._meta
    found: list[tuple[str, Any]] = list(meta.pre_declarations.as_dict().items())
    found += list(meta.post_declarations.as_dict().items())
    found += list(meta.parameters.items())
    return found


def _declaration_problem(value: Any, visiting: dict[type, None]) -> str | None:
    """Why a declaration (or a value) needs the ORM path, or None."""
    if isinstance(value, dict):
        for item in value.values():
            problem = _declaration_problem(item, visiting)
            if problem is not None:
                return problem
        return None
    if isinstance(value, list | tuple):
        for item in value:
            problem = _declaration_problem(item, visiting)
            if problem is not None:
                return problem
        return None
    if isinstance(value, SubFactory | RelatedFactory):
        target = value.get_factory()
        if isinstance(value, RelatedFactory) and type(value).call not in (
            RelatedFactory.call,
            RelatedFactoryList.call,
        ):
            return f"{type(value).__name__} overrides call()"
        defaults = value.defaults if isinstance(value, RelatedFactory) else value._defaults
        if isinstance(target, type) and issubclass(
            target, factory.base.BaseDictFactory | factory.base.BaseListFactory
        ):
            return _declaration_problem(defaults, visiting)
        if isinstance(target, type) and issubclass(target, BaseFactory) and target in visiting:
            return _declaration_problem(defaults, visiting)  # a cycle: decided with its start
        decision = _decide(target, visiting)
        if not decision.row_path:
            kind = type(value).__name__
            return f"{kind}({target.__name__}) takes the ORM path ({decision.reason})"
        return _declaration_problem(defaults, visiting)
    if isinstance(value, PostGenerationMethodCall):
        return f"the post-generation hook PostGenerationMethodCall calls {value.method_name}() of the object"
    # Other hooks get the record: what they read, set or create is checked as the first row is built.
    if isinstance(value, Maybe):
        for part in (value.decider, value.yes, value.no):
            problem = _declaration_problem(part, visiting)
            if problem is not None:
                return problem
        return None
    if isinstance(value, Trait):
        return _declaration_problem(value.overrides, visiting)
    if isinstance(value, SimpleParameter):
        return _declaration_problem(value.value, visiting)
    if isinstance(value, Parameter):
        return f"the parameter {type(value).__name__} is not one of factory_boy's"
    if isinstance(value, Transformer):
        return _declaration_problem(value.default, visiting)
    return None


def evaluation(factory_class: type[Any], fields: dict[str, Any], decision: PathDecision) -> tuple[str, str]:
    """How a volume's declarations are evaluated, and why: ``("compiled", why)`` when the row path
    runs the factory's compiled plan (:mod:`seedkit.bulk.compiled`: one function per declaration,
    compiled once per shape of call), else ``("resolver", why)``: factory_boy's resolver (through
    seedkit's lean step builder), on the ORM path or for a factory whose plan does not compile
    (the reason :func:`~seedkit.bulk.compiled.compile_plan` gives). Only the volume's own factory
    is described; its sub-factories decide for themselves. Reads no database.
    """
    if not decision.row_path:
        return RESOLVER, "the ORM path evaluates declarations with factory_boy's resolver"
    from seedkit.bulk.row_builder import _factory_rows

    rows = _factory_rows(factory_class._meta)
    shape = (tuple(fields), tuple(map(type, fields.values()))) if fields else ()
    plan = rows.compiled.get(shape)
    if plan is None:
        plan = rows.compiled[shape] = rows.compiled_plan(factory_class._meta, fields)
    if isinstance(plan, str):
        return RESOLVER, f"its plan does not compile: {plan}"
    return COMPILED, "every declaration compiles to a function (seedkit/bulk/compiled.py)"


def volume_entry(factory_class: type[Any], fields: dict[str, Any], decision: PathDecision) -> dict[str, str]:
    """What ``seedkit plan`` and ``seedkit seed --json`` say of one factory volume: ``path``
    (``row``/``orm``) and ``why``, ``evaluation`` (``compiled``/``resolver``) and ``evaluation_why``."""
    kind, why = evaluation(factory_class, fields, decision)
    return {"path": decision.path, "why": decision.reason, "evaluation": kind, "evaluation_why": why}
