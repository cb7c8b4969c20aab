"""Fast deterministic values for factory declarations: names, emails, addresses, text, dates, numbers.

Drop-in declarations for any factory_boy factory (``seedkit.SQLAlchemyFactory``,
``seedkit.MongoFactory``, on the per-object path and in a ``BulkSeeder``), named after the
Faker provider they replace, so porting is a rename::

    from seedkit import values

    class UserFactory(seedkit.SQLAlchemyFactory):
        first_name = values.FirstName()                        # factory.Faker("first_name")
        last_name = values.LastName()
        email = values.Email(first="first_name", last="last_name", unique=True)
        city = values.City(locale="fr_FR")
        signed_up = values.DateTimeBetween("-2y", "now")       # around the injected clock

How they are fast: realistic values come from the row engine's pools
(:mod:`seedkit.generate.pools`, a few hundred values per kind and locale drawn once from Faker)
and are made by its providers (:mod:`seedkit.generate.providers`) in blocks, so one value costs
a list index instead of a Faker call (docs/values.md has the measurements).

How they are deterministic: every declaration draws from its **own stream**, a
``random.Random`` seeded from the active deterministic context's seed and partition, the
stream's name (the factory class that declares the field and the field's name:
``"UserFactory.email"``) and the declaration's parameters. So a field's values depend on
nothing else: not on which other fields the factory has or in what order they are evaluated,
not on factory_boy's or Faker's shared random. A stream is made in blocks of a fixed schedule
(16, 32, ... up to 1,024 values), whoever asks, so :meth:`ValueDeclaration.draw` (``n`` values
at once, for a row path) and one value per object give the same values. The streams belong to
the context: a reset of it (``seedkit.deterministic(...)``, a test's reset) starts them again,
as it does factory sequences; a subclass of the factory continues its parent's stream (as it
shares factory_boy's sequence counter), so an inherited ``unique=True`` field stays unique.

A declaration passed at the call site (``UserFactory(email=values.Email())``) or nested in a
``Trait``, ``Maybe`` or ``SubFactory`` arguments is named when first evaluated, after the
factory being built and the field being resolved; ``stream="..."`` names a stream explicitly.
"""

from __future__ import annotations

import random
import re
from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime, timedelta, tzinfo
from decimal import Decimal
from typing import Any

from factory.declarations import BaseDeclaration

from seedkit.core.determinism import Deterministic, current, derive_seed
from seedkit.errors import FactoryError
from seedkit.generate import providers as p

__all__ = [
    "Address",
    "Boolean",
    "CatchPhrase",
    "City",
    "Company",
    "Country",
    "CountryCode",
    "DateBetween",
    "DateTimeBetween",
    "Email",
    "FirstName",
    "Job",
    "LastName",
    "Name",
    "Paragraph",
    "PhoneNumber",
    "Postcode",
    "PyDecimal",
    "PyFloat",
    "PyInt",
    "RandomElement",
    "Sentence",
    "State",
    "StreetAddress",
    "Text",
    "Uuid4",
    "ValueDeclaration",
    "ValueStream",
    "Word",
]

FIRST_BLOCK = 16
"""Values made by a stream's first block; each next block is twice as large, up to :data:`LAST_BLOCK`."""
LAST_BLOCK = 1_024
"""The largest block: past it, making a block costs about 1 µs per value of Python overhead less than one."""


class ValueStream:
    """The values of one declaration in one deterministic context, made in blocks and handed out in order.

    Block *k* holds ``min(FIRST_BLOCK * 2**k, LAST_BLOCK)`` values made by ``provider`` from
    ``rng``, so the values do not depend on how many are asked for at a time. ``offset`` is
    added to the index of every value given to the provider (``Batch.start``): the partition's
    ``sequence_start``, so values made unique by their index (``unique=True``) never collide
    between partitions.
    """

    __slots__ = ("base", "blocks", "buffer", "index", "made", "offset", "provider", "rng")

    def __init__(self, provider: p.Provider, seed: int, base: datetime, offset: int = 0) -> None:
        self.provider = provider
        self.rng = random.Random(seed)
        self.base = base
        self.offset = offset
        self.blocks = 0
        self.made = 0
        self.buffer: list[Any] = []
        self.index = 0

    def copy(self) -> ValueStream:
        """A stream at the same point, going on independently (a checkpoint of this one)."""
        twin = ValueStream.__new__(ValueStream)
        twin.provider, twin.base, twin.offset = self.provider, self.base, self.offset
        twin.rng = random.Random()
        twin.rng.setstate(self.rng.getstate())
        twin.blocks, twin.made, twin.buffer, twin.index = (
            self.blocks,
            self.made,
            list(self.buffer),
            self.index,
        )
        return twin

    @property
    def position(self) -> int:
        """How many values were handed out."""
        return self.made - len(self.buffer) + self.index

    def _refill(self) -> None:
        size = min(FIRST_BLOCK << self.blocks, LAST_BLOCK)
        batch = p.Batch(self.rng, self.offset + self.made, size, {}, self.base)
        self.buffer = self.provider.values(batch)
        self.blocks += 1
        self.made += size
        self.index = 0

    def next(self) -> Any:
        """The next value."""
        index = self.index
        if index == len(self.buffer):
            self._refill()
            index = 0
        self.index = index + 1
        return self.buffer[index]

    def take(self, n: int) -> list[Any]:
        """The next ``n`` values (``n >= 0``), exactly what ``n`` calls of :meth:`next` return."""
        out: list[Any] = []
        while len(out) < n:
            if self.index == len(self.buffer):
                self._refill()
            end = min(len(self.buffer), self.index + n - len(out))
            out.extend(self.buffer[self.index : end])
            self.index = end
        return out


class ValueDeclaration(BaseDeclaration):
    """A factory declaration whose values come from its own deterministic stream (see the module doc).

    Subclasses say how a stream's values are made (:meth:`provider`); this class names the
    stream, finds it in the active context and hands out its values. ``stream``: the stream's
    name, instead of the declaring factory and field.
    """

    def __init__(self, *parameters: Any, stream: str | None = None) -> None:
        """``parameters``: everything the stream's values depend on, as values with a stable ``repr``
        (strings, numbers, dates...): they seed the stream, so they must read the same in every process."""
        super().__init__()
        self.stream_name = stream
        self.signature = f"{type(self).__qualname__}{parameters!r}"
        self._cache: tuple[dict[Any, ValueStream], ValueStream] | None = None

    # -- what subclasses define ------------------------------------------------------------
    def provider(self, base: datetime) -> p.Provider:
        """What makes the stream's values in blocks; ``base``: the context's clock start."""
        raise NotImplementedError

    finishes = False
    """Whether :meth:`finish` makes the field's value from the stream's (else it is the stream's)."""

    reads: tuple[str, ...] = ()
    """The other fields of the object the value is made from (given to :meth:`draw` as ``columns``)."""

    def finish(self, value: Any, instance: Any) -> Any:
        """The field's value from a stream value and the object being built (when :attr:`finishes`)."""
        return value

    # -- naming and finding the stream ----------------------------------------------------------
    def __set_name__(self, owner: type, name: str) -> None:
        if self.stream_name is None:
            self.stream_name = f"{owner.__qualname__}.{name}"

    def _stream(self, name: str, context: Deterministic) -> ValueStream:
        streams = context.value_streams
        key = (name, self.signature)
        stream: ValueStream | None = streams.get(key)
        if stream is None:
            seed = derive_seed(context.seed, "values", context.partition, name, self.signature)
            provider = self.provider(context.clock.start)
            stream = streams[key] = ValueStream(provider, seed, context.clock.start, context.sequence_start)
        return stream

    def _bound_stream(self) -> ValueStream:
        """The stream of a declaration named by its class body or ``stream=``, cached per context reset."""
        context = current()
        cache = self._cache
        if cache is not None and cache[0] is context.value_streams:
            return cache[1]
        assert self.stream_name is not None
        stream = self._stream(self.stream_name, context)
        self._cache = (context.value_streams, stream)
        return stream

    def evaluate_pre(self, instance: Any, step: Any, overrides: dict[str, Any]) -> Any:
        """:meth:`evaluate` without factory_boy's unrolling of deep overrides, which these declarations
        do not take (their parameters are given when they are declared)."""
        if overrides:
            raise FactoryError(
                f"{step.builder.factory_meta.factory.__name__}: a values.{type(self).__name__} declaration "
                f"takes no deep overrides (got {', '.join(map(repr, overrides))}); pass a new declaration instead"
            )
        return self.evaluate(instance, step, overrides)

    def evaluate(self, instance: Any, step: Any, extra: Any) -> Any:
        """The next value of the stream, for the object being built (factory_boy's declaration protocol)."""
        if self.stream_name is not None:
            cache = self._cache
            if cache is not None and cache[0] is current().value_streams:  # the usual case, inlined
                value = cache[1].next()
                return self.finish(value, instance) if self.finishes else value
            stream = self._bound_stream()
        else:
            factory_class = step.builder.factory_meta.factory
            field = _field_being_resolved(instance)
            if field is None:
                raise FactoryError(
                    f"{factory_class.__name__}: a {type(self).__name__}() declared outside a class body "
                    f"needs a stream name here: {type(self).__name__}(..., stream='{factory_class.__name__}.<field>')"
                )
            stream = self._stream(f"{factory_class.__qualname__}.{field}", current())
        return self.finish(stream.next(), instance)

    def draw(
        self,
        n: int,
        columns: Mapping[str, Sequence[Any]] | None = None,
        *,
        factory: type | None = None,
        field: str | None = None,
    ) -> list[Any]:
        """The next ``n`` values of the stream: what ``n`` objects built one by one would get.

        Args:
            n: how many values (``>= 0``).
            columns: for a declaration that reads other fields (:class:`Email` with ``first``
                and ``last``), those fields' values, ``n`` of each, by field name.
            factory, field: the factory and field the declaration is evaluated for: they name
                the stream of a declaration not declared in a class body (passed at the call
                site); a declaration named by its class body or ``stream=`` keeps its stream,
                as :meth:`evaluate` does.

        Raises:
            FactoryError: the stream cannot be named, or a column read is missing or short.
        """
        if n < 0:
            raise ValueError("n must be >= 0")
        if self.stream_name is not None:
            stream = self._bound_stream()
        elif factory is not None and field is not None:
            stream = self._stream(f"{factory.__qualname__}.{field}", current())
        else:
            raise FactoryError(
                f"{type(self).__name__}.draw(): this declaration has no stream name; "
                "pass factory= and field= (the factory and field it is evaluated for)"
            )
        return self.finish_many(stream.take(n), columns or {}, n)

    def finish_many(self, drawn: list[Any], columns: Mapping[str, Sequence[Any]], n: int) -> list[Any]:
        """:meth:`finish` for a batch; ``columns`` holds the fields it reads."""
        return drawn


def _field_being_resolved(resolver: Any) -> str | None:
    """The name of the field a factory_boy resolver is evaluating (its innermost pending one).

    Both resolvers keep the names being resolved, for their cycle detection: seedkit's lean
    one in ``_lean_pending``, factory_boy's ``Resolver`` in ``__pending`` (tests/test_internals.py).
    """
    for attribute in ("_lean_pending", "_Resolver__pending"):
        try:
            pending = object.__getattribute__(resolver, attribute)
        except AttributeError:
            continue
        if pending:
            return str(pending[-1])
    return None


# -- pooled text -------------------------------------------------------------------------------
class _Pooled(ValueDeclaration):
    """A value of a pool kind; ``unique=True``: made unique by its index in the stream (``value-<n>``)."""

    kind = ""

    def __init__(self, *, locale: str = "en_US", unique: bool = False, stream: str | None = None) -> None:
        super().__init__(locale, unique, stream=stream)
        self.locale = locale
        self.unique = unique

    def made(self) -> p.Provider:
        """The provider of one value (before uniqueness)."""
        return p.Pooled(self.kind, self.locale)

    def provider(self, base: datetime) -> p.Provider:
        made = self.made()
        return p.Unique(made) if self.unique else made


class FirstName(_Pooled):
    """A first name (Faker's ``first_name``), from the ``first_name`` pool of ``locale``."""

    kind = "first_name"


class LastName(_Pooled):
    """A last name (Faker's ``last_name``)."""

    kind = "last_name"


class Name(_Pooled):
    """``"<first name> <last name>"`` (Faker's ``name``, without its prefixes and suffixes)."""

    def made(self) -> p.Provider:
        return p.Composed(
            {"first": p.Pooled("first_name", self.locale), "last": p.Pooled("last_name", self.locale)},
            p.Joined("{first} {last}", ("first", "last")),
        )


class Company(_Pooled):
    """A company name (Faker's ``company``)."""

    kind = "company"


class CatchPhrase(_Pooled):
    """A catch phrase (Faker's ``catch_phrase``), e.g. for product names."""

    kind = "catch_phrase"


class Job(_Pooled):
    """A job title (Faker's ``job``)."""

    kind = "job"


class PhoneNumber(_Pooled):
    """A phone number in one of ``locale``'s formats (Faker's ``phone_number``)."""

    kind = "phone"


class StreetAddress(_Pooled):
    """A street address (Faker's ``street_address``)."""

    kind = "street_address"


class City(_Pooled):
    """A city (Faker's ``city``)."""

    kind = "city"


class State(_Pooled):
    """A state or region (Faker's ``state``)."""

    kind = "state"


class Postcode(_Pooled):
    """A postcode (Faker's ``postcode``)."""

    kind = "postcode"


class Country(_Pooled):
    """A country name (Faker's ``country``)."""

    kind = "country"


class CountryCode(_Pooled):
    """A two-letter country code (Faker's ``country_code``)."""

    kind = "country_code"


class Word(_Pooled):
    """A word (Faker's ``word``)."""

    kind = "word"


class Address(_Pooled):
    """``"<street address>\\n<city>, <state> <postcode>"`` (Faker's ``address``, in its en_US layout)."""

    def made(self) -> p.Provider:
        kinds = ("street_address", "city", "state", "postcode")
        parts: dict[str, p.Provider] = {kind: p.Pooled(kind, self.locale) for kind in kinds}
        return p.Composed(parts, p.Joined("{street_address}\n{city}, {state} {postcode}", tuple(parts)))


class Email(ValueDeclaration):
    """An email address ``first.last<nn>@<free email domain>`` (Faker's ``email``).

    ``first`` and ``last`` name fields of the same object to take the name from (as a
    ``LazyAttribute`` would; each is evaluated first if it is not yet); without them the name
    comes from the name pools. ``unique=True``: ``first.last<nn>.<n>@domain``, where ``<n>``
    is the value's index in its stream (offset by the partition), so no two values of the
    stream are equal, whatever the names.
    """

    def __init__(
        self,
        first: str | None = None,
        last: str | None = None,
        *,
        unique: bool = False,
        locale: str = "en_US",
        stream: str | None = None,
    ) -> None:
        if (first is None) != (last is None):
            raise FactoryError("values.Email: give both first= and last= (field names), or neither")
        super().__init__(first, last, unique, locale, stream=stream)
        self.first, self.last, self.unique, self.locale = first, last, unique, locale
        self.finishes = first is not None
        self.reads = () if first is None or last is None else (first, last)

    def provider(self, base: datetime) -> p.Provider:
        if self.first is None:
            email = p.Email(locale=self.locale)
            return p.Unique(email) if self.unique else email
        # The parts that do not depend on the object, per value: the number, the domain, the index.
        parts = {"nn": p.Integers(0, 99), "domain": p.Pooled("domain", self.locale), "n": p.Serial(start=1)}
        return p.Composed(parts, _Zipped(tuple(parts)))

    def finish(self, value: Any, instance: Any) -> Any:
        if self.first is None:
            return value
        assert self.last is not None
        return self._compose(getattr(instance, self.first), getattr(instance, self.last), value)

    def finish_many(self, drawn: list[Any], columns: Mapping[str, Sequence[Any]], n: int) -> list[Any]:
        if self.first is None:
            return drawn
        assert self.last is not None
        for name in (self.first, self.last):
            if len(columns.get(name, ())) != n:
                raise FactoryError(f"values.Email.draw(): give {n} values of the field {name!r} in columns")
        firsts, lasts = columns[self.first], columns[self.last]
        return [self._compose(f, la, v) for f, la, v in zip(firsts, lasts, drawn, strict=True)]

    def _compose(self, first: Any, last: Any, value: tuple[int, str, int]) -> str:
        nn, domain, number = value
        email = f"{p.local_part(first)}.{p.local_part(last)}{nn}@{domain}"
        return p.unique_text(email, number) if self.unique else email


class _Zipped(p.Provider):
    """Tuples of the batch's ``columns`` (made before it by a :class:`~seedkit.generate.providers.Composed`)."""

    def __init__(self, columns: tuple[str, ...]) -> None:
        self.columns = columns

    def values(self, batch: p.Batch) -> list[Any]:
        return list(zip(*(batch.done[c] for c in self.columns), strict=True))


# -- text ------------------------------------------------------------------------------------------
def _sentence(text: str) -> str:
    return text + "."


class Sentence(ValueDeclaration):
    """A sentence of about ``nb_words`` pooled words (Faker's ``sentence``).

    ``variable_nb_words``: between 60% and 140% of ``nb_words`` words, as Faker does.
    """

    def __init__(
        self,
        nb_words: int = 6,
        variable_nb_words: bool = True,
        *,
        locale: str = "en_US",
        stream: str | None = None,
    ) -> None:
        if nb_words < 1:
            raise FactoryError(f"values.Sentence: nb_words must be >= 1, got {nb_words}")
        super().__init__(nb_words, variable_nb_words, locale, stream=stream)
        self.low, self.high = _spread(nb_words, variable_nb_words)
        self.locale = locale

    def provider(self, base: datetime) -> p.Provider:
        return _sentences(self.low, self.high, self.locale)


def _spread(count: int, variable: bool) -> tuple[int, int]:
    return (max(1, count * 6 // 10), max(1, count * 14 // 10)) if variable else (count, count)


def _sentences(low: int, high: int, locale: str) -> p.Provider:
    return p.Mapped(p.Words(low, high, locale=locale), _sentence)


class Paragraph(ValueDeclaration):
    """About ``nb_sentences`` sentences of 3-10 words (Faker's ``paragraph``)."""

    def __init__(
        self,
        nb_sentences: int = 3,
        variable_nb_sentences: bool = True,
        *,
        locale: str = "en_US",
        stream: str | None = None,
    ) -> None:
        if nb_sentences < 1:
            raise FactoryError(f"values.Paragraph: nb_sentences must be >= 1, got {nb_sentences}")
        super().__init__(nb_sentences, variable_nb_sentences, locale, stream=stream)
        self.low, self.high = _spread(nb_sentences, variable_nb_sentences)
        self.locale = locale

    def provider(self, base: datetime) -> p.Provider:
        return p.Mapped(p.Arrays(_sentences(3, 10, self.locale), self.low, self.high), " ".join)


class Text(ValueDeclaration):
    """Sentences, at most ``max_nb_chars`` characters in all, ending with a full stop (Faker's ``text``)."""

    def __init__(self, max_nb_chars: int = 200, *, locale: str = "en_US", stream: str | None = None) -> None:
        if max_nb_chars < 5:
            raise FactoryError(f"values.Text: max_nb_chars must be >= 5, got {max_nb_chars}")
        super().__init__(max_nb_chars, locale, stream=stream)
        self.max_nb_chars = max_nb_chars
        self.locale = locale

    def provider(self, base: datetime) -> p.Provider:
        # Enough sentences of ~6 words (about 40 characters each) to fill max_nb_chars, then cut.
        count = max(1, self.max_nb_chars // 40)
        return p.Mapped(p.Arrays(_sentences(3, 9, self.locale), count, count + 1), self._cut)

    def _cut(self, sentences: list[str]) -> str:
        text = " ".join(sentences)
        limit = self.max_nb_chars
        if len(text) <= limit:
            return text
        cut = text[: limit - 1].rsplit(" ", 1)[0].rstrip(".")
        return cut + "."


# -- dates and times -------------------------------------------------------------------------------
_OFFSET = re.compile(r"([+-]?)(\d+)([yMwdhms])")
_UNIT_DAYS = {"y": 365.24, "M": 30.42, "w": 7.0, "d": 1.0, "h": 1 / 24, "m": 1 / 1440, "s": 1 / 86400}
Bound = str | int | timedelta | date | datetime


def _offset(value: str) -> timedelta:
    """A Faker-style relative bound: ``"now"``, ``"today"``, ``"-30y"``, ``"+2w3d"`` (``M`` months, ``m`` minutes)."""
    text = value.strip()
    if text in ("now", "today"):
        return timedelta()
    parts = _OFFSET.findall(text)
    if not parts or "".join(sign + number + unit for sign, number, unit in parts) != text:
        raise FactoryError(
            f"values: {value!r} is not a date bound (use 'now', 'today', '-30y', '+2w3d', a date or a datetime)"
        )
    days = sum((-1 if sign == "-" else 1) * int(number) * _UNIT_DAYS[unit] for sign, number, unit in parts)
    return timedelta(days=days)


def _instant(bound: Bound, base: datetime) -> datetime:
    """``bound`` as an aware instant; relative bounds are taken from ``base`` (the clock's start)."""
    if isinstance(bound, datetime):
        return bound if bound.tzinfo is not None else bound.replace(tzinfo=UTC)
    if isinstance(bound, date):
        return datetime(bound.year, bound.month, bound.day, tzinfo=UTC)
    if isinstance(bound, timedelta):
        return base + bound
    if isinstance(bound, int):
        return base + timedelta(seconds=bound)
    return base + _offset(bound)


def _check_bound(bound: Bound) -> None:
    if isinstance(bound, str):
        _offset(bound)  # a bad bound fails when the factory is defined
    elif isinstance(bound, bool) or not isinstance(bound, int | timedelta | date):
        raise FactoryError(f"values: {bound!r} is not a date bound")


class DateTimeBetween(ValueDeclaration):
    """An instant in ``[start_date, end_date)`` to the second (Faker's ``date_time_between``).

    Bounds are Faker's: ``"now"``, ``"-30y"``, ``"+2w"`` (years of 365.24 days, ``M`` months
    of 30.42), a ``timedelta`` or seconds, a ``date`` or a ``datetime``. Relative bounds are
    taken from the **deterministic context's clock start**, never the wall clock (and not the
    ticking clock, so no other field's reads move them). Aware in ``tzinfo`` (UTC by default;
    Faker's are naive unless given one); ``tzinfo=None`` gives naive UTC instants.
    """

    def __init__(
        self,
        start_date: Bound = "-30y",
        end_date: Bound = "now",
        tzinfo: tzinfo | None = UTC,
        *,
        stream: str | None = None,
    ) -> None:
        _check_bound(start_date)
        _check_bound(end_date)
        super().__init__(start_date, end_date, tzinfo, stream=stream)
        self.start_date, self.end_date, self.tzinfo = start_date, end_date, tzinfo

    def provider(self, base: datetime) -> p.Provider:
        floor, ceiling = _instant(self.start_date, base), _instant(self.end_date, base)
        if ceiling <= floor:
            raise FactoryError(
                f"values.DateTimeBetween({self.start_date!r}, {self.end_date!r}): the end is not after the "
                f"start ({floor.isoformat()} .. {ceiling.isoformat()})"
            )
        instants = p.Instants(floor=floor, ceiling=ceiling)
        zone = self.tzinfo
        if zone is None:
            return p.Mapped(instants, _naive_utc)
        if zone is UTC:
            return instants
        return p.Mapped(instants, lambda moment: moment.astimezone(zone))


def _naive_utc(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(tzinfo=None)


class DateBetween(ValueDeclaration):
    """A date in ``[start_date, end_date]`` (Faker's ``date_between``); bounds as :class:`DateTimeBetween`'s,
    relative ones from the clock start's date."""

    def __init__(
        self, start_date: Bound = "-30y", end_date: Bound = "today", *, stream: str | None = None
    ) -> None:
        _check_bound(start_date)
        _check_bound(end_date)
        super().__init__(start_date, end_date, stream=stream)
        self.start_date, self.end_date = start_date, end_date

    def provider(self, base: datetime) -> p.Provider:
        floor, ceiling = _instant(self.start_date, base).date(), _instant(self.end_date, base).date()
        if ceiling < floor:
            raise FactoryError(
                f"values.DateBetween({self.start_date!r}, {self.end_date!r}): the end is before the start "
                f"({floor.isoformat()} .. {ceiling.isoformat()})"
            )
        return p.Dates(floor=floor, ceiling=ceiling)


# -- numbers, choices, booleans, UUIDs -------------------------------------------------------------
class PyInt(ValueDeclaration):
    """A whole number in ``[min_value, max_value]``, uniform (Faker's ``pyint``, factory_boy's ``FuzzyInteger``)."""

    def __init__(self, min_value: int = 0, max_value: int = 9999, *, stream: str | None = None) -> None:
        if min_value > max_value:
            raise FactoryError(f"values.PyInt({min_value}, {max_value}): min_value is above max_value")
        super().__init__(min_value, max_value, stream=stream)
        self.min_value, self.max_value = min_value, max_value

    def provider(self, base: datetime) -> p.Provider:
        return p.Integers(self.min_value, self.max_value)


class PyDecimal(ValueDeclaration):
    """A ``Decimal`` in ``[min_value, max_value]`` with ``right_digits`` places (Faker's ``pydecimal``,
    factory_boy's ``FuzzyDecimal``), uniform over the steps of ``10**-right_digits``."""

    def __init__(
        self,
        min_value: Decimal | int | str = 0,
        max_value: Decimal | int | str = 9999,
        right_digits: int = 2,
        *,
        stream: str | None = None,
    ) -> None:
        low, high = Decimal(str(min_value)), Decimal(str(max_value))
        if low > high:
            raise FactoryError(f"values.PyDecimal({min_value}, {max_value}): min_value is above max_value")
        super().__init__(str(low), str(high), right_digits, stream=stream)
        self.min_value, self.max_value, self.right_digits = low, high, right_digits

    def provider(self, base: datetime) -> p.Provider:
        return p.Decimals(self.min_value, self.max_value, self.right_digits)


class PyFloat(ValueDeclaration):
    """A float in ``[min_value, max_value)``, uniform (Faker's ``pyfloat`` with both bounds)."""

    def __init__(self, min_value: float = 0.0, max_value: float = 1.0, *, stream: str | None = None) -> None:
        if min_value > max_value:
            raise FactoryError(f"values.PyFloat({min_value}, {max_value}): min_value is above max_value")
        super().__init__(min_value, max_value, stream=stream)
        self.min_value, self.max_value = min_value, max_value

    def provider(self, base: datetime) -> p.Provider:
        return p.Floats(self.min_value, self.max_value)


class RandomElement(ValueDeclaration):
    """One of ``elements`` (Faker's ``random_element``, factory_boy's ``FuzzyChoice``).

    ``weights`` (relative), or ``elements`` as a mapping of element to weight as Faker takes
    them; uniform otherwise. The stream draws positions in ``elements``, so any objects can be
    elements (model instances too): only their number and the weights seed it.
    """

    finishes = True

    def __init__(
        self,
        elements: Sequence[Any] | Mapping[Any, float],
        weights: Sequence[float] | None = None,
        *,
        stream: str | None = None,
    ) -> None:
        if isinstance(elements, Mapping):
            if weights is not None:
                raise FactoryError("values.RandomElement: weights are given twice (a mapping and weights=)")
            weights = list(elements.values())
            elements = list(elements)
        options = list(elements)
        if not options:
            raise FactoryError("values.RandomElement: no elements to choose from")
        if weights is not None and (
            len(weights) != len(options) or any(w < 0 for w in weights) or not sum(weights)
        ):
            raise FactoryError(
                f"values.RandomElement: {len(options)} elements need as many weights >= 0, not all zero; "
                f"got {list(weights)!r}"
            )
        super().__init__(
            len(options), None if weights is None else [float(w) for w in weights], stream=stream
        )
        self.elements, self.weights = tuple(options), None if weights is None else tuple(weights)

    def provider(self, base: datetime) -> p.Provider:
        return p.Choice(range(len(self.elements)), self.weights)

    def finish(self, value: Any, instance: Any) -> Any:
        return self.elements[value]

    def finish_many(self, drawn: list[Any], columns: Mapping[str, Sequence[Any]], n: int) -> list[Any]:
        elements = self.elements
        return [elements[index] for index in drawn]


class Boolean(ValueDeclaration):
    """True with ``chance_of_getting_true`` percent (Faker's ``boolean``)."""

    def __init__(self, chance_of_getting_true: int = 50, *, stream: str | None = None) -> None:
        if not 0 <= chance_of_getting_true <= 100:
            raise FactoryError(
                f"values.Boolean: chance_of_getting_true must be 0-100, got {chance_of_getting_true}"
            )
        super().__init__(chance_of_getting_true, stream=stream)
        self.chance = chance_of_getting_true

    def provider(self, base: datetime) -> p.Provider:
        return p.Booleans(self.chance / 100)


class Uuid4(ValueDeclaration):
    """A version-4 UUID from the stream (Faker's ``uuid4``): a ``str`` as Faker's, or ``cast_to=None`` for a
    ``uuid.UUID``. For primary keys, ``seedkit.core.declarations.UUIDFor`` (the ID generator) is the usual choice.
    """

    def __init__(self, cast_to: type[str] | None = str, *, stream: str | None = None) -> None:
        super().__init__(cast_to.__name__ if cast_to else None, stream=stream)
        self.cast_to = cast_to

    def provider(self, base: datetime) -> p.Provider:
        uuids = p.Uuids()
        return p.Mapped(uuids, self.cast_to) if self.cast_to is not None else uuids
