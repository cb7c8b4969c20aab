"""The injected clock: frozen, or ticking by a fixed step from a chosen start.

Factories and fixture packs read time from the active :class:`Clock`, never from
``datetime.now()``. :meth:`Clock.freeze` bridges it to freezegun so the code under test
sees the same time.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

from seedkit.errors import ConfigError

DEFAULT_START = datetime(2025, 1, 1, tzinfo=UTC)

REAL_TIME_MODULES = (
    "psycopg",
    "pymongo",
    "rich",
    "dask",
    "distributed",
    "tornado",
    "concurrent",
    "_pytest",
    "pluggy",
    "xdist",
    "execnet",
)
"""Modules that keep the wall clock under :meth:`Clock.freeze` (added to freezegun's own ignore
list): drivers' connection and server-selection timeouts, progress displays, Dask's and
pytest's timing. None of them makes data; freezegun neither patches nor fakes time for them."""

_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|w|d|h|m|s)")
_DURATION_UNITS = {
    "ms": timedelta(milliseconds=1),
    "s": timedelta(seconds=1),
    "m": timedelta(minutes=1),
    "h": timedelta(hours=1),
    "d": timedelta(days=1),
    "w": timedelta(weeks=1),
}


def parse_duration(text: str | float | int | timedelta) -> timedelta:
    """Parse ``"1s"``, ``"-3d"``, ``"2h30m"``, ``"250ms"`` or a number of seconds."""
    if isinstance(text, timedelta):
        return text
    if isinstance(text, int | float):
        return timedelta(seconds=text)
    raw = text.strip()
    sign = -1 if raw.startswith("-") else 1
    body = raw.lstrip("+-")
    parts = _DURATION_PART.findall(body)
    if not body or "".join(n + u for n, u in parts) != body:
        raise ConfigError(f"not a duration: {text!r} (use e.g. '1s', '-3d', '2h30m', '250ms')")
    total = sum((_DURATION_UNITS[unit] * float(num) for num, unit in parts), timedelta())
    return total * sign


def parse_instant(value: str | datetime) -> datetime:
    """Parse an ISO-8601 instant; naive values are taken as UTC, results are always UTC."""
    if isinstance(value, datetime):
        moment = value
    else:
        try:
            moment = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
        except ValueError as exc:
            raise ConfigError(f"not an ISO-8601 instant: {value!r}") from exc
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


class Clock:
    """A deterministic clock.

    ``step=0`` freezes it; otherwise every :meth:`now` returns the current instant and
    then moves forward by ``step``, so successive records get distinct, ordered times.
    """

    def __init__(self, start: str | datetime = DEFAULT_START, step: str | float | timedelta = 0) -> None:
        self.start = parse_instant(start)
        self.step = parse_duration(step)
        self._now = self.start
        self._frozen_factories: list[Any] = []

    def now(self) -> datetime:
        """The current instant; a ticking clock then advances by its step."""
        current = self._now
        if self.step:
            self._move(current + self.step)
        return current

    def peek(self) -> datetime:
        """The current instant without advancing."""
        return self._now

    def advance(self, delta: str | float | timedelta) -> datetime:
        """Move the clock forward (or back, with a negative delta)."""
        self._move(self._now + parse_duration(delta))
        return self._now

    def set(self, moment: str | datetime) -> None:
        """Jump to an instant."""
        self._move(parse_instant(moment))

    def reset(self) -> None:
        """Back to the start instant."""
        self._move(self.start)

    def relative(self, offset: str | float | timedelta) -> datetime:
        """The clock's start plus an offset such as ``"-3d"`` (does not move the clock)."""
        return self.start + parse_duration(offset)

    def _move(self, moment: datetime) -> None:
        self._now = moment
        for frozen in self._frozen_factories:
            frozen.move_to(moment)

    @contextmanager
    def freeze(self) -> Iterator[Clock]:
        """Freeze ``datetime.now()``/``date.today()``/``time.time()`` at this clock's time (freezegun).

        While active, moving this clock also moves the frozen time, so code seedkit does not
        control (Faker's relative dates, ``factory.fuzzy``'s ranges ending "today", a
        ``LazyFunction(datetime.now)``) reads the injected clock. Nested calls on a clock that is
        already frozen cost nothing. The modules of :data:`REAL_TIME_MODULES` keep the wall clock
        (their timeouts and progress need it) and are not scanned, which keeps an activation at
        about 5-10 ms in a process with 1,500 modules (freezegun caches what it found per module).
        """
        if self._frozen_factories:
            yield self
            return
        import freezegun

        with freezegun.freeze_time(self._now, ignore=list(REAL_TIME_MODULES), real_asyncio=True) as frozen:
            self._frozen_factories.append(frozen)
            try:
                yield self
            finally:
                self._frozen_factories.remove(frozen)

    @property
    def frozen(self) -> bool:
        """Whether :meth:`freeze` is active on this clock."""
        return bool(self._frozen_factories)

    def __repr__(self) -> str:
        return f"Clock(now={self._now.isoformat()}, step={self.step})"


def column_time(value: datetime, timezone: bool) -> datetime:
    """``value`` as a ``timestamptz`` (``timezone``) or ``timestamp`` column should get it.

    The one rule on every path (packs, per-object factories, bulk): a naive datetime means
    UTC. An aware one going into ``timestamp without time zone`` is converted to UTC first. So
    the stored instant never depends on the server's ``TimeZone``.
    """
    if timezone:
        return value if value.tzinfo is not None else value.replace(tzinfo=UTC)
    return value if value.tzinfo is None else value.astimezone(UTC).replace(tzinfo=None)
