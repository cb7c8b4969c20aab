"""Deterministic factory declarations: time, IDs, money and counts from the active context.

Each declaration reads :func:`seedkit.core.determinism.current` when a record is generated, not
when the factory class is defined, so the same factory follows whichever
``seedkit.deterministic(...)`` block is active::

    class UserFactory(SQLAlchemyFactory):
        id = UUIDFor("users")
        created_at = Now()
        trial_ends_at = Relative("+14d")
        balance = Money(0, 100)

Randomness comes from factory_boy's generator (``factory.random.randgen``), which the
deterministic context seeds together with Faker's shared generator.
"""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

import factory
import factory.random
from factory.declarations import BaseDeclaration

from seedkit.core.clock import parse_duration
from seedkit.core.determinism import clock, ids
from seedkit.errors import FactoryError

__all__ = ["IntegerFor", "Money", "Now", "ObjectIdFor", "Relative", "UUIDFor", "count_from"]

_CENTS = Decimal("0.01")
_RANGE = re.compile(r"^\s*(\d+)\s*-\s*(\d+)\s*$")


class Now(factory.LazyFunction):
    """The active clock's current instant; a ticking clock then moves on by its step."""

    def __init__(self) -> None:
        super().__init__(lambda: clock().now())


class Relative(factory.LazyFunction):
    """The active clock's start plus an offset such as ``"-3d"`` or ``"+2h30m"`` (no tick)."""

    def __init__(self, offset: str) -> None:
        parse_duration(offset)  # a bad offset fails when the factory is defined
        self.offset = offset
        super().__init__(lambda: clock().relative(offset))


class UUIDFor(factory.LazyFunction):
    """The next UUID of ``entity`` from the active ID generator."""

    def __init__(self, entity: str) -> None:
        self.entity = entity
        super().__init__(lambda: ids().uuid(entity))


class ObjectIdFor(factory.LazyFunction):
    """The next BSON ObjectId of ``entity`` from the active ID generator."""

    def __init__(self, entity: str) -> None:
        self.entity = entity
        super().__init__(lambda: ids().object_id(entity))


class IntegerFor(factory.LazyFunction):
    """The next integer key of ``entity``; keys of different partitions never collide."""

    def __init__(self, entity: str) -> None:
        self.entity = entity
        super().__init__(lambda: ids().integer(entity))


class Money(BaseDeclaration):
    """A ``Decimal`` with two places, uniformly drawn in ``[lo, hi]`` (whole cents)."""

    def __init__(self, lo: Decimal | int | str, hi: Decimal | int | str) -> None:
        super().__init__()
        self.lo_cents = int(Decimal(lo) * 100)
        self.hi_cents = int(Decimal(hi) * 100)
        if self.lo_cents > self.hi_cents:
            raise FactoryError(f"Money({lo}, {hi}): the lower bound is above the upper bound")

    def evaluate(self, instance: Any, step: Any, extra: Any) -> Decimal:
        cents = factory.random.randgen.randint(self.lo_cents, self.hi_cents)
        return (Decimal(cents) / 100).quantize(_CENTS)


def count_from(spec: int | str, *, what: str = "count") -> int:
    """A count from ``3``, ``"3"`` or a range ``"0-5"`` (drawn from the seeded random).

    Raises:
        FactoryError: naming ``what`` when ``spec`` is neither.
    """
    if isinstance(spec, bool):
        raise FactoryError(f"{what}: expected a number or a range like '0-5', got {spec!r}")
    if isinstance(spec, int):
        if spec < 0:
            raise FactoryError(f"{what}: expected a count >= 0, got {spec}")
        return spec
    if isinstance(spec, str):
        if spec.strip().isdigit():
            return int(spec)
        match = _RANGE.match(spec)
        if match:
            lo, hi = int(match[1]), int(match[2])
            if lo <= hi:
                return factory.random.randgen.randint(lo, hi)
    raise FactoryError(f"{what}: expected a number or a range like '0-5', got {spec!r}")
