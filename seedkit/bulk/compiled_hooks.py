"""What the compiled evaluator runs through factory_boy's own methods: ``Maybe`` (so traits),
declaration classes of one's own, post-generation declarations, ``_adjust_kwargs``.

:mod:`seedkit.bulk.compiled` turns the declaration kinds ordinary factories use into direct
calls. Everything else a factory may declare is compiled here, with factory_boy's semantics and
order of evaluation, so that such a factory still takes the compiled plan instead of the row
builder's resolver:

- ``Maybe`` (also what a ``Trait`` of ``class Params`` becomes: factory_boy turns each trait
  override into ``Maybe(SelfAttribute(".trait", default=False), yes=override, no=declared)``):
  the decider and both branches are compiled; per row the decider is evaluated at the
  ``Maybe``'s place (factory_boy's ``Maybe.evaluate_pre``), then the chosen branch. A decider
  that reads a name the call can never define (a trait not passed: ``SelfAttribute`` of a name
  that is not a field of this plan) always gives its default, so the branch is chosen once, when
  the plan is compiled: a trait's overrides are part of the plan of each call shape.
- any other pre-declaration (a ``BaseDeclaration`` subclass of one's own, ``Transformer``,
  ``factory.Dict``/``List``, a declaration with deep extras): its own ``evaluate_pre`` with the
  compiled stub as ``instance`` and the row's :class:`~seedkit.bulk.compiled.CompiledBuildStep`
  as ``step`` (which offers ``recurse``, ``builder``, ``sequence``, ``chain``, ``stub`` and
  ``attributes`` as factory_boy's ``BuildStep`` does);
- post-generation declarations, in factory_boy's order, after the record: a
  ``@factory.post_generation`` function is called as ``PostGeneration.call`` calls it
  (``function(record, create, extracted, **kwargs)``, its context unrolled by factory_boy when it
  holds declarations); a ``Maybe`` with post-generation branches chooses as
  ``Maybe.evaluate_post`` does (the decider on the row's stub); any other post-generation
  declaration through its own ``evaluate_post`` (``call(instance, step, context)``);
- ``_adjust_kwargs``, ``Meta.rename``, ``Meta.inline_args``: the record is made from factory_boy's
  ``prepare_arguments`` of the row's attributes, in declaration order, once per row
  (:class:`AdjustedPlan`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from factory import enums
from factory.declarations import (
    _UNSPECIFIED,
    BaseDeclaration,
    Maybe,
    PostGeneration,
    PostGenerationContext,
    PostGenerationDeclaration,
    RelatedFactory,
    RelatedFactoryList,
    SelfAttribute,
)

from seedkit.bulk.compiled import _STUB_ATTRIBUTES, CompiledPlan, CompiledStub, Step, _seen
from seedkit.bulk.row_builder import OrmView, RowRecord, _record
from seedkit.factories.builder import _DEFAULT, _POST, _evaluate, _kind, _Slot

__all__ = ["AdjustedPlan", "compile_post", "compile_pre"]

Context = tuple[tuple[str, Any], ...]
"""A declaration's context in a cached plan: ``(name, value or _Slot)`` pairs."""

CompileOne = Callable[[Any, Context], "Step | str"]
"""The compiler of one pre-declaration with its context (a :data:`~seedkit.bulk.compiled.Step`,
or why it has no direct call)."""

Runner = Any
"""A compiled post-generation declaration: an object with ``run(record, step) -> result``."""


def _filler(context: Context) -> Callable[[Any], dict[str, Any]]:
    """The function giving a row's context (a new dict, values passed at the call site filled in)."""
    if not any(type(value) is _Slot for _, value in context):
        fixed = dict(context)
        return lambda step: dict(fixed)

    def fill(step: Any) -> dict[str, Any]:
        extras = step.builder.extras
        return {key: extras[value.key] if type(value) is _Slot else value for key, value in context}

    return fill


def _generic(declaration: Any, context: Context) -> Step:
    """``declaration.evaluate_pre(instance=stub, step=step, overrides=context)`` (through the lean
    builder's ``_evaluate``, which skips only the empty-context work of factory_boy's own)."""
    if not context:
        if _kind(type(declaration)) == _DEFAULT and not getattr(declaration, "_defaults", None):
            evaluate = declaration.evaluate  # what _evaluate calls for it: its evaluate, no context
            return (lambda stub, step: evaluate(stub, step, {})), True, True
        return (lambda stub, step: _evaluate(declaration, stub, step, {})), True, True
    fill = _filler(context)
    return (lambda stub, step: _evaluate(declaration, stub, step, fill(step))), True, True


def compile_pre(declaration: Any, context: Context, names: frozenset[str], compile_one: CompileOne) -> Step:
    """A pre-declaration :mod:`seedkit.bulk.compiled` has no direct call for.

    ``names``: the pre-declarations of the plan (what the row's stub can define);
    ``compile_one``: the direct compiler, for a ``Maybe``'s decider and branches.
    """
    if isinstance(declaration, Maybe) and not context:
        return _compile_maybe(declaration, names, compile_one)
    return _generic(declaration, context)


def _direct(declaration: Any, names: frozenset[str], compile_one: CompileOne) -> Step:
    """A declaration compiled directly when :mod:`seedkit.bulk.compiled` can, else through its own
    ``evaluate_pre`` (``Maybe.evaluate_pre`` passes an empty context to its decider and branches)."""
    if isinstance(declaration, Maybe):
        return _compile_maybe(declaration, names, compile_one)
    if enums.get_builder_phase(declaration) != enums.BuilderPhase.ATTRIBUTE_RESOLUTION:
        return _generic(declaration, ())  # e.g. a post-generation decider: its evaluate_pre, as Maybe's
    compiled = compile_one(declaration, ())
    return _generic(declaration, ()) if isinstance(compiled, str) else compiled


def _constant_choice(decider: Any, names: frozenset[str]) -> tuple[bool, Any]:
    """``(True, value)`` when ``decider`` gives the same value for every row of the plan: a
    ``SelfAttribute`` of the row itself naming no field of the plan (``deepgetattr`` on the stub
    then raises ``AttributeError`` and returns the default), e.g. a trait not passed."""
    if type(decider) is not SelfAttribute or decider._defaults or decider.default is _UNSPECIFIED:
        return False, None
    name = decider.attribute_name.split(".", 1)[0]
    if decider.depth > 1 or name in names or name in _STUB_ATTRIBUTES:
        return False, None
    return True, decider.default


def _compile_maybe(maybe: Maybe, names: frozenset[str], compile_one: CompileOne) -> Step:
    """``Maybe.evaluate_pre``: the decider (with an empty context), then the branch it picks."""
    constant, choice = _constant_choice(maybe.decider, names)
    if constant:
        return _branch(maybe.yes if choice else maybe.no, names, compile_one)
    decide = _direct(maybe.decider, names, compile_one)[0]
    yes, _, yes_viewed = _branch(maybe.yes, names, compile_one)
    no, _, no_viewed = _branch(maybe.no, names, compile_one)

    def evaluate(stub: CompiledStub, step: Any) -> Any:
        return yes(stub, step) if decide(stub, step) else no(stub, step)

    return evaluate, True, yes_viewed or no_viewed


def _branch(target: Any, names: frozenset[str], compile_one: CompileOne) -> Step:
    """A ``Maybe`` branch: a declaration is evaluated (``_unwrap_evaluate_pre``), anything else is
    the value."""
    if isinstance(target, BaseDeclaration):
        return _direct(target, names, compile_one)
    value = _seen(target)
    return (lambda stub, step: value), False, False


# -- post-generation ---------------------------------------------------------------------------
class _Post:
    """A post-generation declaration called through its own ``evaluate_post``."""

    __slots__ = ("declaration", "fill")

    def __init__(self, declaration: Any, context: Context) -> None:
        self.declaration = declaration
        self.fill = _filler(context)

    def run(self, record: Any, step: Any) -> Any:
        """``declaration.evaluate_post(instance=record, step=step, overrides=context)``."""
        return self.declaration.evaluate_post(instance=record, step=step, overrides=self.fill(step))


class _Call(_Post):
    """A ``PostGenerationDeclaration`` that keeps factory_boy's ``evaluate_post``: its ``call``
    with the ``PostGenerationContext`` that ``evaluate_post`` makes (a context holding a
    declaration is unrolled by factory_boy's ``evaluate_post`` itself)."""

    __slots__ = ()

    def __init__(self, declaration: Any, context: Context) -> None:
        super().__init__(declaration, tuple({**declaration._defaults, **dict(context)}.items()))

    def run(self, record: Any, step: Any) -> Any:
        """``declaration.call(record, step, PostGenerationContext(...))``."""
        context = self.fill(step)
        for value in context.values():
            if getattr(value, "FACTORY_BUILDER_PHASE", None):
                return self.declaration.evaluate_post(instance=record, step=step, overrides=context)
        provided = "" in context
        extracted = context.pop("", None)
        return self.call(record, step, provided, extracted, context)

    def call(self, record: Any, step: Any, provided: bool, extracted: Any, extra: dict[str, Any]) -> Any:
        """The declaration's ``call``."""
        return self.declaration.call(record, step, PostGenerationContext(provided, extracted, extra))


class _Hook(_Call):
    """A ``@factory.post_generation`` function, called as ``PostGeneration.call`` calls it."""

    __slots__ = ("function",)

    def __init__(self, declaration: PostGeneration, context: Context) -> None:
        super().__init__(declaration, context)
        self.function = declaration.function

    def call(self, record: Any, step: Any, provided: bool, extracted: Any, extra: dict[str, Any]) -> Any:
        """``function(record, create, extracted, **kwargs)``."""
        return self.function(record, step.builder.strategy == enums.CREATE_STRATEGY, extracted, **extra)


class _MaybePost:
    """``Maybe.evaluate_post`` without a context: the decider evaluated on the row's stub, then the
    chosen branch (a post-generation declaration, or a value)."""

    __slots__ = ("decide", "no", "yes")

    def __init__(
        self,
        maybe: Maybe,
        names: frozenset[str],
        compile_related: Callable[..., Any],
        compile_one: CompileOne,
    ) -> None:
        constant, choice = _constant_choice(maybe.decider, names)
        self.decide = None if constant else _direct(maybe.decider, names, compile_one)[0]
        self.yes = _post_branch(maybe.yes, names, compile_related, compile_one)
        self.no = _post_branch(maybe.no, names, compile_related, compile_one)
        if constant:
            self.yes = self.no = self.yes if choice else self.no

    def run(self, record: Any, step: Any) -> Any:
        """The chosen branch's result."""
        decide = self.decide
        if decide is None or decide(step.stub, step):
            return self.yes.run(record, step)
        return self.no.run(record, step)


class _Value:
    """A ``Maybe`` branch that is a plain value: its result."""

    __slots__ = ("value",)

    def __init__(self, value: Any) -> None:
        self.value = value

    def run(self, record: Any, step: Any) -> Any:
        """The value."""
        return self.value


def _post_branch(
    target: Any, names: frozenset[str], compile_related: Callable[..., Any], compile_one: CompileOne
) -> Runner:
    if getattr(target, "FACTORY_BUILDER_PHASE", None) == _POST:
        return compile_post(target, (), names, compile_related, compile_one)
    return _Value(target)


def _keeps(cls: type, method: str, base: type) -> bool:
    return bool(getattr(cls, method) is getattr(base, method))


def compile_post(
    declaration: Any,
    context: Context,
    names: frozenset[str],
    compile_related: Callable[..., Any],
    compile_one: CompileOne,
) -> Runner:
    """A post-generation declaration of the plan, as an object whose ``run(record, step)`` gives
    what factory_boy's ``evaluate_post(instance=record, step=step, overrides=context)`` gives.

    ``compile_related``: the direct compiler of ``RelatedFactory``/``RelatedFactoryList``
    (returns why not as a string); ``compile_one``: that of a pre-declaration (a ``Maybe``'s
    decider).
    """
    if type(declaration) in (RelatedFactory, RelatedFactoryList):
        related = compile_related(declaration, context)
        if not isinstance(related, str):
            return related
    cls = type(declaration)
    if (
        isinstance(declaration, Maybe)
        and not context
        and enums.get_builder_phase(declaration.decider) == enums.BuilderPhase.ATTRIBUTE_RESOLUTION
    ):
        return _MaybePost(declaration, names, compile_related, compile_one)
    if not (
        isinstance(declaration, PostGenerationDeclaration)
        and _keeps(cls, "evaluate_post", PostGenerationDeclaration)
        and _keeps(cls, "unroll_context", BaseDeclaration)
    ):
        return _Post(declaration, context)
    if isinstance(declaration, PostGeneration) and _keeps(cls, "call", PostGeneration):
        return _Hook(declaration, context)
    return _Call(declaration, context)


# -- arguments adjusted by the factory -----------------------------------------------------------
def _raw(value: Any) -> Any:
    return value._seedkit_object if type(value) is OrmView else value


class AdjustedPlan(CompiledPlan):
    """The plan of a factory that adjusts its arguments (``_adjust_kwargs``, ``Meta.rename``,
    ``Meta.inline_args``): the record is made from factory_boy's ``prepare_arguments`` of the
    row's attributes (every pre-declaration, ``Params`` too, in declaration order), as the
    per-object path makes the object."""

    __slots__ = ()

    def record(self, rows: Any, values: dict[str, Any]) -> RowRecord:
        """What ``_create`` would get from ``prepare_arguments``, as a record."""
        attributes = {name: _raw(values[name]) for name in self.names}
        args, kwargs = rows.factory_class._meta.prepare_arguments(attributes)
        return _record(rows.factory_class, rows.model, args, kwargs)
