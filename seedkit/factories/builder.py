"""A lean step builder: factory_boy's build semantics with less per-object machinery.

factory_boy builds every object through ``StepBuilder.build``: it parses the call's keyword
arguments against the factory's declarations (copying two ``DeclarationSet`` objects), then a
``Resolver`` evaluates each declaration through ``evaluate_pre`` and ``unroll_context``. That
machinery costs more than the values it produces (docs/performance.md). The bulk path builds
with :class:`LeanStepBuilder` instead, which keeps the semantics and changes only the costs:

- the parse of a call is done once per factory and *set of keyword names*: what is passed
  (values, and declarations such as ``factory.Iterator(pool)`` or ``FuzzyChoice(pool)`` passed
  at the call site) is put into a cached plan. ``parse_declarations`` treats a passed value and
  a passed pre-declaration alike; only a passed post-generation declaration changes the parse
  (it goes with the post-declarations, ordered by its creation counter), so its name and
  counter are part of the cache key;
- declarations are evaluated in the same order, on demand, with the same cycle detection, by
  a slotted resolver; a declaration that keeps factory_boy's own ``evaluate_pre`` and
  ``unroll_context`` is evaluated without building an empty context first; any other one
  through its own ``evaluate_pre``;
- everything else (sequences, ``prepare_arguments``, ``instantiate``, post-generation,
  ``_after_postgeneration``) is factory_boy's code.

The values are the same, drawn from the same random streams in the same order:
``tests/test_builder.py`` compares both builders on a set of factories using every kind of
declaration, and ``tests/test_bulk.py`` compares whole profiles.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any, cast

import factory.base
from factory import enums, errors
from factory.builder import BuildStep, StepBuilder, parse_declarations
from factory.declarations import BaseDeclaration, LazyAttribute, LazyFunction
from factory.utils import OrderedBase

__all__ = ["LeanStepBuilder", "building_with", "generate", "lean_building", "lean_builds"]

_LEAN: ContextVar[bool] = ContextVar("seedkit_lean_builds", default=False)
_RESOLUTION = enums.BuilderPhase.ATTRIBUTE_RESOLUTION
_POST = enums.BuilderPhase.POST_INSTANTIATION
_COUNTER = OrderedBase.CREATION_COUNTER_FIELD

# A declaration and its context ("deep" overrides such as ``organization__name``).
Entry = tuple[Any, dict[str, Any]]


@contextmanager
def lean_builds(enabled: bool = True) -> Iterator[None]:
    """Build seedkit's factories (SQL and Mongo bases) with :class:`LeanStepBuilder` inside the block."""
    token = _LEAN.set(enabled)
    try:
        yield
    finally:
        _LEAN.reset(token)


def lean_building() -> bool:
    """Whether factories called now are built by the lean builder."""
    return _LEAN.get()


def generate(factory_class: type[Any], strategy: str, params: dict[str, Any]) -> Any:
    """What ``Factory._generate`` does, with the lean builder."""
    if factory_class._meta.abstract:
        raise errors.FactoryError(
            f"Cannot generate instances of abstract factory {factory_class.__name__}; Ensure "
            f"{factory_class.__name__}.Meta.model is set and {factory_class.__name__}.Meta.abstract "
            "is either not set or False."
        )
    make = _STEP_BUILDER.get()
    if make is not None:
        return make(factory_class._meta, params, strategy).build()
    return LeanStepBuilder(factory_class._meta, params, strategy).build()


_STEP_BUILDER: ContextVar[Callable[[Any, dict[str, Any], str], StepBuilder] | None] = ContextVar(
    "seedkit_step_builder", default=None
)


@contextmanager
def building_with(make: Callable[[Any, dict[str, Any], str], StepBuilder]) -> Iterator[None]:
    """Inside the block, a factory called (``Factory.create(...)``, also from a post-generation
    hook) is built by ``make(factory_meta, params, strategy)`` instead of :class:`LeanStepBuilder`
    (the row path builds nested calls into its records this way)."""
    token = _STEP_BUILDER.set(make)
    try:
        yield
    finally:
        _STEP_BUILDER.reset(token)


# -- parsing, once per factory and set of keyword names -------------------------------------
class _Slot:
    """Stands for the value passed as keyword ``key`` in a cached plan."""

    __slots__ = ("key",)

    def __init__(self, key: str) -> None:
        self.key = key


class _PostSlot(_Slot):
    """Stands for a post-generation declaration passed as keyword ``key``: parsed as one, and
    sorted among the post-declarations by the passed declaration's creation counter."""

    __slots__ = ("_creation_counter",)
    FACTORY_BUILDER_PHASE = enums.BuilderPhase.POST_INSTANTIATION

    def __init__(self, key: str, counter: int) -> None:
        super().__init__(key)
        self._creation_counter = counter


_SLOTS = (_Slot, _PostSlot)
_Plan = tuple[tuple[tuple[str, Any, tuple[tuple[str, Any], ...]], ...], ...]
_PLANS: weakref.WeakKeyDictionary[Any, dict[tuple[str, ...], _Plan]] = weakref.WeakKeyDictionary()


def _plan(factory_meta: Any, extras: dict[str, Any]) -> _Plan:
    """``parse_declarations`` of ``extras``, as ``(pre, post)`` entries in evaluation order."""
    pre, post = parse_declarations(
        extras, base_pre=factory_meta.pre_declarations, base_post=factory_meta.post_declarations
    )
    return (
        tuple((name, pre.declarations[name], tuple(pre.contexts[name].items())) for name in pre),
        tuple((name, post.declarations[name], tuple(post.contexts[name].items())) for name in post.sorted()),
    )


def _parse(factory_meta: Any, extras: dict[str, Any]) -> tuple[dict[str, Entry], dict[str, Entry]]:
    """The pre- and post-declarations of one call (like ``parse_declarations``, cached).

    The cache key is the keyword names in call order, plus the name and creation counter of
    every post-generation declaration passed as a value: nothing else the parse depends on
    can change between calls (the factory's own declarations are fixed per ``factory_meta``).
    """
    posts = [name for name, value in extras.items() if getattr(value, "FACTORY_BUILDER_PHASE", None) == _POST]
    key: tuple[Any, ...] = tuple(extras)
    if posts:
        key = (key, tuple((name, getattr(extras[name], _COUNTER, -1)) for name in posts))
    plans = _PLANS.get(factory_meta)
    if plans is None:
        plans = _PLANS[factory_meta] = {}
    plan = plans.get(key)
    if plan is None:
        stand_ins = {
            name: _PostSlot(name, getattr(extras[name], _COUNTER, -1)) if name in posts else _Slot(name)
            for name in extras
        }
        try:
            plan = _plan(factory_meta, stand_ins)
        except errors.FactoryError:
            _plan(factory_meta, extras)  # raises the same error, naming the values passed
            raise
        plans[key] = plan
    return _fill(plan[0], extras), _fill(plan[1], extras)


def _fill(entries: Any, extras: dict[str, Any]) -> dict[str, Entry]:
    """A plan's entries with every stand-in replaced by the value passed for it."""
    filled: dict[str, Entry] = {}
    for name, declaration, context in entries:
        if type(declaration) in _SLOTS:
            declaration = extras[declaration.key]
        if context:
            filled[name] = (
                declaration,
                {sub: extras[value.key] if type(value) in _SLOTS else value for sub, value in context},
            )
        else:
            filled[name] = (declaration, {})
    return filled


# -- evaluation ------------------------------------------------------------------------------
_GENERIC, _DEFAULT, _LAZY_FUNCTION, _LAZY_ATTRIBUTE = range(4)
_KINDS: dict[type, int] = {}


def _kind(cls: type) -> int:
    """How a declaration class is evaluated: its own ``evaluate_pre``, or factory_boy's default."""
    kind = _KINDS.get(cls)
    if kind is None:
        if cls.evaluate_pre is not BaseDeclaration.evaluate_pre or (  # type: ignore[attr-defined]
            cls.unroll_context is not BaseDeclaration.unroll_context  # type: ignore[attr-defined]
        ):
            kind = _GENERIC
        elif cls.evaluate is LazyFunction.evaluate:  # type: ignore[attr-defined]
            kind = _LAZY_FUNCTION
        elif cls.evaluate is LazyAttribute.evaluate:  # type: ignore[attr-defined]
            kind = _LAZY_ATTRIBUTE
        else:
            kind = _DEFAULT
        _KINDS[cls] = kind
    return kind


def _evaluate(declaration: Any, resolver: LeanResolver, step: LeanBuildStep, context: dict[str, Any]) -> Any:
    """``declaration.evaluate_pre(...)``, without its empty-context work when it is factory_boy's."""
    kind = _KINDS.get(type(declaration))
    if kind is None:
        kind = _kind(type(declaration))
    if kind == _GENERIC:
        return declaration.evaluate_pre(instance=resolver, step=step, overrides=context)
    defaults = declaration._defaults
    if not context and not defaults:
        if kind == _LAZY_FUNCTION:
            return declaration.function()
        if kind == _LAZY_ATTRIBUTE:
            return declaration.function(resolver)
        return declaration.evaluate(resolver, step, {})
    full = dict(defaults)
    full.update(context)
    if declaration.UNROLL_CONTEXT_BEFORE_EVALUATION and any(
        getattr(value, "FACTORY_BUILDER_PHASE", None) for value in full.values()
    ):
        full = step.recurse(factory.base.DictFactory, full, force_sequence=step.sequence)
    return declaration.evaluate(resolver, step, full)


class UnknownParameter(AttributeError):
    """factory_boy's error for a look-up of a name the factory does not declare, with its message
    (which prints the evaluated values) made only when it is shown: factory_boy looks names up
    expecting this error (``getattr(resolver, trait, False)`` for every trait), twice per object
    for a factory with two traits, and the values may be large objects."""

    def __init__(self, name: str, values: dict[str, Any], declarations: dict[str, Any]) -> None:
        super().__init__(name)
        self.name = name
        self._values = values
        self._declarations = declarations

    def __str__(self) -> str:
        return (
            f"The parameter {self.name!r} is unknown. Evaluated attributes are {self._values!r}, "
            f"definitions are {list(self._declarations)!r}."
        )


class LeanResolver:
    """factory_boy's ``Resolver`` (what ``LazyAttribute`` functions receive), with slots."""

    __slots__ = ("_lean_declarations", "_lean_pending", "_lean_step", "_lean_values")
    _lean_declarations: dict[str, Entry]
    _lean_pending: list[str]
    _lean_step: LeanBuildStep
    _lean_values: dict[str, Any]

    def __init__(self, declarations: dict[str, Entry], step: LeanBuildStep) -> None:
        set_slot = object.__setattr__
        set_slot(self, "_lean_declarations", declarations)
        set_slot(self, "_lean_step", step)
        set_slot(self, "_lean_values", {})
        set_slot(self, "_lean_pending", [])

    @property
    def factory_parent(self) -> Any:
        parent = self._lean_step.parent_step
        return parent.stub if parent else None

    def __repr__(self) -> str:
        return f"<Resolver for {self._lean_step!r}>"

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
                value = _evaluate(value, self, self._lean_step, context)
            finally:
                pending.pop()
        values[name] = value
        return value

    __getattr__ = _lean_get  # what declarations read (``o.name``), once normal lookup fails

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError("Setting of object attributes is not allowed")


_RESOLVER_ATTRIBUTES = frozenset(dir(LeanResolver))


class LeanBuildStep(BuildStep):
    """A ``BuildStep`` whose declarations are resolved by a :class:`LeanResolver`."""

    def resolve(self, declarations: dict[str, Entry]) -> None:
        stub = self.stub = LeanResolver(declarations, self)
        attributes = self.attributes
        get = stub._lean_get
        for name in declarations:
            # getattr() as factory_boy's resolve does, without its failed lookup first; a name the
            # resolver class itself has (``factory_parent``...) still goes through getattr().
            attributes[name] = getattr(stub, name) if name in _RESOLVER_ATTRIBUTES else get(name)


class LeanStepBuilder(StepBuilder):
    """``StepBuilder.build`` with a cached parse and a :class:`LeanBuildStep` (see module doc)."""

    def sequence_for(self, force_sequence: int | None) -> int:
        """The build's sequence number, picked as ``StepBuilder.build`` picks it: ``force_sequence``,
        else the builder's ``force_init_sequence``, else the factory's next (which advances it)."""
        if force_sequence is not None:
            return force_sequence
        if self.force_init_sequence is not None:
            return cast(int, self.force_init_sequence)
        return cast(int, self.factory_meta.next_sequence())

    def build(self, parent_step: Any = None, force_sequence: int | None = None) -> Any:
        meta = self.factory_meta
        pre, post = _parse(meta, self.extras)
        sequence = self.sequence_for(force_sequence)
        step = LeanBuildStep(builder=self, sequence=sequence, parent_step=parent_step)
        step.resolve(pre)
        args, kwargs = meta.prepare_arguments(step.attributes)
        instance = meta.instantiate(step=step, args=args, kwargs=kwargs)
        results = {
            name: declaration.evaluate_post(instance=instance, step=step, overrides=context)
            for name, (declaration, context) in post.items()
        }
        meta.use_postgeneration_results(instance=instance, step=step, results=results)
        step.stub = None  # the step and its resolver refer to each other: let refcounting free them
        return instance
