"""One context that owns everything that makes generated data vary.

``with seedkit.deterministic(seed=42, start="2025-01-01T00:00:00Z"):`` seeds and resets,
together: the clock, the ID generators, factory_boy's random generator, the Faker random
shared by every ``factory.Faker`` declaration (and Faker's ``unique`` memory), and the
sequence counter and ``factory.Iterator`` positions of every factory. Outside any ``with``
block, a seedkit factory call runs in a default context (seed 0) for its duration, so data is
deterministic even when nobody asked.

Importing seedkit changes nothing in the host process. The process-wide state a context
drives (factory_boy's and Faker's random, every factory's sequence and Iterator position,
Faker's faster weighted picks from :mod:`seedkit.core.faker_weights`) is taken over when a
context is activated and given back, as it was, when the outermost activation ends.
"""

from __future__ import annotations

import hashlib
import itertools
import random
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta

import factory
import factory.random
import faker.generator
from factory.base import BaseFactory
from factory.declarations import BaseDeclaration, PostGenerationDeclaration

from seedkit.core import faker_weights
from seedkit.core.clock import DEFAULT_START, Clock
from seedkit.core.ids import DEFAULT_INT_STRIDE, IdGenerator


def derive_seed(seed: int, *parts: object) -> int:
    """A seed for a sub-stream (a partition, a pack...) derived from a parent seed."""
    text = ":".join([str(seed), *map(str, parts)])
    return int.from_bytes(hashlib.blake2b(text.encode(), digest_size=8).digest(), "big")


def _concrete_factories() -> list[type[BaseFactory]]:
    """Every non-abstract factory class alive (factory_boy keeps no registry).

    Read from ``__subclasses__()``, which holds classes weakly: a factory class nobody refers to
    any more (pytest-factoryboy makes one per model fixture per test) drops out once collected.
    """
    found: list[type[BaseFactory]] = []
    seen: set[type[BaseFactory]] = set()
    stack: list[type[BaseFactory]] = [BaseFactory]
    while stack:
        for sub in stack.pop().__subclasses__():
            if sub in seen:
                continue
            seen.add(sub)
            stack.append(sub)
            meta = getattr(sub, "_meta", None)
            # counter_reference is None in a class whose definition raised (e.g. a bad Meta option):
            # it is unusable, and only waits for the garbage collector.
            if meta is not None and not meta.abstract and meta.counter_reference is not None:
                found.append(sub)
    return found


def _sequence_state() -> list[tuple[type[BaseFactory], int | None]]:
    """Each factory's next sequence number, or None when its counter was never set up."""
    return [(f, f._meta._counter.seq if f._meta._counter else None) for f in _concrete_factories()]


_DECLARED_ITERATORS: weakref.WeakKeyDictionary[type[BaseFactory], tuple[factory.Iterator, ...]] = (
    weakref.WeakKeyDictionary()
)


def _declared_iterators(factory_class: type[BaseFactory]) -> tuple[factory.Iterator, ...]:
    """Every ``factory.Iterator`` one factory declares, also inside traits, ``Maybe`` and sub-factory arguments.

    Cached per class (declarations are fixed when a factory class is defined), weakly: the
    cache never keeps a class alive, so caching costs nothing for classes made per test.
    """
    cached = _DECLARED_ITERATORS.get(factory_class)
    if cached is not None:
        return cached
    found: dict[int, factory.Iterator] = {}
    seen: set[int] = set()
    stack: list[object] = [factory_class._meta.declarations]
    while stack:
        value = stack.pop()
        if id(value) in seen:
            continue
        seen.add(id(value))
        if isinstance(value, factory.Iterator):
            found[id(value)] = value
        elif isinstance(value, dict):
            stack.extend(value.values())
        elif isinstance(value, list | tuple):
            stack.extend(value)
        elif isinstance(value, BaseDeclaration | PostGenerationDeclaration):
            stack.extend(getattr(value, "__dict__", {}).values())
    cached = _DECLARED_ITERATORS[factory_class] = tuple(found.values())
    return cached


def _iterators() -> list[factory.Iterator]:
    """Every ``factory.Iterator`` of every factory alive, each once (subclasses share their parents')."""
    found: dict[int, factory.Iterator] = {}
    for factory_class in _concrete_factories():
        for declaration in _declared_iterators(factory_class):
            found.setdefault(id(declaration), declaration)
    return list(found.values())


def _iterator_positions() -> list[tuple[factory.Iterator, int]]:
    """How far each Iterator has been read (what it returned so far, replayed after a reset)."""
    positions = []
    for declaration in _iterators():
        reader = declaration.iterator
        if reader is not None:
            positions.append((declaration, len(reader.past_elements) - len(reader.next_elements)))
    return positions


def _rewind_iterators(positions: list[tuple[factory.Iterator, int]]) -> None:
    """Put every Iterator back where ``positions`` says (at the start when it is not listed)."""
    where = {id(declaration): position for declaration, position in positions}
    for declaration in _iterators():
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

    def _reset_streams(self) -> None:
        """Reset what the context shares with factory_boy and Faker (not its clock and IDs)."""
        self.random.seed(self._stream_seed)
        factory.random.reseed_random(self._stream_seed)
        for fake in factory.Faker._FAKER_REGISTRY.values():
            fake.unique.clear()
        for factory_class in _concrete_factories():
            factory_class.reset_sequence(self.sequence_start, force=True)
        _rewind_iterators([])  # factory.Iterator declarations start again, like sequences

    def for_partition(self, partition: int) -> Deterministic:
        """A sibling context with the same seed and clock settings for another partition."""
        return Deterministic(self.seed, self.clock.start, self.clock.step, partition, self.int_stride)


_default = Deterministic()
_stack: list[Deterministic] = []


def current() -> Deterministic:
    """The active deterministic context (the default one, seed 0, outside every block)."""
    return _stack[-1] if _stack else _default


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

    def __init__(self) -> None:
        # Saved separately: factory.random.get_random_state() would overwrite Faker's with factory_boy's.
        self.factory_random = factory.random.randgen.getstate()
        self.faker_random = faker.generator.random.getstate()
        self.sequences = _sequence_state()
        self.iterators = _iterator_positions()

    def restore(self) -> None:
        factory.random.randgen.setstate(self.factory_random)
        faker.generator.random.setstate(self.faker_random)
        for factory_class, seq in self.sequences:
            if seq is None:  # never set up: factory_boy sets it up again on first use
                factory_class._meta._counter = None
            else:
                factory_class.reset_sequence(seq, force=True)
        _rewind_iterators(self.iterators)


@contextmanager
def activate(context: Deterministic, *, freeze: bool = False) -> Iterator[Deterministic]:
    """Make an existing context the active one for the ``with`` block, continuing where it left off.

    A context activated for the first time is reset first. On exit, the context keeps its
    streams for a later activation and the outer context continues as if the block had not run.
    """
    outer = _GlobalStreams()
    paused, context._paused = context._paused, None
    if not _stack:
        faker_weights.install()  # same values as Faker's own picks, computed faster
    _stack.append(context)
    if paused is None:
        context._reset_streams()  # a new context's clock and IDs are at their start already
    else:
        paused.restore()
    try:
        if freeze:
            with context.clock.freeze():
                yield context
        else:
            yield context
    finally:
        context._paused = _GlobalStreams()
        _stack.remove(context)
        outer.restore()
        if not _stack:
            faker_weights.uninstall()


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
        freeze: also freeze ``datetime.now()`` for the code under test (freezegun).
    """
    with activate(Deterministic(seed, start, step, partition), freeze=freeze) as context:
        yield context
