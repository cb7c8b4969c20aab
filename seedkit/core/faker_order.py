"""Faker data whose order depends on the process's string hashes, put in a stable order.

Some of Faker's provider data is built from a ``set`` when its module is imported: Faker 40's
``it_IT`` address provider builds ``cities`` as ``list({...})``. A set of strings iterates in
the order of the strings' hashes, and Python salts those per process (``PYTHONHASHSEED``), so
``Faker("it_IT").city()`` gives other cities in every process even with ``seed_instance(1)``.
seedkit promises the same data for the same seed in any process, so every Faker seedkit draws
from (``factory.Faker``'s, :mod:`seedkit.generate.pools`'s) gets, on its provider *instances*,
a sorted copy of each such list. Faker's classes and the host's own Faker instances are left
alone.

Which lists: Faker cannot say, and the order a list had in another process cannot be known
in this one, so the list is recognised by its order. A set of strings iterates in the order of
its table's slots, and a string's slot is ``hash(s) & mask`` (moved by a few slots on a
collision: CPython's ``Objects/setobject.c``). So in a list made from a set, consecutive items'
``hash & mask`` mostly rise for one of the few table sizes a set of that length can have: over
300 random sets of 20 to 1,000 strings, at least 84% of consecutive pairs rose, against at most
74% for the same strings shuffled. A list of at least :data:`MIN_LENGTH` distinct strings with
at least :data:`RISING` of its pairs rising is taken as hash-ordered. Shorter lists are not
judged (too few pairs to tell); ``tests/test_faker_order.py`` checks, for every locale and
provider of the installed Faker, that provider data is the same under two hash seeds.
"""

from __future__ import annotations

import itertools
import weakref
from collections.abc import Sequence
from typing import Any

import faker

MIN_LENGTH = 20
"""Shortest list judged: with fewer pairs a shuffled list rises too often by chance."""

RISING = 0.8
"""Share of consecutive pairs whose ``hash & mask`` rises above which a list is hash-ordered."""

_stable_generators: weakref.WeakSet[faker.Generator] = weakref.WeakSet()
"""The generators already put in order."""

_stable_fakers: dict[int, faker.Faker] = {}
"""``id`` -> the ``faker.Faker`` proxies :func:`stable` has seen (kept, so an ``id`` is not reused;
they are ``factory.Faker``'s registry's, which keeps them for the process's life anyway)."""

_judged: dict[tuple[type, str], bool] = {}
"""(provider class, attribute) -> whether its data is hash-ordered: judged once per process."""


def hash_ordered(items: Sequence[Any]) -> bool:
    """Whether ``items`` (distinct strings) are in the order a Python ``set`` of them iterates.

    Tries the table sizes a set of ``len(items)`` can have (the next power of two up to 16
    times it) and answers True when, for one of them, at least :data:`RISING` of consecutive
    pairs have a rising ``hash(item) & (size - 1)``. False for fewer than :data:`MIN_LENGTH`
    items, items that are not all ``str``, or repeated items (a set has none).
    """
    n = len(items)
    if n < MIN_LENGTH or not all(type(item) is str for item in items) or len(set(items)) != n:
        return False
    hashes = [hash(item) for item in items]
    size = 8
    while size < n:
        size *= 2
    for _ in range(5):
        mask = size - 1
        slots = [h & mask for h in hashes]
        rising = sum(a <= b for a, b in itertools.pairwise(slots))
        if rising >= RISING * (n - 1):
            return True
        size *= 2
    return False


def stabilize(fake: faker.Faker | faker.Generator) -> None:
    """Give ``fake``'s providers a sorted copy of every hash-ordered list they draw from.

    ``fake``: a ``faker.Faker`` proxy (every locale's generator) or one ``Generator``. Sets
    instance attributes on its provider objects only, once per generator; idempotent.
    """
    generators = fake._factories if isinstance(fake, faker.Faker) else [fake]
    for generator in generators:
        if generator in _stable_generators:
            continue
        for provider in generator.providers:
            cls = type(provider)
            for name, value in vars_of(cls):
                key = (cls, name)
                if key not in _judged:
                    _judged[key] = hash_ordered(value)
                if _judged[key]:
                    setattr(provider, name, type(value)(sorted(value)))
        _stable_generators.add(generator)


def stable(fake: faker.Faker) -> faker.Faker:
    """``fake`` after :func:`stabilize` (a set lookup once it is done): for per-call use."""
    if id(fake) not in _stable_fakers:
        stabilize(fake)
        _stable_fakers[id(fake)] = fake
    return fake


def vars_of(cls: type) -> list[tuple[str, Any]]:
    """The list and tuple class attributes of a provider class and its bases (data, not methods)."""
    found: dict[str, Any] = {}
    for klass in reversed(cls.__mro__):
        for name, value in vars(klass).items():
            if type(value) in (list, tuple):
                found[name] = value
            else:
                found.pop(name, None)
    return list(found.items())
