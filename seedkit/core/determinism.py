"""One context that owns everything that makes generated data vary.

``with seedkit.deterministic(seed=42, start="2025-01-01T00:00:00Z"):`` seeds and resets,
together: the clock, the ID generators, factory_boy's random generator, the Faker random
shared by every ``factory.Faker`` declaration (and Faker's ``unique`` memory), the
sequence counter and ``factory.Iterator`` positions of every factory, and the per-field
streams of :mod:`seedkit.values` declarations (kept in the context: ``value_streams``). Outside any ``with``
block, a seedkit factory call runs in a default context (seed 0) for its duration, so data is
deterministic even when nobody asked.

Importing seedkit changes nothing in the host process. The process-wide state a context
drives (factory_boy's and Faker's random, every factory's sequence and Iterator position,
Faker's faster paths from :mod:`seedkit.core.faker_paths`) is taken over when a
context is activated and given back, as it was, when the outermost activation ends.
"""

from __future__ import annotations

import functools
import hashlib
import itertools
import random
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import Any, NamedTuple

import factory
import factory.random
import faker.generator
from factory.base import BaseFactory
from factory.declarations import BaseDeclaration, PostGenerationDeclaration

from seedkit.core import faker_paths, wall_clock
from seedkit.core.clock import DEFAULT_START, Clock
from seedkit.core.ids import DEFAULT_INT_STRIDE, IdGenerator


def derive_seed(seed: int, *parts: object) -> int:
    """A seed for a sub-stream (a partition, a pack...) derived from a parent seed."""
    text = ":".join([str(seed), *map(str, parts)])
    return int.from_bytes(hashlib.blake2b(text.encode(), digest_size=8).digest(), "big")


class _FactoryState(NamedTuple):
    """The factories whose state a context owns, found by one walk of the factory classes.

    Attributes:
        counters: one concrete factory per sequence counter chain (a subclass of the same
            model shares its parent's counter: resetting the parent resets it).
        iterators: every ``factory.Iterator`` declared, each once.
        wall_clock: every declaration that took the wall clock at definition, each once
            (see :mod:`seedkit.core.wall_clock`).
    """

    counters: list[type[BaseFactory]]
    iterators: list[factory.Iterator]
    wall_clock: list[BaseDeclaration]


class _ClassInfo(NamedTuple):
    """What one factory class adds to a context's state (decided once: declarations and counter are fixed)."""

    ref: weakref.ref[type[BaseFactory]]
    owns_counter: bool
    new_declarations: tuple[BaseDeclaration, ...]  # Iterators and wall-clock declarations


class _Subclasses:
    """The direct subclasses of one factory class, described once each and forgotten when freed.

    A walk describes only the classes defined since the last one; a weak reference per class
    tells when one is freed (before its id can be reused). Only the classes that own a counter
    or declare a new ``factory.Iterator`` or wall-clock declaration are kept in ``relevant``.
    """

    def __init__(self, parent: type[BaseFactory]) -> None:
        self.parent = weakref.ref(parent)
        self.known: dict[int, weakref.ref[type[BaseFactory]]] = {}
        self.relevant: dict[int, _ClassInfo] = {}
        self.freed: list[int] = []

    def update(self, subclasses: list[type[BaseFactory]]) -> None:
        """Forget the classes freed since the last walk, describe the new ones.

        ``__subclasses__()`` lists classes in the order they were defined, so the new ones are
        its last; anything else (``__bases__`` reassigned...) falls back to comparing every id.
        """
        while self.freed:
            key = self.freed.pop()
            self.known.pop(key, None)
            self.relevant.pop(key, None)
        extra = len(subclasses) - len(self.known)
        if extra == 0:
            return
        new = subclasses[-extra:] if extra > 0 else []
        if extra < 0 or any(id(sub) in self.known for sub in new):
            alive = set(map(id, subclasses))
            for key in [key for key in self.known if key not in alive]:
                del self.known[key]
                self.relevant.pop(key, None)
            new = [sub for sub in subclasses if id(sub) not in self.known]
        for sub in new:
            key = id(sub)
            self.known[key] = weakref.ref(sub, functools.partial(_note_freed, self.freed, key))
            info = _describe(sub)
            if info.owns_counter or info.new_declarations:
                self.relevant[key] = info


def _note_freed(freed: list[int], key: int, _ref: object) -> None:
    freed.append(key)  # only appends: it may run during a walk, whenever the collector runs


# By id of a factory class that has subclasses; an entry names its class weakly.
_SUBCLASSES: dict[int, _Subclasses] = {}


def _factory_state() -> _FactoryState:
    """Walk every factory class alive (factory_boy keeps no registry) for counters and Iterators.

    ``__subclasses__()`` holds classes weakly, but a freed factory class (pytest-factoryboy
    makes one per model fixture per test) lingers until a full garbage collection, which may be
    thousands of tests away. So the walk's Python work is per class that owns a counter or
    declares a new ``factory.Iterator``, per class with subclasses, and per class defined since
    the last walk; the other subclasses cost it a C call each (see :class:`_Subclasses`).
    """
    counters: dict[int, type[BaseFactory]] = {}
    iterators: dict[int, factory.Iterator] = {}
    wall_clock_declarations: dict[int, BaseDeclaration] = {}
    visited: set[int] = set()
    stack: list[type[BaseFactory]] = [BaseFactory]
    while stack:
        parent = stack.pop()
        subclasses = type.__subclasses__(parent)
        if id(parent) in visited or not subclasses:
            continue
        visited.add(id(parent))
        entry = _SUBCLASSES.get(id(parent))
        if entry is None or entry.parent() is not parent:
            entry = _SUBCLASSES[id(parent)] = _Subclasses(parent)
        entry.update(subclasses)
        for key, info in entry.relevant.items():
            cls = info.ref()
            if cls is None:
                continue
            if info.owns_counter:
                counters[key] = cls
            for declaration in info.new_declarations:
                if isinstance(declaration, factory.Iterator):
                    iterators.setdefault(id(declaration), declaration)
                else:
                    wall_clock_declarations.setdefault(id(declaration), declaration)
        stack.extend(itertools.compress(subclasses, map(type.__subclasses__, subclasses)))
    if len(_SUBCLASSES) > 2 * len(visited) + 64:  # entries of parents freed since
        for key in [key for key in _SUBCLASSES if key not in visited]:
            del _SUBCLASSES[key]
    return _FactoryState(
        list(counters.values()), list(iterators.values()), list(wall_clock_declarations.values())
    )


def _describe(factory_class: type[BaseFactory]) -> _ClassInfo:
    meta: Any = getattr(factory_class, "_meta", None)
    # counter_reference is None in a class whose definition raised (e.g. a bad Meta option):
    # it is unusable, and only waits for the garbage collector.
    usable = meta is not None and meta.counter_reference is not None
    # A counter is shared down a model's subclasses (and from an abstract base with a model):
    # resetting the first concrete class of the chain resets it for its subclasses.
    base_meta: Any = getattr(meta.base_factory, "_meta", None) if usable else None
    covered = (
        base_meta is not None
        and not getattr(base_meta, "abstract", True)
        and getattr(base_meta, "counter_reference", None) is meta.counter_reference
    )
    owns_counter = usable and not meta.abstract and not covered
    inherited: set[int] = set()
    for base in factory_class.__bases__:
        if isinstance(base, type) and issubclass(base, BaseFactory) and getattr(base, "_meta", None):
            inherited.update(map(id, _declared(base)))
    new = tuple(it for it in _declared(factory_class) if id(it) not in inherited) if usable else ()
    return _ClassInfo(weakref.ref(factory_class), owns_counter, new)


def _declared(factory_class: type[BaseFactory]) -> tuple[BaseDeclaration, ...]:
    """Every ``factory.Iterator`` and wall-clock declaration (:mod:`seedkit.core.wall_clock`) one
    factory declares, also inside traits, ``Maybe`` and sub-factory arguments."""
    found: dict[int, BaseDeclaration] = {}
    seen: set[int] = set()
    stack: list[object] = [factory_class._meta.declarations]
    while stack:
        value = stack.pop()
        if id(value) in seen:
            continue
        seen.add(id(value))
        if isinstance(value, factory.Iterator) or wall_clock.holds_wall_clock(value):
            found[id(value)] = value
        elif isinstance(value, dict):
            stack.extend(value.values())
        elif isinstance(value, list | tuple):
            stack.extend(value)
        elif isinstance(value, BaseDeclaration | PostGenerationDeclaration):
            stack.extend(getattr(value, "__dict__", {}).values())
    return tuple(found.values())


def _iterator_positions(iterators: list[factory.Iterator]) -> list[tuple[factory.Iterator, int]]:
    """How far each Iterator has been read (what it returned so far, replayed after a reset)."""
    positions = []
    for declaration in iterators:
        reader = declaration.iterator
        if reader is not None:
            positions.append((declaration, len(reader.past_elements) - len(reader.next_elements)))
    return positions


def _rewind_iterators(
    iterators: list[factory.Iterator], positions: list[tuple[factory.Iterator, int]]
) -> None:
    """Put every Iterator back where ``positions`` says (at the start when it is not listed)."""
    where = {id(declaration): position for declaration, position in positions}
    for declaration in iterators:
        reader = declaration.iterator
        if reader is not None:
            reader.next_elements.clear()
            reader.next_elements.extend(
                itertools.islice(reader.past_elements, where.get(id(declaration), 0), None)
            )


class Deterministic:
    """The active source of time, IDs and randomness.

    Attributes:
        seed: the root seed.
        partition: the partition number; IDs and sequences of different partitions never collide.
        clock: the injected :class:`~seedkit.core.clock.Clock`.
        ids: the injected :class:`~seedkit.core.ids.IdGenerator`.
        random: a ``random.Random`` for seedkit's own choices.
        value_streams: the per-field value streams of :mod:`seedkit.values` declarations, by
            stream key; emptied by every reset (the declarations start their streams again).
    """

    def __init__(
        self,
        seed: int = 0,
        start: str | datetime = DEFAULT_START,
        step: str | float | timedelta = "1s",
        partition: int = 0,
        int_stride: int = DEFAULT_INT_STRIDE,
    ) -> None:
        self.seed = seed
        self.partition = partition
        self.int_stride = int_stride
        self.clock = Clock(start, step)
        self.ids = IdGenerator(seed, partition, int_stride)
        self.random = random.Random()
        self.value_streams: dict[Any, Any] = {}
        self._stream_seed = derive_seed(seed, "partition", partition)
        self._paused: _GlobalStreams | None = None  # its streams while another context is active

    @property
    def sequence_start(self) -> int:
        """The first factory sequence number of this partition."""
        return self.partition * self.int_stride

    def reset(self) -> None:
        """Reset clock, IDs, factory_boy/Faker randomness and every factory sequence.

        Changes process-wide state (the random generators, sequences): call it while the
        context is active (:func:`activate` gives that state back when the block ends).
        """
        self.clock.reset()
        self.ids.reset()
        self._reset_streams()

    def _reset_streams(self, state: _FactoryState | None = None) -> None:
        """Reset what the context shares with factory_boy and Faker (not its clock and IDs)."""
        state = state or _factory_state()
        self.random.seed(self._stream_seed)
        self.value_streams = {}  # a new dict: declarations holding the old one see the reset
        factory.random.reseed_random(self._stream_seed)
        for fake in factory.Faker._FAKER_REGISTRY.values():
            fake.unique.clear()
        for factory_class in state.counters:
            factory_class.reset_sequence(self.sequence_start, force=True)
        _rewind_iterators(state.iterators, [])  # factory.Iterator declarations start again, like sequences

    def for_partition(self, partition: int) -> Deterministic:
        """A sibling context with the same seed and clock settings for another partition."""
        return Deterministic(self.seed, self.clock.start, self.clock.step, partition, self.int_stride)


_default = Deterministic()
_stack: list[Deterministic] = []


def current() -> Deterministic:
    """The active deterministic context (the default one, seed 0, outside every block)."""
    return _stack[-1] if _stack else _default


def deterministic_active() -> bool:
    """Whether a ``deterministic()`` block (or a factory call's own default context) is active."""
    return bool(_stack)


def clock() -> Clock:
    """The active clock."""
    return current().clock


def ids() -> IdGenerator:
    """The active ID generator."""
    return current().ids


@contextmanager
def ensure_active() -> Iterator[Deterministic]:
    """The active context for one generation; outside every block, the default one for its duration.

    seedkit's factory bases wrap each top-level build or create in it, so a factory used outside
    ``deterministic()`` still draws from seeded streams, and the host process's random generators
    and sequences are as they were once the call returns.
    """
    if _stack:
        yield _stack[-1]
        return
    with activate(_default) as context:
        yield context


class _GlobalStreams:
    """The process-wide state a context shares with factory_boy: its and Faker's random, and sequences."""

    def __init__(self, state: _FactoryState) -> None:
        # Saved separately: factory.random.get_random_state() would overwrite Faker's with factory_boy's.
        self.factory_random = factory.random.randgen.getstate()
        self.faker_random = faker.generator.random.getstate()
        self.sequences = [(f, f._meta._counter.seq if f._meta._counter else None) for f in state.counters]
        self.iterators = _iterator_positions(state.iterators)

    def restore(self, state: _FactoryState) -> None:
        """Give the streams back; ``state``: the factories alive now (Iterators not saved start over)."""
        factory.random.randgen.setstate(self.factory_random)
        faker.generator.random.setstate(self.faker_random)
        for factory_class, seq in self.sequences:
            if seq is not None:
                factory_class.reset_sequence(seq, force=True)
                continue
            # Never set up: back to "not set up" (factory_boy sets it up on first use, calling
            # the factory's own _setup_next_sequence then, not now), together with every subclass
            # that shares the counter, so that they keep sharing the one set up later.
            _unset_counter(factory_class)
        _rewind_iterators(state.iterators, self.iterators)


class Checkpoint:
    """Everything the active context would draw next, saved so that a trial can be undone.

    The clock, the ID counters, seedkit's own random, factory_boy's and Faker's random, Faker's
    ``unique`` memory, every factory sequence, the positions of every declared
    ``factory.Iterator`` and of ``extra_iterators`` (Iterators passed at a call site), and the
    :mod:`seedkit.values` streams (``value_streams``). State kept elsewhere (a user's own
    counters in a closure) is not covered.
    """

    def __init__(self, extra_iterators: tuple[factory.Iterator, ...] = ()) -> None:
        self.context = current()
        self._state = _factory_state()
        self._iterators = [*self._state.iterators, *extra_iterators]
        self._streams = _GlobalStreams(self._state)
        self._positions = _iterator_positions(self._iterators)
        self._now = self.context.clock.peek()
        self._ids = self.context.ids.counters()
        self._random = self.context.random.getstate()
        self._unique = {
            id(fake): {key: set(seen) for key, seen in fake.unique._seen.items()}
            for fake in factory.Faker._FAKER_REGISTRY.values()
        }
        self._values = {key: stream.copy() for key, stream in self.context.value_streams.items()}

    def restore(self) -> None:
        """Put every saved stream back where it was when the checkpoint was taken."""
        context = self.context
        self._streams.restore(self._state)
        _rewind_iterators(self._iterators, self._positions)
        context.clock.set(self._now)
        context.ids.restore(self._ids)
        context.random.setstate(self._random)
        for fake in factory.Faker._FAKER_REGISTRY.values():
            fake.unique._seen = {key: set(seen) for key, seen in self._unique.get(id(fake), {}).items()}
        # A new dict: declarations that cached a stream of the old one look it up again. Streams
        # made since the checkpoint are dropped (made again from their seed when next asked).
        context.value_streams = {key: stream.copy() for key, stream in self._values.items()}


def _unset_counter(factory_class: type[BaseFactory]) -> None:
    """Set ``factory_class``'s sequence counter, and its subclasses' copies of it, back to None."""
    counter = factory_class._meta._counter
    factory_class._meta._counter = None
    if counter is None:
        return
    stack = list(factory_class.__subclasses__())
    while stack:
        sub = stack.pop()
        meta = getattr(sub, "_meta", None)
        if meta is not None and meta._counter is counter:
            meta._counter = None
        stack.extend(sub.__subclasses__())


@contextmanager
def activate(context: Deterministic, *, freeze: bool = False) -> Iterator[Deterministic]:
    """Make an existing context the active one for the ``with`` block, continuing where it left off.

    A context activated for the first time is reset first. On exit, the context keeps its
    streams for a later activation and the outer context continues as if the block had not run.
    """
    state = _factory_state()
    outer = _GlobalStreams(state)
    paused, context._paused = context._paused, None
    if not _stack:
        faker_paths.install()  # Faker's own values and draws, computed faster
    _stack.append(context)
    if paused is None:
        context._reset_streams(state)  # a new context's clock and IDs are at their start already
    else:
        paused.restore(state)
    try:
        if freeze:
            with frozen(context, state):
                yield context
        else:
            yield context
    finally:
        state = _factory_state()
        context._paused = _GlobalStreams(state)
        _stack.remove(context)
        outer.restore(state)
        if not _stack:
            faker_paths.uninstall()


@contextmanager
def frozen(context: Deterministic, state: _FactoryState | None = None) -> Iterator[Deterministic]:
    """Make code seedkit does not control read ``context``'s clock for the ``with`` block.

    ``datetime.now()``, ``date.today()`` and ``time.time()`` are frozen at the clock (freezegun,
    :meth:`~seedkit.core.clock.Clock.freeze`; moving the clock moves them), and ``factory.fuzzy``
    ranges whose end was read from the wall clock when their factory was defined end at the
    clock instead (:mod:`seedkit.core.wall_clock`). Nothing happens when the clock is frozen
    already. Seeding runs (``seedkit seed``, the pytest plugin's seeding, ``apply_packs``,
    partitions) run in it.
    """
    if context.clock.frozen:
        yield context
        return
    declarations = (state or _factory_state()).wall_clock
    with wall_clock.reading_clock(context.clock, declarations), context.clock.freeze():
        yield context


@contextmanager
def deterministic(
    seed: int = 0,
    start: str | datetime = DEFAULT_START,
    step: str | float | timedelta = "1s",
    partition: int = 0,
    *,
    freeze: bool = False,
) -> Iterator[Deterministic]:
    """Activate a fresh, reset deterministic context for the ``with`` block.

    Args:
        seed: root seed of randomness and IDs.
        start: the clock's first instant (ISO-8601, UTC if naive).
        step: how far the clock moves after each read (``0`` freezes it).
        partition: partition number for parallel seeders.
        freeze: also freeze ``datetime.now()`` for the code under test, and end ``factory.fuzzy``
            ranges that ended "today" at the clock (:func:`frozen`).
    """
    with activate(Deterministic(seed, start, step, partition), freeze=freeze) as context:
        yield context
