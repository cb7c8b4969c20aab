"""Value providers: each makes one column's values for a batch of rows, from the batch's seeded random.

A provider is asked for a whole batch at once (:meth:`Provider.values` returns one value per
row) so its loop is a list comprehension over ``batch.rng``, not a Python call per row. Every
value depends only on the batch's random stream, its position (``batch.start``, the global
index of its first row) and the columns generated before it in the same batch
(``batch.done``), so the same partition always gives the same values, in any process.

This is the interface ordinary factories on the row engine (#11) build on: a provider is a
small object with ``values(batch) -> list`` and a ``describe()`` for ``seedkit plan``; add a
column rule by writing one (see docs/generate.md).
"""

from __future__ import annotations

import ipaddress
import random
import string
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

from psycopg.types.json import Jsonb
from psycopg.types.range import Range

from seedkit.core.ids import uuid4_from_int
from seedkit.generate.pools import pool


@dataclass
class Batch:
    """Rows ``start .. start + size - 1`` (global indexes in the table's volume) being generated.

    Attributes:
        rng: the partition's seeded random stream (shared by the batch's providers, in column order).
        start: the global index of the batch's first row (0-based).
        size: how many rows.
        done: the values of the columns generated so far, by column name.
        base: the deterministic clock's start: generated instants lie around it.
    """

    rng: random.Random
    start: int
    size: int
    done: dict[str, list[Any]] = field(default_factory=dict)
    base: datetime = datetime(2025, 1, 1, tzinfo=UTC)


class Provider:
    """Makes the values of one column (or a tuple per row for a composite foreign key)."""

    depends: tuple[str, ...] = ()
    """Columns of the same row this provider reads (generated before it)."""

    def values(self, batch: Batch) -> list[Any]:
        """One value per row of ``batch``."""
        raise NotImplementedError

    def describe(self) -> str:
        """A short description for ``seedkit plan``."""
        return type(self).__name__


@dataclass
class Constant(Provider):
    """The same value in every row."""

    value: Any

    def values(self, batch: Batch) -> list[Any]:
        return [self.value] * batch.size

    def describe(self) -> str:
        return f"constant {self.value!r}"


@dataclass
class Choice(Provider):
    """A value from ``options`` (``weights`` relative, uniform by default)."""

    options: Sequence[Any]
    weights: Sequence[float] | None = None
    label: str = ""

    def values(self, batch: Batch) -> list[Any]:
        return batch.rng.choices(self.options, self.weights, k=batch.size)

    def describe(self) -> str:
        if self.label:
            return self.label
        shown = ", ".join(repr(o) for o in list(self.options)[:4])
        return f"one of {shown}{', ...' if len(self.options) > 4 else ''}"


class Pooled(Choice):
    """A realistic value of a kind (``first_name``, ``city``...) from :func:`~seedkit.generate.pools.pool`."""

    def __init__(self, kind: str, locale: str = "en_US") -> None:
        super().__init__(pool(kind, locale), label=f"{kind} ({locale}, pool)")
        self.kind = kind


@dataclass
class Integers(Provider):
    """Whole numbers in ``[low, high]``, uniform."""

    low: int
    high: int

    def values(self, batch: Batch) -> list[Any]:
        low, span, r = self.low, self.high - self.low + 1, batch.rng.random
        return [low + int(r() * span) for _ in range(batch.size)]

    def describe(self) -> str:
        return f"integer {self.low}..{self.high}"


@dataclass
class Serial(Provider):
    """``start + offset + index * step`` for the row's global index: unique by construction (keys).

    ``offset`` is set by the run so the numbers continue after the rows already in the table.
    """

    start: int = 1
    step: int = 1
    offset: int = 0

    def values(self, batch: Batch) -> list[Any]:
        first = self.start + self.offset + batch.start * self.step
        return list(range(first, first + batch.size * self.step, self.step))

    def describe(self) -> str:
        return f"sequence from {self.start}"


@dataclass
class Decimals(Provider):
    """Numbers in ``[low, high]`` with ``scale`` decimal places (``numeric(p, s)``)."""

    low: Decimal
    high: Decimal
    scale: int = 2

    def values(self, batch: Batch) -> list[Any]:
        unit = Decimal(1).scaleb(-self.scale)
        low = int((self.low / unit).to_integral_value())
        span = int((self.high / unit).to_integral_value()) - low + 1
        r, scale = batch.rng.random, -self.scale
        return [Decimal(low + int(r() * span)).scaleb(scale) for _ in range(batch.size)]

    def describe(self) -> str:
        return f"decimal {self.low}..{self.high}"


@dataclass
class Floats(Provider):
    """Floating-point numbers in ``[low, high)``."""

    low: float
    high: float

    def values(self, batch: Batch) -> list[Any]:
        low, span, r = self.low, self.high - self.low, batch.rng.random
        return [low + r() * span for _ in range(batch.size)]

    def describe(self) -> str:
        return f"float {self.low}..{self.high}"


@dataclass
class Booleans(Provider):
    """True with probability ``p``."""

    p: float = 0.5

    def values(self, batch: Batch) -> list[Any]:
        r, p = batch.rng.random, self.p
        return [r() < p for _ in range(batch.size)]

    def describe(self) -> str:
        return "boolean"


@dataclass
class Instants(Provider):
    """Timestamps ``low``..``high`` seconds from the clock's start (aware for ``timestamptz``)."""

    low: float = -365 * 86400.0
    high: float = 0.0
    aware: bool = True
    floor: datetime | None = None
    """With ``ceiling``: instants in ``[floor, ceiling)`` instead (bounds from CHECKs or partitions)."""
    ceiling: datetime | None = None

    def values(self, batch: Batch) -> list[Any]:
        base = batch.base if self.aware else batch.base.replace(tzinfo=None)
        low, span, r = self.low, self.high - self.low, batch.rng.random
        if self.floor is not None and self.ceiling is not None:
            base, low, span = self.floor, 0, (self.ceiling - self.floor).total_seconds() - 1
        # timedelta(0, s) is timedelta(seconds=s) without parsing a keyword: 450 -> 320 ns a value
        return [base + timedelta(0, int(low + r() * span)) for _ in range(batch.size)]

    def describe(self) -> str:
        kind = "timestamptz" if self.aware else "timestamp"
        if self.floor is not None and self.ceiling is not None:
            return f"{kind} from {self.floor.isoformat()} to before {self.ceiling.isoformat()}"
        return f"{kind} in the {(self.high - self.low) / 86400:g} days before the clock start"


@dataclass
class Dates(Provider):
    """Dates ``low``..``high`` days from the clock's start."""

    low: int = -365
    high: int = -1
    floor: date | None = None
    """With ``ceiling``: dates in ``[floor, ceiling]`` instead (bounds from CHECKs or partitions)."""
    ceiling: date | None = None

    def values(self, batch: Batch) -> list[Any]:
        base = batch.base.date()
        low, span, r = self.low, self.high - self.low + 1, batch.rng.random
        if self.floor is not None and self.ceiling is not None:
            base, low, span = self.floor, 0, (self.ceiling - self.floor).days + 1
        return [base + timedelta(low + int(r() * span)) for _ in range(batch.size)]  # days, positional

    def describe(self) -> str:
        if self.floor is not None and self.ceiling is not None:
            return f"date from {self.floor.isoformat()} to {self.ceiling.isoformat()}"
        return f"date, days {self.low}..{self.high} from the clock start"


@dataclass
class Times(Provider):
    """Times of day (to the second)."""

    aware: bool = False

    def values(self, batch: Batch) -> list[Any]:
        r = batch.rng.random
        tz = UTC if self.aware else None
        out = []
        for _ in range(batch.size):
            seconds = int(r() * 86400)
            out.append(time(seconds // 3600, seconds // 60 % 60, seconds % 60, tzinfo=tz))
        return out


@dataclass
class Intervals(Provider):
    """Durations of ``low``..``high`` seconds."""

    low: int = 60
    high: int = 7 * 86400

    def values(self, batch: Batch) -> list[Any]:
        low, span, r = self.low, self.high - self.low + 1, batch.rng.random
        return [timedelta(0, low + int(r() * span)) for _ in range(batch.size)]  # seconds, positional


class Uuids(Provider):
    """Version-4 UUIDs from the seeded random."""

    def values(self, batch: Batch) -> list[Any]:
        bits = batch.rng.getrandbits
        return [uuid4_from_int(bits(128)) for _ in range(batch.size)]

    def describe(self) -> str:
        return "uuid4 (seeded)"


@dataclass
class Email(Provider):
    """``first.last<n>@domain`` from the row's name columns when it has them, else from pools."""

    first: str | None = None
    last: str | None = None
    locale: str = "en_US"

    def __post_init__(self) -> None:
        self.depends = tuple(c for c in (self.first, self.last) if c)

    def values(self, batch: Batch) -> list[Any]:
        rng = batch.rng
        firsts = (
            batch.done[self.first]
            if self.first
            else rng.choices(pool("first_name", self.locale), k=batch.size)
        )
        lasts = (
            batch.done[self.last] if self.last else rng.choices(pool("last_name", self.locale), k=batch.size)
        )
        domains = rng.choices(pool("domain", self.locale), k=batch.size)
        r = rng.random
        return [
            f"{local_part(f)}.{local_part(la)}{int(r() * 100)}@{d}"
            for f, la, d in zip(firsts, lasts, domains, strict=True)
        ]

    def describe(self) -> str:
        source = f"from {self.first}/{self.last}" if self.first or self.last else "from name pools"
        return f"email {source}"


_LOCAL_PARTS: dict[str, str] = {}


def local_part(name: str) -> str:
    """``name`` as the local part of an email address (lower case, letters and digits; memoized)."""
    found = _LOCAL_PARTS.get(name)
    if found is None:
        found = "".join(c for c in str(name).lower() if c.isalnum()) or "x"
        if len(_LOCAL_PARTS) < 100_000:
            _LOCAL_PARTS[name] = found
    return found


@dataclass
class Joined(Provider):
    """``template`` filled from other columns of the row (``"{first_name} {last_name}"``)."""

    template: str
    columns: tuple[str, ...]

    def __post_init__(self) -> None:
        self.depends = self.columns
        # The template with positions for names ("{0} {1}"): format(*row) costs a fifth of format(**dict).
        fields = {name: str(index) for index, name in enumerate(self.columns)}
        self._positional = "".join(
            literal.replace("{", "{{").replace("}", "}}")
            + (
                ""
                if name is None
                else "{"
                + fields.get(name, name)
                + (f"!{conv}" if conv else "")
                + (f":{spec}" if spec else "")
                + "}"
            )
            for literal, name, spec, conv in string.Formatter().parse(self.template)
        )

    def values(self, batch: Batch) -> list[Any]:
        parts = [batch.done[c] for c in self.columns]
        fill = self._positional.format
        return [fill(*row) for row in zip(*parts, strict=True)]

    def describe(self) -> str:
        return f"{self.template!r}"


@dataclass
class Composed(Provider):
    """``result``'s values over ``parts``: each part makes a column of the batch, in order, then ``result``
    reads them (through ``batch.done``), as a row's columns would be made.

    How a value made of several pooled ones (a full name, an address) is made from pools: e.g.
    ``Composed({"first": Pooled("first_name"), "last": Pooled("last_name")},
    Joined("{first} {last}", ("first", "last")))``.
    """

    parts: Mapping[str, Provider]
    result: Provider

    def values(self, batch: Batch) -> list[Any]:
        done: dict[str, list[Any]] = {}
        for name, part in self.parts.items():
            done[name] = part.values(Batch(batch.rng, batch.start, batch.size, done, batch.base))
        return self.result.values(Batch(batch.rng, batch.start, batch.size, done, batch.base))

    def describe(self) -> str:
        return self.result.describe()


@dataclass
class Mapped(Provider):
    """``function(value)`` of each of ``inner``'s values (no randomness of its own)."""

    inner: Provider
    function: Callable[[Any], Any]
    label: str = ""

    @property
    def depends(self) -> tuple[str, ...]:  # type: ignore[override]
        return self.inner.depends

    def values(self, batch: Batch) -> list[Any]:
        return list(map(self.function, self.inner.values(batch)))

    def describe(self) -> str:
        return self.label or self.inner.describe()


@dataclass
class Words(Provider):
    """``low``..``high`` words from a pool, joined by ``separator`` (titles, descriptions, slugs)."""

    low: int = 2
    high: int = 6
    separator: str = " "
    capitalize: bool = True
    kind: str = "word"
    locale: str = "en_US"

    def values(self, batch: Batch) -> list[Any]:
        words = pool(self.kind, self.locale)
        rng = batch.rng
        low, span, r = self.low, self.high - self.low + 1, rng.random
        counts = [low + int(r() * span) for _ in range(batch.size)]
        drawn = rng.choices(words, k=sum(counts))
        out = []
        at = 0
        sep = self.separator
        for count in counts:
            text = sep.join(drawn[at : at + count])
            at += count
            out.append(text[:1].upper() + text[1:] if self.capitalize else text)
        return out

    def describe(self) -> str:
        return f"{self.low}-{self.high} words"


@dataclass
class Pattern(Provider):
    """Strings matching a regular expression (CHECK ``~``), generated by ``rstr``'s xeger."""

    regex: str

    def values(self, batch: Batch) -> list[Any]:
        import rstr

        maker = rstr.Rstr(batch.rng)
        return [maker.xeger(self.regex) for _ in range(batch.size)]

    def describe(self) -> str:
        return f"matching {self.regex!r}"


@dataclass
class Digits(Provider):
    """``prefix`` followed by ``length`` random digits (phone numbers, codes)."""

    length: int
    prefix: str = ""

    def values(self, batch: Batch) -> list[Any]:
        r, top, width, prefix = batch.rng.random, 10**self.length, self.length, self.prefix
        return [f"{prefix}{int(r() * top):0{width}d}" for _ in range(batch.size)]

    def describe(self) -> str:
        return f"{self.prefix}{'#' * self.length}"


@dataclass
class Unique(Provider):
    """``inner``'s values made unique by the row's global index (``value-<n>``), within ``max_length``."""

    inner: Provider
    max_length: int | None = None

    @property
    def depends(self) -> tuple[str, ...]:  # type: ignore[override]
        return self.inner.depends

    def values(self, batch: Batch) -> list[Any]:
        raw = self.inner.values(batch)
        limit = self.max_length
        return [unique_text(value, number, limit) for number, value in enumerate(raw, batch.start + 1)]

    def describe(self) -> str:
        return f"{self.inner.describe()}, made unique by row number"


def unique_text(value: Any, number: int, max_length: int | None = None) -> str:
    """``value`` made unique by ``number`` (>= 0): ``text-<n>``, or ``local.<n>@domain`` for an email.

    ``<n>`` is ``number`` in base 36, so two different numbers never give the same text.
    Within ``max_length`` characters, the number is kept and the text cut.
    """
    suffix = _base36(number)
    text = str(value)
    if "@" in text:  # keep an email an email: the number goes before the @
        local, _, domain = text.partition("@")
        made = f"{local}.{suffix}@{domain}"
    else:
        made = f"{text}-{suffix}"
    if max_length is not None and len(made) > max_length:
        made = made[: max(0, max_length - len(suffix) - 1)] + "-" + suffix
        made = made[-max_length:] if len(made) > max_length else made
    return made


def _base36(number: int) -> str:
    digits = "0123456789abcdefghijklmnopqrstuvwxyz"
    out = ""
    while True:
        number, rest = divmod(number, 36)
        out = digits[rest] + out
        if not number:
            return out


@dataclass
class Truncated(Provider):
    """``inner``'s strings cut to ``length`` characters (``varchar(n)``); at least ``min_length`` (padded)."""

    inner: Provider
    length: int | None
    min_length: int = 0

    @property
    def depends(self) -> tuple[str, ...]:  # type: ignore[override]
        return self.inner.depends

    def values(self, batch: Batch) -> list[Any]:
        raw = self.inner.values(batch)
        n, low = self.length, self.min_length
        if low:
            raw = [v if len(v) >= low else (v + "x" * low)[: max(low, len(v))] for v in raw]
        return raw if n is None else [v[:n] for v in raw]

    def describe(self) -> str:
        return self.inner.describe() + (f", at most {self.length} chars" if self.length else "")


@dataclass
class JsonDocuments(Provider):
    """Small JSON objects (``jsonb``/``json``): a few typed keys."""

    binary: bool = True

    def values(self, batch: Batch) -> list[Any]:
        rng = batch.rng
        words = pool("word")
        r = rng.random
        wrap = Jsonb if self.binary else _Json
        return [
            wrap({"enabled": r() < 0.5, "level": int(r() * 10), "tag": w})
            for w in rng.choices(words, k=batch.size)
        ]

    def describe(self) -> str:
        return 'json object {"enabled", "level", "tag"}'


def _Json(value: Any) -> Any:
    from psycopg.types.json import Json

    return Json(value)


@dataclass
class Arrays(Provider):
    """Lists of ``low``..``high`` values of ``element`` (PostgreSQL arrays)."""

    element: Provider
    low: int = 0
    high: int = 3

    def values(self, batch: Batch) -> list[Any]:
        r = batch.rng.random
        low, span = self.low, self.high - self.low + 1
        counts = [low + int(r() * span) for _ in range(batch.size)]
        inner = self.element.values(Batch(batch.rng, batch.start, sum(counts), {}, batch.base))
        out, at = [], 0
        for count in counts:
            out.append(inner[at : at + count])
            at += count
        return out

    def describe(self) -> str:
        return f"array of {self.low}-{self.high} x {self.element.describe()}"


@dataclass
class Bytes(Provider):
    """``length`` random bytes."""

    length: int = 16

    def values(self, batch: Batch) -> list[Any]:
        bits, n = batch.rng.getrandbits, self.length
        return [bits(8 * n).to_bytes(n, "big") for _ in range(batch.size)]


@dataclass
class Addresses(Provider):
    """IPv4 addresses (``inet``) or /24 networks (``cidr``) in private ranges."""

    network: bool = False

    def values(self, batch: Batch) -> list[Any]:
        bits = batch.rng.getrandbits
        if self.network:
            return [ipaddress.IPv4Network(((10 << 24) | (bits(16) << 8), 24)) for _ in range(batch.size)]
        return [ipaddress.IPv4Address((10 << 24) | bits(24)) for _ in range(batch.size)]

    def describe(self) -> str:
        return "cidr 10.x.y.0/24" if self.network else "inet 10.x.y.z"


@dataclass
class Ranges(Provider):
    """Non-empty ranges ``[a, b)`` with ``a < b`` drawn from ``bound`` (``int4range``, ``tstzrange``...)."""

    bound: Provider

    def values(self, batch: Batch) -> list[Any]:
        inner = self.bound.values(Batch(batch.rng, batch.start, 2 * batch.size, {}, batch.base))
        out = []
        for a, b in zip(inner[::2], inner[1::2], strict=True):
            low, high = (a, b) if a <= b else (b, a)
            out.append(Range(low, high, "[]") if low == high else Range(low, high, "[)"))
        return out

    def describe(self) -> str:
        return f"range of {self.bound.describe()}"


@dataclass
class After(Provider):
    """The row's ``column`` plus ``low``..``high`` (seconds for instants, days for dates, units for numbers).

    How an order between two columns (CHECK ``a <= b``, ``created_at`` before ``updated_at``)
    holds by construction. ``strict``: never equal.
    """

    column: str
    low: float = 0
    high: float = 30 * 86400
    strict: bool = False

    def __post_init__(self) -> None:
        self.depends = (self.column,)

    def values(self, batch: Batch) -> list[Any]:
        r = batch.rng.random
        low = max(self.low, 1) if self.strict else self.low
        span = self.high - low
        out: list[Any] = []
        for value in batch.done[self.column]:
            if value is None:
                out.append(None)
                continue
            step = int(low + r() * span)
            if isinstance(value, datetime):
                out.append(value + timedelta(seconds=step))
            elif isinstance(value, date):
                out.append(value + timedelta(days=max(step // 86400, 1 if self.strict else 0)))
            elif isinstance(value, Decimal):
                out.append(value + Decimal(max(int(step) % 1000, 1 if self.strict else 0)))
            else:
                out.append(value + max(int(step) % 1000, 1 if self.strict else 0))
        return out

    def describe(self) -> str:
        return f"{'after' if self.strict else 'at or after'} {self.column}"


@dataclass
class Before(Provider):
    """The row's ``column`` minus a positive amount (the mirror of :class:`After`)."""

    column: str
    strict: bool = False

    def __post_init__(self) -> None:
        self.depends = (self.column,)

    def values(self, batch: Batch) -> list[Any]:
        after = After(self.column, 0, 30 * 86400, self.strict).values(batch)
        done = batch.done[self.column]
        return [None if v is None else v - (a - v) for v, a in zip(done, after, strict=True)]

    def describe(self) -> str:
        return f"{'before' if self.strict else 'at or before'} {self.column}"


@dataclass
class Sometimes(Provider):
    """``inner``'s value, or NULL with probability ``p_null`` (nullable columns)."""

    inner: Provider
    p_null: float

    @property
    def depends(self) -> tuple[str, ...]:  # type: ignore[override]
        return self.inner.depends

    def values(self, batch: Batch) -> list[Any]:
        raw = self.inner.values(batch)
        r, p = batch.rng.random, self.p_null
        return [None if r() < p else v for v in raw]

    def describe(self) -> str:
        return f"{self.inner.describe()}, NULL {self.p_null:.0%}"


@dataclass
class Later(Provider):
    """A foreign key set by UPDATE after insert (a broken cycle): NULL, or ``placeholder``'s values, at insert."""

    referred_table: str
    placeholder: Provider | None = None

    def values(self, batch: Batch) -> list[Any]:
        return [None] * batch.size if self.placeholder is None else self.placeholder.values(batch)

    def describe(self) -> str:
        first = "NULL" if self.placeholder is None else "a placeholder (constraint deferred)"
        return f"{first} at insert, then a key of {self.referred_table} by UPDATE"


@dataclass
class PerRow(Provider):
    """``function(rng)`` called once per row (an override written in Python)."""

    function: Callable[[random.Random], Any]
    label: str = "a Python function"

    def values(self, batch: Batch) -> list[Any]:
        f, rng = self.function, batch.rng
        return [f(rng) for _ in range(batch.size)]

    def describe(self) -> str:
        return self.label
