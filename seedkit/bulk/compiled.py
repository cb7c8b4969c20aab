"""The compiled evaluator of the row path: a factory's declarations as a plan of direct calls.

:class:`~seedkit.bulk.row_builder.RowStepBuilder` builds a record through factory_boy's
machinery: a resolver object per row that looks every declaration up, checks its builder phase
and kind, and evaluates it through ``evaluate_pre``. For the declaration kinds ordinary
factories use, that machinery costs several times what the values cost. So, once per factory
and *shape* of call (the keyword names passed, and the type of each value passed), the row path
compiles a :class:`CompiledPlan`: the factory's pre-declarations in factory_boy's evaluation
order (``parse_declarations``' order, cached by :func:`seedkit.factories.builder._parse`), each
turned into one function that makes its value with the call factory_boy's ``evaluate`` would
make:

- plain values: the value (an ORM object wrapped in an :class:`~seedkit.bulk.row_builder.OrmView`);
- ``Sequence`` / ``LazyAttributeSequence``: ``function(n)`` / ``function(stub, n)``;
- ``LazyFunction`` (so seedkit's ``Now``, ``UUIDFor``, ``IntegerFor``...) and ``LazyAttribute``:
  ``function()`` / ``function(stub)``;
- ``SelfAttribute``, ``Iterator`` (also passed at the call site), fuzzy declarations,
  ``seedkit.core.declarations.Money``: their own ``evaluate``, without a context to unroll;
- ``factory.Faker``: ``Faker._get_faker(locale).format(provider, **params)``, what
  ``Faker.evaluate`` does (same generator, same locale lookup, same arguments);
- ``seedkit.values`` declarations: the next value of the declaration's stream;
- ``SubFactory``: factory_boy's ``evaluate`` (the parent built first, with its deep extras);
- ``RelatedFactory`` / ``RelatedFactoryList`` after the record, as the row builder does; other
  post-generation declarations after it too, in factory_boy's order (see
  :mod:`seedkit.bulk.compiled_hooks`).

A row is evaluated into a :class:`CompiledStub`, whose ``__dict__`` receives values as they are
made: declarations read evaluated fields as plain attributes, and ``__getattr__`` only handles
a field not evaluated yet, which it evaluates first (factory_boy's on-demand order; a cycle
raises ``CyclicDefinitionError``). Every random draw, sequence, Iterator step and ID therefore
comes in the order of the per-object path. A plan's steps, and the copy of its visible values
into the record, its post-generation declarations, run as one Python function generated once
per plan (:func:`_generated_run`): the same calls, without a loop over the steps.

``Maybe`` (so traits), declaration classes of one's own, post-generation declarations and
``_adjust_kwargs``/``Meta.rename``/``inline_args`` are compiled by :mod:`seedkit.bulk.compiled_hooks`
(through factory_boy's own methods where there is no direct call). What is still not compiled (a
field named like one of the stub's own attributes, a value passed at the call site of a kind
not listed in ``_SLOT_KINDS``, a post-generation declaration passed at the call site, a call that
does not parse): :func:`compile_plan` returns the reason, and that factory keeps the row
builder's resolver (:attr:`seedkit.bulk.row_builder.RowStepBuilder` falls back per factory and
shape of call, never per row).
"""

from __future__ import annotations

import functools
import itertools
import linecache
import sys
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any, cast
from uuid import UUID

import factory
import factory.fuzzy
import factory.random
from factory import errors
from factory.base import BaseFactory, FactoryOptions, _Counter
from factory.declarations import (
    _UNSPECIFIED,
    SKIP,
    BaseDeclaration,
    Iterator,
    LazyAttribute,
    LazyAttributeSequence,
    LazyFunction,
    RelatedFactory,
    RelatedFactoryList,
    SelfAttribute,
    Sequence,
    SubFactory,
)
from factory.declarations import logger as _factory_logger
from factory.utils import ResetableIterator

from seedkit.bulk.row_builder import (
    _MAPPED,
    OrmView,
    RowBuildStep,
    RowRecord,
    RowStepBuilder,
    _is_mapped,
    _nested_builder,
    check_record,
    join_pool,
    join_record,
)
from seedkit.core import determinism, faker_paths
from seedkit.core.clock import column_time
from seedkit.core.declarations import Money
from seedkit.core.faker_order import stable
from seedkit.factories.alchemy import _REUSABLE_MODELS
from seedkit.factories.builder import _RESOLUTION, _STEP_BUILDER, _evaluate, _Slot

if TYPE_CHECKING:
    from seedkit.values import ValueDeclaration

__all__ = ["CompiledPlan", "CompiledStub", "compile_plan", "roots"]

# A compiled declaration: (stub, step) -> value.
Evaluator = Any

# How a compiled declaration runs: its evaluator; whether it may read the stub (its name is
# then pending while it runs, for the cycle check); whether its value may be an ORM object
# (then seen through an OrmView by the declarations that read it).
Step = tuple[Evaluator, bool, bool]


def _seen(value: Any) -> Any:
    """``value``, or an :class:`OrmView` of it when it is an ORM instance (as the resolver shows it).

    A type found not mapped joins :data:`_PLAIN`, which the generated evaluation tests first.
    """
    cls = type(value)
    mapped = _MAPPED.get(cls)
    if mapped is None:
        mapped = _is_mapped(cls)
    if not mapped:
        _PLAIN.add(cls)
        return value
    return OrmView(value) if not isinstance(value, type) else value


class CompiledStub:
    """What declarations of a compiled row read (``o.name``): the values evaluated so far.

    Evaluated fields are plain instance attributes; reading one not evaluated yet evaluates it
    first (``__getattr__``), as factory_boy's ``Resolver`` does, with its cycle detection
    (``_lean_pending`` is also where :mod:`seedkit.values` finds the field being evaluated).
    """

    __slots__ = ("__dict__", "_compiled_step", "_lean_pending")
    _compiled_plan: CompiledPlan  # a class attribute of each plan's own subclass
    _compiled_step: Any
    _lean_pending: list[str]

    @property
    def factory_parent(self) -> Any:
        """The parent factory's stub (factory_boy's ``Resolver.factory_parent``)."""
        parent = self._compiled_step.parent_step
        return parent.stub if parent else None

    def __getattr__(self, name: str) -> Any:
        plan = self._compiled_plan
        compiled = plan.by_name.get(name)
        if compiled is None:
            if name.startswith("__") or name in _STUB_ATTRIBUTES:
                raise AttributeError(name)
            raise AttributeError(
                f"The parameter {name!r} is unknown. Evaluated attributes are {self.__dict__!r}, "
                f"definitions are {list(plan.names)!r}."
            )
        pending = self._lean_pending
        if name in pending:
            raise errors.CyclicDefinitionError(
                f"Cyclic lazy attribute definition for {name!r}; cycle found in {pending!r}."
            )
        evaluator, _, viewed = compiled
        pending.append(name)
        try:
            value = evaluator(self, self._compiled_step)
        finally:
            pending.pop()
        if viewed:
            value = _seen(value)
        self.__dict__[name] = value
        return value

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError("Setting of object attributes is not allowed")

    def __repr__(self) -> str:
        return f"<Resolver for {self._compiled_step!r}>"


_STUB_ATTRIBUTES = frozenset(dir(CompiledStub)) | {"_compiled_plan"}
_set_slot = object.__setattr__
_new = object.__new__


class CompiledBuildStep(RowBuildStep):
    """The build step of a compiled row: factory_boy's ``BuildStep`` (``builder``, ``sequence``,
    ``parent_step``, ``stub``, ``chain``, ``recurse``), with ``attributes`` read from the row's
    values.

    ``attributes`` is what factory_boy's ``BuildStep.resolve`` has filled at that point: the
    pre-declarations in declaration order up to the first one not evaluated yet (those evaluated
    on demand ahead of their turn are not in it yet), ORM objects as themselves.
    """

    def __init__(
        self, builder: Any, sequence: int, parent_step: Any, names: tuple[str, ...], values: dict[str, Any]
    ) -> None:
        self.builder = builder
        self.sequence = sequence
        self.parent_step = parent_step
        self.stub = None
        self._names = names
        self._values = values

    _complete: dict[str, Any] | None = None

    @property
    def attributes(self) -> dict[str, Any]:  # type: ignore[override]
        found = self._complete
        if found is not None:  # every declaration is resolved: one dict, as factory_boy keeps
            return found
        values = self._values
        found = {}
        for name in self._names:
            if name not in values:
                return found
            value = values[name]
            found[name] = value._seedkit_object if type(value) is OrmView else value
        self._complete = found
        return found

    def recurse(self, factory: Any, declarations: dict[str, Any], force_sequence: int | None = None) -> Any:
        """``BuildStep.recurse``: ``factory`` built with ``declarations`` under this step."""
        if not issubclass(factory, BaseFactory):
            raise errors.AssociatedClassError(
                f"{self!r}: Attempting to recursing into a non-factory object {factory!r}"
            )
        builder = self.builder.recurse(factory._meta, declarations)
        return builder.build(parent_step=self, force_sequence=force_sequence)


class CompiledPlan:
    """One factory's pre-declarations for one shape of call, compiled (see the module doc).

    Attributes:
        names: the pre-declarations' names, in evaluation order.
        steps: ``(name, evaluator, reads, viewed)`` in evaluation order (see :data:`Step`).
        by_name: the :data:`Step` of each name (for on-demand evaluation).
        visible: the names passed to the model (not ``exclude`` nor ``Params``), in order.
        post: the post-generation declarations, ``(name, runner)`` in factory_boy's order; a
            runner's ``run(record, step)`` gives the declaration's result.
        fields: ``(name, timezone)`` of the visible names; ``timezone`` is None but for a
            ``DateTime`` column (then a datetime value takes the column's form, as ``_record`` does).
        unset_volatile: ``(attribute, make, timezone)`` of the model's volatile columns (clock and
            ID defaults) that no visible name sets.
    """

    __slots__ = (
        "by_name",
        "checked",
        "fields",
        "names",
        "post",
        "run",
        "steps",
        "stub_class",
        "unset_volatile",
        "visible",
    )

    def __init__(
        self,
        steps: list[tuple[str, Step]],
        visible: tuple[str, ...],
        post: tuple[tuple[str, Any], ...],
        facts: Any,
    ) -> None:
        self.steps = tuple((name, *step) for name, step in steps)
        self.names = tuple(name for name, _ in steps)
        self.by_name = dict(steps)
        self.visible = visible
        self.post = post
        self.checked = False
        times = dict(facts.times)
        self.fields = tuple((name, times.get(name)) for name in visible)
        self.unset_volatile = tuple(
            (key, make, times.get(key)) for key, make in facts.volatile if key not in visible
        )
        self.stub_class = type("CompiledStub", (CompiledStub,), {"__slots__": (), "_compiled_plan": self})
        self.run: Any = None
        """``run(builder, parent_step, force_sequence) -> record``, generated at the first build
        (:func:`_generated_run`): the whole of :meth:`build` for this plan's factory."""

    def runner(self, rows: Any) -> Any:
        """This plan's generated ``run`` (made at the first call; ``rows``: the factory's facts)."""
        run = self.run
        if run is None:
            run = self.run = _generated_run(self, rows)
        return run

    def build(self, builder: Any, rows: Any, parent_step: Any, force_sequence: int | None) -> Any:
        """``RowStepBuilder.build`` with this plan: one record (its parents first, its related
        records after, all appended to ``builder.sink``)."""
        run = self.run
        if run is None:
            run = self.runner(rows)
        return run(builder, parent_step, force_sequence)

    def finish(self, rows: Any, step: Any, values: dict[str, Any]) -> Any:
        """The general end of a row (what the generated ``run`` does straight when the row has no
        ``SKIP`` and the plan's names are checked): its record, appended to the sink, then the
        post-generation declarations."""
        record = self.record(rows, values)
        step.builder.sink.append(record)
        if rows.after_postgeneration:
            results = {name: related.run(record, step) for name, related in self.post}
            step.builder.factory_meta.use_postgeneration_results(instance=record, step=step, results=results)
        else:
            for _, related in self.post:
                related.run(record, step)
        step.stub = None  # the step and its stub refer to each other: let refcounting free them
        return record

    def record(self, rows: Any, values: dict[str, Any]) -> RowRecord:
        """The row's :class:`RowRecord`: what ``_record`` makes of the visible values (ORM objects
        for their views, volatile columns filled, datetimes in their column's form)."""
        record = rows.record_class()
        fields = record.__dict__
        skipped = False
        for name, timezone in self.fields:
            value = values[name]
            if value is SKIP:
                skipped = True
                continue
            if type(value) is OrmView:
                value = value._seedkit_object
            elif timezone is not None and isinstance(value, datetime):
                value = column_time(value, timezone)
            fields[name] = value
        if skipped or not self.checked:
            check_record(rows.factory_class, rows.model, fields)
            self.checked = not skipped
        if skipped:  # a volatile column the plan sets may be unset in this row
            times = dict(rows.facts.times)
            _fill_volatile(
                fields,
                [(key, make, times.get(key)) for key, make in rows.facts.volatile if key not in fields],
            )
        else:
            _fill_volatile(fields, self.unset_volatile)
        join_record(record, rows.facts)
        return record


def _fill_volatile(fields: dict[str, Any], unset: Any) -> None:
    """Give each ``(column key, make, time zone or None)`` of ``unset`` a fresh value in ``fields``
    (a datetime in its column's form), as the per-object path's volatile defaults do."""
    for key, make, timezone in unset:
        value = make()
        if timezone is not None and isinstance(value, datetime):
            value = column_time(value, timezone)
        fields[key] = value


# -- generated evaluation --------------------------------------------------------------------
_PLAIN: set[type] = {str, int, float, bool, type(None), bytes, Decimal, datetime, date, time, timedelta, UUID}
"""Value types that are not mapped (so never ORM instances): a viewed value of one is kept
without a look-up. :func:`_seen` adds the types it finds not mapped (records' classes...)."""


def _inline(evaluator: Evaluator, call: str, function: Any) -> Evaluator:
    """Mark ``evaluator`` as the call ``call`` of ``function`` (``"f()"``, ``"f(stub)"``,
    ``"f(sequence)"``, ``"f(stub, sequence)"``): the generated evaluation calls ``function``
    directly, without the evaluator's own call."""
    return _expression(evaluator, "{f}" + call[1:], f=function)


def _expression(evaluator: Evaluator, template: str, **objects: Any) -> Evaluator:
    """Mark ``evaluator`` as the Python expression ``template``, which the generated evaluation
    puts in its place: ``{name}`` in it stands for ``objects[name]``; it may read the locals
    ``stub`` (the row's stub), ``sequence`` (the row's sequence number, an int) and ``builder``
    (the row's builder). It must make the calls the evaluator makes, in the same order."""
    evaluator.inline = (template, objects)
    return evaluator


# factory_boy's fuzzy declarations and Iterator as expressions: what their ``fuzz``/``evaluate``
# do, read from factory_boy 3.3 (factory/fuzzy.py, factory/declarations.py), with the same calls
# of factory_boy's random generator (``factory.random.randgen``, looked up per row as they do),
# so the same values. A subclass, a ``getter`` or other arguments keep the declaration's own call.
_CHOICE = "{random}.randgen.choice(choices) if (choices := {d}.choices) is not None else {d}.fuzz()"
"""``FuzzyChoice.fuzz`` without a getter: its choices, unrolled by ``fuzz`` at its first call."""
_INTEGER = "{random}.randgen.randrange({low}, {high_1}, {step})"
"""``FuzzyInteger.fuzz``: ``randrange(low, high + 1, step)``."""
_DECIMAL = "{Decimal}(str({random}.randgen.uniform({low}, {high}))).quantize({quantum})"
"""``FuzzyDecimal.fuzz``: ``Decimal(str(uniform(low, high))).quantize(Decimal(10) ** -precision)``,
the quantum (exact for an int precision, so the same in every decimal context) computed once."""


def _fuzzy_expression(declaration: Any) -> str | None:
    """The expression of a fuzzy declaration of one of factory_boy's classes, or None."""
    cls = type(declaration)
    if cls is factory.fuzzy.FuzzyChoice and declaration.getter is None:
        return _CHOICE
    if cls is factory.fuzzy.FuzzyInteger:
        return _INTEGER
    if cls is factory.fuzzy.FuzzyDecimal and type(declaration.precision) is int:
        return _DECIMAL
    return None


def _compile_fuzzy(declaration: Any) -> Step:
    """A fuzzy declaration: its ``fuzz()``, as an expression when :func:`_fuzzy_expression` has one."""
    fuzz = declaration.fuzz
    evaluator = lambda stub, step: fuzz()  # noqa: E731
    template = _fuzzy_expression(declaration)
    if template is None:
        return _inline(evaluator, "f()", fuzz), False, True
    objects: dict[str, Any] = {"random": factory.random, "d": declaration}
    if template is _INTEGER:
        objects.update(low=declaration.low, high_1=declaration.high + 1, step=declaration.step)
    elif template is _DECIMAL:
        objects.update(
            Decimal=Decimal,
            low=declaration.low,
            high=declaration.high,
            quantum=Decimal(10) ** -declaration.precision,
        )
    return _expression(evaluator, template, **objects), False, True


def iterator_next(declaration: Iterator) -> Any:
    """``factory.Iterator.evaluate``: the declaration's next value (its iterator made at the first
    call, its debug line logged, its getter applied), as factory_boy 3.3 gives it.

    factory_boy takes each value with ``next(iter(self.iterator))``, a new generator of its
    ``ResetableIterator`` per value; this takes the same value from the same ``ResetableIterator``
    state (the elements queued by a ``reset()`` first, else the next one, kept for a later
    ``reset()``), without a generator per value.
    """
    iterator = declaration.iterator
    if iterator is None:
        iterator = declaration.iterator = declaration.iterator_builder()
    _factory_logger.debug("Iterator: Fetching next value from %r", iterator)
    if type(iterator) is ResetableIterator:
        queued = iterator.next_elements
        if queued:
            value = queued.popleft()
        else:  # its end raises StopIteration, as next() of the generator does
            value = next(iterator.iterator)
            iterator.past_elements.append(value)
    else:
        value = next(iter(iterator))
    getter = declaration.getter
    return value if getter is None else getter(value)


def _generated_run(plan: CompiledPlan, rows: Any) -> Any:
    """The whole build of one record of ``plan`` as one Python function, ``run(builder,
    parent_step, force_sequence) -> record``, generated once per plan (with :func:`exec`, from the
    plan's own names and functions, nothing else; ``rows``: the factory's ``_FactoryRows``).

    It makes exactly the calls :meth:`CompiledPlan.finish` and the row builder make, in the same
    order, but straight, in one frame:

    - the sequence number as ``LeanStepBuilder.sequence_for`` picks it (factory_boy's
      ``FactoryOptions.next_sequence`` read as what it does once the counter exists: the counter's
      ``seq``, advanced);
    - the row's stub and :class:`CompiledBuildStep` (made without their ``__init__`` calls);
    - per declaration, its function called directly when the evaluator is a marked call
      (:func:`_inline`) instead of through the evaluator, the name set as pending only while a
      declaration that may read the row runs, the ``name in values`` test (evaluated on demand by
      an earlier declaration) only after a declaration that was handed the row, the ORM-view test
      skipped for plain value types (:data:`_PLAIN`);
    - the record's fields (an ORM object for its view, a datetime in its column's form), its
      unset volatile columns, its place in its parents' collections; a ``SKIP`` value (or a plan
      whose names are not checked yet, its first row) hands the row to ``plan.finish``;
    - the record appended to the sink, the post-generation declarations run.

    Python has no cheaper way to run a fixed sequence of calls than a function that makes them:
    the per-step loop, tuple unpacking, branches and the dozen calls per record it replaces cost
    about as much as an ordinary factory's values.
    """
    from seedkit.bulk import record_collections
    from seedkit.bulk.mutable_values import note_created

    facts = rows.facts
    namespace: dict[str, Any] = {
        "_PLAIN": _PLAIN,
        "_seen": _seen,
        "_new": _new,
        "_set_slot": _set_slot,
        "_Counter": _Counter,
        "CompiledBuildStep": CompiledBuildStep,
        "SKIP": SKIP,
        "OrmView": OrmView,
        "datetime": datetime,
        "column_time": column_time,
        "plan": plan,
        "rows": rows,
        "finish": plan.finish,
        "stub_class": plan.stub_class,
        "names": plan.names,
        "record_class": rows.record_class,
        "model": facts.model,
        "join_pool": join_pool,
        "_REUSABLE_MODELS": _REUSABLE_MODELS,
    }
    lines = [
        "def run(builder, parent_step, sequence):",
        "    if sequence is None:",  # LeanStepBuilder.sequence_for
        "        sequence = builder.force_init_sequence",
        "        if sequence is None:",
        "            meta = builder.factory_meta",
    ]
    if type(rows.factory_class._meta).next_sequence is FactoryOptions.next_sequence:
        lines += [
            "            counter = meta._counter",
            "            if type(counter) is _Counter:  # FactoryOptions.next_sequence, its counter made",
            "                sequence = counter.seq",
            "                counter.seq = sequence + 1",
            "            else:",
            "                sequence = meta.next_sequence()",
        ]
    else:
        lines.append("            sequence = meta.next_sequence()")
    # The stub, and the step as CompiledBuildStep.__init__ makes it (its __dict__ given whole).
    lines += [
        "    stub = _new(stub_class)",
        "    values = stub.__dict__",
        "    step = _new(CompiledBuildStep)",
        "    step.__dict__ = {'builder': builder, 'sequence': sequence, 'parent_step': parent_step,",
        "                     'stub': stub, '_names': names, '_values': values}",
        "    _set_slot(stub, '_compiled_step', step)",
        "    pending = []",
        "    _set_slot(stub, '_lean_pending', pending)",
    ]
    lines += _evaluation_lines(plan.steps, namespace)
    if type(plan).record is not CompiledPlan.record:  # the record is made otherwise (AdjustedPlan)
        lines.append("    return finish(rows, step, values)")
        return _define("run", lines, namespace)
    lines += [
        "    if not plan.checked:",
        "        return finish(rows, step, values)",
        "    record = _new(record_class)",
        "    fields = record.__dict__",
    ]
    for name, timezone in plan.fields:
        key = repr(name)
        lines += [
            f"    value = values[{key}]",
            "    if value is SKIP:",
            "        return finish(rows, step, values)",
            "    if type(value) is OrmView:",
            "        value = value._seedkit_object",
        ]
        if timezone is not None:
            lines += [
                "    elif isinstance(value, datetime):",
                f"        value = column_time(value, {timezone!r})",
            ]
        lines.append(f"    fields[{key}] = value")
    for i, (key, make, timezone) in enumerate(plan.unset_volatile):  # _fill_volatile
        namespace[f"volatile_{i}"] = make
        lines.append(f"    value = volatile_{i}()")
        if timezone is not None:
            lines += [
                "    if isinstance(value, datetime):",
                f"        value = column_time(value, {timezone!r})",
            ]
        lines.append(f"    fields[{key!r}] = value")
    # join_record, its per-model tests made here
    if facts.mutable:
        namespace.update(note_created=note_created, mutable=facts.mutable)
        lines.append("    note_created(record, mutable)")
    if facts.reverses:
        namespace.update(attach=record_collections.attach, reverses=facts.reverses)
        lines.append("    attach(record, reverses)")
    lines += [
        "    if model in _REUSABLE_MODELS:",
        "        join_pool(record, model)",
        "    builder.sink.append(record)",
    ]
    if plan.post and rows.after_postgeneration:
        namespace["post"] = plan.post
        lines += [
            "    results = {name: related.run(record, step) for name, related in post}",
            "    builder.factory_meta.use_postgeneration_results(instance=record, step=step, results=results)",
        ]
    elif rows.after_postgeneration:
        lines.append(
            "    builder.factory_meta.use_postgeneration_results(instance=record, step=step, results={})"
        )
    else:
        for i, (_, related) in enumerate(plan.post):
            namespace[f"post_{i}"] = related.run
            lines.append(f"    post_{i}(record, step)")
    lines += [
        "    step.stub = None  # the step and its stub refer to each other: let refcounting free them",
        "    return record",
    ]
    return _define("run", lines, namespace)


def _evaluation_lines(
    steps: tuple[tuple[str, Evaluator, bool, bool], ...], namespace: dict[str, Any]
) -> list[str]:
    """The lines of :func:`_generated_run` evaluating ``steps`` into ``values`` (see there); the
    functions they call are put into ``namespace``."""
    lines = []
    if any("sequence" in getattr(evaluator, "inline", ("",))[0] for _, evaluator, _, _ in steps):
        lines.append("    sequence = int(sequence)")
    handed = False  # whether a declaration so far was handed the row (and may have evaluated others)
    for i, (name, evaluator, reads, viewed) in enumerate(steps):
        inline = getattr(evaluator, "inline", None)
        if inline is not None:  # see _expression
            template, objects = inline
            for label, found in objects.items():
                namespace[f"{label}_{i}"] = found
            expression = template.format_map({label: f"{label}_{i}" for label in objects})
            passed = "stub" in template
        else:
            namespace[f"evaluate_{i}"] = evaluator
            expression = f"evaluate_{i}(stub, step)"
            passed = True
        key = repr(name)
        indent = "    "
        if handed:
            lines.append(f"    if {key} not in values:")
            indent = "        "
        if reads:
            lines += [
                f"{indent}pending.append({key})",
                f"{indent}try:",
                f"{indent}    value = {expression}",
                f"{indent}finally:",
                f"{indent}    pending.pop()",
            ]
        else:
            lines.append(f"{indent}value = {expression}")
        if viewed:
            lines.append(f"{indent}if type(value) not in _PLAIN:")
            lines.append(f"{indent}    value = _seen(value)")
        lines.append(f"{indent}values[{key}] = value")
        handed = handed or passed
    return lines


def _define(name: str, lines: list[str], namespace: dict[str, Any]) -> Any:
    """The function ``name`` defined by the source ``lines`` in ``namespace`` (its source kept for tracebacks)."""
    source = "\n".join(lines) + "\n"
    filename = f"<seedkit compiled plan {next(_plan_numbers)}>"
    linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
    exec(compile(source, filename, "exec"), namespace)
    return namespace[name]


_plan_numbers = itertools.count(1)


# -- compiling -------------------------------------------------------------------------------
def _function_of(cls: type, base: type) -> bool:
    """Whether ``cls`` evaluates as ``base`` does (factory_boy's ``evaluate_pre``, ``unroll_context``
    and ``evaluate`` of ``base``, not overridden)."""
    return (
        issubclass(cls, base)
        and cls.evaluate is base.evaluate  # type: ignore[attr-defined]
        and cls.evaluate_pre is BaseDeclaration.evaluate_pre  # type: ignore[attr-defined]
        and cls.unroll_context is BaseDeclaration.unroll_context  # type: ignore[attr-defined]
    )


def _has_declarations(values: dict[str, Any]) -> bool:
    return any(getattr(value, "FACTORY_BUILDER_PHASE", None) for value in values.values())


class _NoValueDeclaration:
    """Stands for ``seedkit.values.ValueDeclaration`` while that module is not loaded."""


def _value_declaration() -> Any:
    """``seedkit.values.ValueDeclaration`` when ``seedkit.values`` is loaded: no declaration can be
    one otherwise, and importing it (with the schema-driven generator it builds on) costs a
    fraction of a second a factory without ``seedkit.values`` should not pay."""
    module = sys.modules.get("seedkit.values")
    return module.ValueDeclaration if module is not None else _NoValueDeclaration


def _compile(declaration: Any) -> Step | str:
    """``(evaluator, reads)`` for one declaration of the factory (no call-site context), or why not."""
    if getattr(declaration, "FACTORY_BUILDER_PHASE", None) != _RESOLUTION:
        value = _seen(declaration)
        return _expression(lambda stub, step: value, "{v}", v=value), False, False
    cls = type(declaration)
    defaults = getattr(declaration, "_defaults", None) or {}
    ValueDeclaration = _value_declaration()
    if isinstance(declaration, ValueDeclaration):
        if (
            cls.evaluate_pre is not ValueDeclaration.evaluate_pre
            or cls.evaluate is not ValueDeclaration.evaluate
        ):
            return f"{cls.__name__} overrides evaluate()"
        if declaration.stream_name is None:
            return (lambda stub, step: declaration.evaluate(stub, step, {})), True, False
        return _stream_evaluator(declaration), declaration.finishes, False
    if cls is factory.Faker or (
        _function_of(cls, factory.Faker) and cls._get_faker is factory.Faker._get_faker
    ):
        if _has_declarations(defaults):
            return f"factory.Faker({declaration.provider!r}) has declarations as arguments"
        params = {key: value for key, value in defaults.items() if key != "locale"}
        return _faker_evaluator(declaration._get_faker, defaults.get("locale"), declaration.provider, params)
    if defaults:
        return f"{cls.__name__} has parameters ({', '.join(defaults)})"
    if _function_of(cls, LazyAttributeSequence):
        function = declaration.function
        return (
            _inline(lambda stub, step: function(stub, int(step.sequence)), "f(stub, sequence)", function),
            True,
            True,
        )
    if _function_of(cls, Sequence):
        function = declaration.function
        return _inline(lambda stub, step: function(int(step.sequence)), "f(sequence)", function), False, True
    if _function_of(cls, LazyFunction):
        function = declaration.function
        return _inline(lambda stub, step: function(), "f()", function), False, True
    if _function_of(cls, LazyAttribute):
        function = declaration.function
        return _inline(lambda stub, step: function(stub), "f(stub)", function), True, True
    if _function_of(cls, SelfAttribute):
        return _compile_self_attribute(declaration), True, True
    if _function_of(cls, Iterator):
        return (
            _expression(
                lambda stub, step: iterator_next(declaration), "{f}({d})", f=iterator_next, d=declaration
            ),
            False,
            True,
        )
    if (
        cls.evaluate_pre is BaseDeclaration.evaluate_pre
        and cls.unroll_context is BaseDeclaration.unroll_context
    ):
        if (
            issubclass(cls, factory.fuzzy.BaseFuzzyAttribute)
            and cls.evaluate is factory.fuzzy.BaseFuzzyAttribute.evaluate
        ):
            return _compile_fuzzy(declaration)
        if cls is Money:
            evaluate = declaration.evaluate
            return (lambda stub, step: evaluate(stub, step, {})), False, False
    return f"{cls.__name__} is not a compiled declaration kind"


def _faker_evaluator(get_faker: Any, locale: Any, provider: str, params: dict[str, Any]) -> Step:
    """``factory.Faker(provider, **params)``: ``stable(get_faker(locale)).format(provider, **params)``, with the
    function ``format`` would call found once (:func:`seedkit.core.faker_paths.format_call`) and
    called directly while it holds: same proxy, same Faker install, same provider method."""
    found: list[Any] = [None, -1, None, None, None]  # proxy, epoch, generator __dict__, method, call

    def faker_value() -> Any:
        proxy = get_faker(locale)
        if proxy is found[0] and faker_paths.epoch == found[1] and found[2].get(provider) is found[3]:
            return found[4](**params)
        proxy = stable(proxy)  # Faker's hash-ordered data sorted once (seedkit.core.faker_order)
        call = faker_paths.format_call(proxy, provider)
        if call is None:
            found[0] = None
            return proxy.format(provider, **params)
        function, holder = call
        found[:] = [proxy, faker_paths.epoch, holder, holder.get(provider), function]
        return function(**params)

    return _inline(lambda stub, step: faker_value(), "f()", faker_value), False, False


def _compile_self_attribute(declaration: SelfAttribute) -> Evaluator:
    """``SelfAttribute.evaluate``: ``deepgetattr`` of the row's stub (or, with ``..``, of an
    ancestor's stub), the default when a name on the way raises ``AttributeError``."""
    depth, default = declaration.depth, declaration.default
    if depth > 1:
        evaluate = declaration.evaluate
        return lambda stub, step: evaluate(stub, step, {})
    first, *rest = declaration.attribute_name.split(".")

    def read(stub: CompiledStub, step: Any) -> Any:
        value = getattr(stub, first)
        for name in rest:
            value = getattr(value, name)
        return value

    if default is _UNSPECIFIED:
        return read

    def read_or_default(stub: CompiledStub, step: Any) -> Any:
        try:
            return read(stub, step)
        except AttributeError:
            return default

    return read_or_default


def _stream_evaluator(declaration: ValueDeclaration) -> Evaluator:
    """The next value of a named ``seedkit.values`` stream (its cached stream, else ``evaluate``)."""

    finish = declaration.finish if declaration.finishes else None

    def next_value(stub: CompiledStub, step: Any) -> Any:
        cache = declaration._cache
        stack = determinism._stack
        streams = (stack[-1] if stack else determinism._default).value_streams
        if cache is None or cache[0] is not streams:
            return declaration.evaluate(stub, step, {})
        stream = cache[1]
        index = stream.index
        buffer = stream.buffer
        if index < len(buffer):  # ValueStream.next(), inlined
            stream.index = index + 1
            value = buffer[index]
        else:
            value = stream.next()
        return value if finish is None else finish(value, stub)

    return next_value


def _compile_subfactory(declaration: Any, context: tuple[tuple[str, Any], ...]) -> Evaluator | str:
    """A ``SubFactory`` with its defaults and deep extras (call-site values filled per row)."""
    cls = type(declaration)
    if not _function_of(cls, SubFactory) or cls.FORCE_SEQUENCE:
        return f"{cls.__name__} is not a compiled declaration kind"
    merged = dict(declaration._defaults)
    merged.update(context)  # factory_boy's order: the defaults, then the deep extras
    arguments = _arguments(tuple(merged.items()))
    child = _Child(declaration.get_factory)

    def subfactory(stub: CompiledStub, step: Any) -> Any:
        builder = step.builder
        return child.build_under(arguments(None, builder.extras), builder.strategy, builder.sink, step)

    return subfactory


def _arguments(template: tuple[tuple[str, Any], ...]) -> Any:
    """The function making a child's keyword arguments from ``template`` (``(name, value)`` pairs,
    a value a :class:`_Slot` for what the call passed or :data:`_RECORD` for the record):
    ``arguments(record, extras) -> dict``, a new dict per call, in the template's order.

    Generated as :func:`_generated_run` is: one dict display, where a loop over the template
    testing each value's kind cost a comprehension's frame and two tests per name per record.
    """
    namespace: dict[str, Any] = {}
    items = []
    for i, (key, value) in enumerate(template):
        if value is _RECORD:
            expression = "record"
        elif type(value) is _Slot:
            expression = f"extras[{value.key!r}]"
        else:
            namespace[f"c{i}"] = value
            expression = f"c{i}"
        items.append(f"{key!r}: {expression}")
    return _define(
        "arguments", ["def arguments(record, extras):", f"    return {{{', '.join(items)}}}"], namespace
    )


class _Child:
    """Builds the records of one sub-factory or related factory of a compiled plan.

    The child's call has the same shape every time (its keyword names are the declaration's,
    its values' types are fixed by the parent plan's shape), so the child's plan is found once,
    at the first call, and its generated ``run`` called directly after.
    """

    __slots__ = ("get_factory", "meta", "run")

    def __init__(self, get_factory: Any) -> None:
        self.get_factory = get_factory
        self.run: Any = None
        self.meta: Any = None

    def build_under(self, extra: dict[str, Any], strategy: str, sink: list[Any], parent_step: Any) -> Any:
        """The record for ``extra``, appended with its parents and children to ``sink``;
        ``parent_step``: the parent's build step, or None for a root."""
        run = self.run
        if run is not None:  # the plan is the factory's: so is its meta
            # RowStepBuilder(meta, extra, strategy) with its sink: StepBuilder.__init__'s
            # attributes given as one __dict__, without the __init__ call (one per record).
            builder = _new(RowStepBuilder)
            builder.__dict__ = {
                "factory_meta": self.meta,
                "strategy": strategy,
                "extras": extra,
                "force_init_sequence": extra.pop("__sequence", None),
                "sink": sink,
            }
            return run(builder, parent_step, None)
        meta = self.get_factory()._meta
        builder = RowStepBuilder(meta, extra, strategy=strategy)
        builder.sink = sink
        rows, found = builder.plan()
        if rows.mapped and rows.row_path and type(found) is not str:
            self.run, self.meta = cast(CompiledPlan, found).runner(rows), meta
        return builder.build(parent_step=parent_step)


def roots(factory_class: type[Any], fields: dict[str, Any], sink: list[Any]) -> Any:
    """A function making one ``factory_class.create(**fields)`` on the row path per call (records to
    ``sink``), the plan found at the first call (every root of a volume has the same shape)."""
    child = _Child(lambda: factory_class)
    strategy = factory.enums.CREATE_STRATEGY
    nested = functools.partial(_nested_builder, sink)  # factories called by hooks: into the same sink

    def build_root() -> Any:
        token = _STEP_BUILDER.set(nested)  # building_with(nested), without a context manager per root
        try:
            return child.build_under(dict(fields), strategy, sink, None)
        finally:
            _STEP_BUILDER.reset(token)

    return build_root


_RECORD = object()
"""Stands for the record being built in a related factory's keyword arguments."""


class _Related:
    """A ``RelatedFactory``/``RelatedFactoryList`` after a compiled record (factory_boy's
    ``evaluate_post`` and ``call``: its defaults, the deep extras, the record under its name)."""

    __slots__ = ("arguments", "child", "declaration", "is_list")

    def __init__(self, declaration: Any, context: tuple[tuple[str, Any], ...]) -> None:
        merged = dict(declaration.defaults)
        merged.update(context)
        if declaration.name:
            merged[declaration.name] = _RECORD
        self.arguments = _arguments(tuple(merged.items()))
        self.declaration = declaration
        self.is_list = type(declaration) is RelatedFactoryList
        self.child = _Child(declaration.get_factory)

    def run(self, record: Any, step: Any) -> Any:
        """The related records of ``record`` (a list for ``RelatedFactoryList``)."""
        if self.is_list:
            size = self.declaration.size
            count = size if isinstance(size, int) else size()  # called first, as factory_boy does
            return [self._one(record, step) for _ in range(count)]
        return self._one(record, step)

    def _one(self, record: Any, step: Any) -> Any:
        builder = step.builder
        return self.child.build_under(
            self.arguments(record, builder.extras), builder.strategy, builder.sink, step
        )


def _compile_related(declaration: Any, context: tuple[tuple[str, Any], ...]) -> _Related | str:
    if type(declaration) not in (RelatedFactory, RelatedFactoryList):
        return f"{type(declaration).__name__} is not compiled (only RelatedFactory[List])"
    if declaration._defaults or any(key == "" for key, _ in context):
        return "a value passed for the related factory itself"
    return _Related(declaration, context)


def _compile_slot(key: str, context: tuple[tuple[str, Any], ...], passed: Any) -> Step | str:
    """A value passed at the call site as keyword ``key`` (``passed`` is this call's value; the plan is
    per type of value passed, so the kind holds for every call of this shape)."""
    if getattr(passed, "FACTORY_BUILDER_PHASE", None) != _RESOLUTION:
        return (lambda stub, step: step.builder.extras[key]), False, True
    ValueDeclaration = _value_declaration()

    if type(passed) is factory.Iterator and not context:

        def iterate(stub: CompiledStub, step: Any) -> Any:
            return iterator_next(step.builder.extras[key])

        return _expression(iterate, f"{{f}}(builder.extras[{key!r}])", f=iterator_next), False, True
    if isinstance(passed, (SubFactory, ValueDeclaration)) or type(passed) not in _SLOT_KINDS:
        return f"the value passed as {key}= ({type(passed).__name__}) is not compiled"

    def evaluate(stub: CompiledStub, step: Any) -> Any:
        extras = step.builder.extras
        filled = {sub: extras[value.key] if type(value) is _Slot else value for sub, value in context}
        return _evaluate(extras[key], cast(Any, stub), step, filled)

    return evaluate, True, True


_SLOT_KINDS = frozenset(
    {
        factory.Iterator,
        factory.Sequence,
        factory.LazyFunction,
        factory.LazyAttribute,
        factory.LazyAttributeSequence,
        factory.SelfAttribute,
        factory.Faker,
        factory.fuzzy.FuzzyChoice,
        factory.fuzzy.FuzzyInteger,
        factory.fuzzy.FuzzyDecimal,
        factory.fuzzy.FuzzyFloat,
        factory.fuzzy.FuzzyText,
        factory.fuzzy.FuzzyDate,
        factory.fuzzy.FuzzyDateTime,
        factory.fuzzy.FuzzyNaiveDateTime,
        Money,
    }
)
"""Declaration classes passed at the call site that are evaluated with the lean builder's evaluation
(factory_boy's, with the call's deep extras)."""


def compile_plan(
    factory_meta: Any,
    plan: Any,
    extras: dict[str, Any],
    hidden: frozenset[str],
    facts: Any,
    plain_arguments: bool = True,
) -> CompiledPlan | str:
    """Compile the cached parse ``plan`` (see :func:`seedkit.factories.builder._parse`) of one call's
    shape; ``extras``: one call of that shape; ``plain_arguments``: False when the factory adjusts
    its arguments (``_adjust_kwargs``, ``Meta.rename``/``inline_args``). Returns the plan, or why
    it cannot be compiled."""
    from seedkit.bulk import compiled_hooks  # it builds on this module

    pre, post = plan
    names = frozenset(name for name, _, _ in pre)
    steps: list[tuple[str, Step]] = []
    for name, declaration, context in pre:
        if name in _STUB_ATTRIBUTES:
            return f"its field {name!r} is named like an attribute of the row stub"
        compiled: Step | str
        if type(declaration) is _Slot:
            compiled = _compile_slot(declaration.key, context, extras[declaration.key])
            if isinstance(compiled, str):
                return f"{name}: {compiled}"
        else:
            compiled = _compile_one(declaration, context)
            if isinstance(compiled, str):  # Maybe, a class of one's own...: its own evaluate_pre
                compiled = compiled_hooks.compile_pre(declaration, context, names, _compile_one)
        steps.append((name, compiled))
    related = tuple(
        (name, compiled_hooks.compile_post(declaration, context, names, _compile_related, _compile_one))
        for name, declaration, context in post
    )
    visible = tuple(name for name, _ in steps if name not in hidden)
    kind = CompiledPlan if plain_arguments else compiled_hooks.AdjustedPlan
    return kind(steps, visible, related, facts)


def _compile_one(declaration: Any, context: tuple[tuple[str, Any], ...]) -> Step | str:
    """A declared pre-declaration with its context as one direct call, or why not."""
    if isinstance(declaration, SubFactory):
        subfactory = _compile_subfactory(declaration, context)
        return subfactory if isinstance(subfactory, str) else (subfactory, True, False)
    if context:
        return f"deep extras ({', '.join(key for key, _ in context)})"
    return _compile(declaration)
