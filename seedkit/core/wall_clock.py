"""Factory declarations that took the wall clock when their factory was defined.

Freezing time while seeding (:meth:`seedkit.core.clock.Clock.freeze`) makes ``datetime.now()``
read the injected clock, but two kinds of declaration took the wall clock earlier:

- ``LazyFunction(datetime.now)`` (or ``datetime.utcnow``, ``date.today``, ``time.time``...)
  holds the real function itself, which freezegun cannot replace: while seeding,
  :func:`reading_clock` gives it a function that looks the name up when called (so
  freezegun's is found);
- ``FuzzyDate(start)``, ``FuzzyDateTime(start)`` and ``FuzzyNaiveDateTime(start)`` take their
  end, when none is given, from ``date.today()`` / ``datetime.now()`` *when the declaration is
  made*: at class definition, usually when the factory module is imported, so two seedings on
  different days draw from different ranges. While seeding, :func:`reading_clock` moves such an
  end to the injected clock's instant.

Both are put back when the block ends.

An end is taken as read from the wall clock when it falls within this process's lifetime (the
default end, or an explicit ``end_date=date.today()``): an end written as a literal never
does, unless it names the very day the process runs. factory_boy keeps no trace of how an end
was given, so this is the one test there is (tests/test_ledger_app.py).
"""

from __future__ import annotations

import datetime as _dt
import os
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any, TypeGuard

import factory.fuzzy
from factory.declarations import BaseDeclaration

from seedkit.core.clock import Clock

FuzzyTime = factory.fuzzy.FuzzyDate | factory.fuzzy.BaseFuzzyDateTime
"""The declarations whose end may default to the wall clock."""

CLOCK_FUNCTIONS: dict[Callable[..., Any], Callable[..., Any]] = {
    _dt.datetime.now: lambda *args, **kwargs: _dt.datetime.now(*args, **kwargs),
    _dt.datetime.utcnow: lambda: _dt.datetime.utcnow(),
    _dt.datetime.today: lambda: _dt.datetime.today(),
    _dt.date.today: lambda: _dt.date.today(),
    time.time: lambda: time.time(),
    time.time_ns: lambda: time.time_ns(),
}
"""The standard library's wall-clock functions, each with a function that looks it up when called
(``datetime.datetime`` is freezegun's class while time is frozen)."""


def holds_wall_clock(declaration: object) -> TypeGuard[BaseDeclaration]:
    """Whether ``declaration`` is a fuzzy date range or a ``LazyFunction`` of a wall-clock function."""
    if isinstance(declaration, FuzzyTime):
        return True
    return isinstance(declaration, factory.LazyFunction) and _clock_function(declaration.function) is not None


def _clock_function(function: object) -> Callable[..., Any] | None:
    return next((late for known, late in CLOCK_FUNCTIONS.items() if function == known), None)


_IMPORTED_AT = time.time()


def process_started() -> float:
    """When this process started (Unix seconds): from ``/proc`` on Linux, or when seedkit was imported if earlier."""
    try:
        with open(f"/proc/{os.getpid()}/stat") as stat_file:
            fields = stat_file.read().rsplit(")", 1)[1].split()
        with open("/proc/stat") as stat_file:
            boot = next(int(line.split()[1]) for line in stat_file if line.startswith("btime "))
        started = boot + int(fields[19]) / os.sysconf("SC_CLK_TCK") - 1
    except (OSError, ValueError, IndexError, StopIteration):
        return _IMPORTED_AT
    return min(_IMPORTED_AT, started)  # the earlier, also when time.time() is faked (freezegun, faketime)


def _from_wall_clock(declaration: FuzzyTime, since: float, now: float) -> bool:
    if isinstance(declaration, factory.fuzzy.FuzzyDate):
        end = _dt.date.fromordinal(declaration.end_date)
        first = _dt.datetime.fromtimestamp(since).date()
        return first <= end <= _dt.datetime.fromtimestamp(now).date()
    end_dt: _dt.datetime = declaration.end_dt
    moment = end_dt.timestamp()  # a naive end is local time, as datetime.now() gave it
    return since <= moment <= now


@contextmanager
def reading_clock(clock: Clock, declarations: Sequence[object]) -> Iterator[None]:
    """For the ``with`` block, make ``declarations`` (those :func:`holds_wall_clock` found) read
    ``clock``: a ``LazyFunction`` of a wall-clock function calls it by name, a fuzzy range whose
    end was read from the wall clock ends at ``clock``'s current instant (its date for
    ``FuzzyDate``, naive UTC for ``FuzzyNaiveDateTime``). Everything is given back afterwards.

    Call it before freezing time at ``clock``: the wall clock is what ``time.time()`` says
    then (the factories were defined on the same clock, even when it is itself faked).
    """
    if not declarations:
        yield
        return
    now = time.time()
    since = process_started()
    instant = clock.peek()
    changed: list[tuple[object, str, Any]] = []
    for declaration in declarations:
        if isinstance(declaration, factory.LazyFunction):
            late = _clock_function(declaration.function)
            if late is not None:
                changed.append((declaration, "function", declaration.function))
                declaration.function = late
            continue
        if not isinstance(declaration, FuzzyTime) or not _from_wall_clock(declaration, since, now):
            continue
        if isinstance(declaration, factory.fuzzy.FuzzyDate):
            changed.append((declaration, "end_date", declaration.end_date))
            declaration.end_date = max(declaration.start_date, instant.date().toordinal())
        else:
            end = instant if declaration.end_dt.tzinfo is not None else instant.replace(tzinfo=None)
            changed.append((declaration, "end_dt", declaration.end_dt))
            declaration.end_dt = max(declaration.start_dt, end)
    try:
        yield
    finally:
        for declaration, attribute, value in reversed(changed):
            setattr(declaration, attribute, value)
