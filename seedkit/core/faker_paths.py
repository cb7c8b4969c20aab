"""Faker's hot paths at lower cost, with the same draws from the same generator, so the same values.

A ``factory.Faker("name")`` value goes through factory_boy's declaration, Faker's proxy, the
generator's ``format``, the provider, ``parse`` of a format string (a regular expression per
call), ``random_element`` over a weighted table (its weights accumulated per call) and
``random.choices``: a dozen Python calls around one ``random()`` draw. :func:`install` replaces
the costly steps with shorter ones that make exactly the same calls to the random generator, in
the same order, and build the same value from them:

- **weighted picks** (``BaseProvider.random_elements``/``random_element``): the cumulative
  weights of a weighted ``OrderedDict`` (first names, last names, name formats...) are kept
  beside the table, where Faker keeps its keys, and one element is picked as ``random.choices``
  does (one ``random()`` and a bisection); an unweighted tuple, list or string as
  ``random.choice`` does (one ``_randbelow``);
- **format strings** (``Generator.parse``): each pattern (``"{{first_name}} {{last_name}}"``) is
  split into its literals and tokens once, with Faker's own regular expression, then joined;
- **formatter dispatch** (``Generator.format``, ``faker.Faker.format`` and ``factory.Faker``'s
  evaluation): the formatter is looked up on the generator once, without ``get_formatter``, and
  the one-locale ``faker.Faker`` proxy hands ``format`` to its generator from a method of its
  class instead of its ``__getattr__`` (reached after an ``AttributeError``, through its
  Python-level ``__getattribute__``);
- **placeholders** (``numerify``, and so ``bothify``): the positions of ``#``, ``%``, ``$``,
  ``!`` and ``@`` are found with ``str.find`` instead of five regular expression substitutions;
  the digits are drawn pass by pass as Faker's passes draw them (``randint(a, b)`` is
  ``a + _randbelow(b - a + 1)``);
- **date bounds** (``_parse_date_time``, ``_parse_date``: every ``date_time_between``,
  ``date_between``, ``date_of_birth``...): the timestamp of a ``datetime``/``date`` bound is
  computed once, a relative bound (``"-30y"``) is parsed once (``datetime.now()`` and
  ``date.today()`` are still read as often as Faker reads them);
- **date_time_between**: Faker's body with its two method calls inline (``_parse_date_time``
  above, ``_rand_seconds``'s ``random.uniform`` as its formula ``a + (b - a) * random()``) and
  its epoch (``datetime(1970, 1, 1, tzinfo=utc)``) made once per ``datetime`` class, not per
  value (1.4x; the body alone, with the two calls kept, gained nothing);
- **words** (``words``, ``sentence``, so ``word``, ``paragraph`` and ``text``): words are drawn
  from the locale's word list without the copy ``get_words_list`` makes per call, and a
  sentence's length as ``randomize_nb_elements`` draws it, as ``random.choice`` and
  ``random.choices`` draw.

Measured and left alone, because they gained nothing once the paths above were in place (see
``python -m benchmarks.faker_paths``): ``lexify``, ``word`` and ``randomize_nb_elements``.

Each shortcut is taken only where it is exactly Faker's behaviour: the generator's random is a
plain ``random.Random`` (whose ``_randbelow``, ``random`` and formulas ``tests/test_internals.py``
checks against ``randint``, ``choice``, ``choices`` and ``uniform``), the provider or generator
class does not override a method the shortcut skips, the arguments are of the usual types;
anything else (and every error) goes to Faker's own method. Which paths pay, and how much, is
measured by ``python -m benchmarks.faker_paths`` (docs/values.md). ``tests/test_faker_paths.py``
compares values and the generator's state after them, with and without, over many seeds and
several locales.

Installed by seedkit's deterministic context (:func:`seedkit.core.determinism.activate`) for its
duration and uninstalled when the outermost one ends: importing seedkit changes nothing. A
``faker.Faker`` created inside keeps the provider methods bound while it was made (Faker binds
them once, when it adds its providers), so those methods check :func:`installed` and run
Faker's own code outside seedkit's scope; the other way round, a ``faker.Faker`` made before
holds Faker's own methods, and ``format`` (so every ``factory.Faker`` value and every format
string token) calls the faster ones in their place while installed.

Like Faker's own key cache, the caches assume that weight tables and provider classes are not
changed after their first use (the per-class checks are made again at each :func:`install`).
"""

from __future__ import annotations

import functools
import inspect
import platform
import random
from bisect import bisect_right
from collections import OrderedDict
from collections.abc import Callable, Collection
from datetime import UTC, date, datetime, timedelta
from itertools import accumulate
from math import floor, isfinite
from typing import Any, cast

import factory
import faker.generator
import faker.proxy
from faker.providers import BaseProvider
from faker.providers import date_time as faker_dates
from faker.providers import lorem as faker_lorem

from seedkit.core.faker_order import stable

__all__ = ["PATHS", "install", "installed", "uninstall"]

_CACHE = "_seedkit_cum_weights"
"""The attribute kept on a weighted ``OrderedDict``: ``(keys, cumulative weights, total, last index)``."""

_PLAN_LIMIT = 10_000
"""At most this many format strings, bounds and relative dates are kept (then they are computed per call)."""

_Random: Any = random.Random  # Any: the shortcuts call its private ``_randbelow``
_getattribute = object.__getattribute__

_active = False
epoch = 0
"""Counts :func:`install` and :func:`uninstall` calls (a :func:`format_call` found before one is stale)."""


def installed() -> bool:
    """Whether the faster paths are in use (inside seedkit's deterministic context)."""
    return _active


# -- which classes may take a shortcut -------------------------------------------------------


def _raw(cls: type, name: str) -> Any:
    """``name`` as defined on the first class of ``cls``'s MRO that defines it (no binding)."""
    for klass in cls.__mro__:
        if name in klass.__dict__:
            return klass.__dict__[name]
    return None


class _Methods:
    """The methods a shortcut skips, and which classes have them as Faker's own or the faster ones.

    A class that overrides one of them (a custom provider) keeps Faker's path, which calls its
    override. The answer is kept per class until the next :func:`install`.
    """

    __slots__ = ("known", "names")
    every: list[_Methods] = []

    def __init__(self, *names: str) -> None:
        self.names = names
        self.known: dict[type, bool] = {}
        _Methods.every.append(self)

    def kept_by(self, cls: type) -> bool:
        """Whether ``cls`` has none of these methods overridden."""
        known = self.known.get(cls)
        if known is None:
            known = self.known[cls] = all(
                _raw(cls, name) is not None
                and any(_raw(cls, name) is method for method in _EXPECTED.get(name, ()))
                for name in self.names
            )
        return known


# -- weighted and unweighted picks -----------------------------------------------------------

_ORIGINAL_RANDOM_ELEMENTS = BaseProvider.random_elements
_ORIGINAL_RANDOM_ELEMENT = BaseProvider.random_element


def _weights(table: OrderedDict[Any, Any]) -> tuple[tuple[Any, ...], list[Any], float, int]:
    """The table's keys, cumulative weights, total and last index, kept on it (remade when keys were
    added). The last index is -1 when ``random.choices`` would refuse the weights (no keys, a total
    that is not positive and finite): then Faker's own code runs, and raises."""
    cached = table.__dict__.get(_CACHE)
    if cached is None or len(cached[0]) != len(table):
        keys = tuple(table.keys())
        cumulative = list(accumulate(table.values()))
        total = cumulative[-1] + 0.0 if cumulative else 0.0
        usable = bool(keys) and total > 0.0 and isfinite(total)
        cached = (keys, cumulative, total, len(keys) - 1 if usable else -1)
        setattr(table, _CACHE, cached)
    return cached


def _random_elements(
    self: BaseProvider,
    elements: Any = ("a", "b", "c"),
    length: int | None = None,
    unique: bool = False,
    use_weighting: bool | None = None,
) -> Any:
    if (
        _active
        and length is not None
        and not unique
        and type(elements) is OrderedDict
        and (use_weighting if use_weighting is not None else self.__use_weighting__)
    ):
        table = _weights(elements)
        if table[3] >= 0:
            return self.generator.random.choices(table[0], cum_weights=table[1], k=length)
    return _ORIGINAL_RANDOM_ELEMENTS(self, elements, length, unique, use_weighting)


_PICK = _Methods("random_element", "random_elements")
_PICK_KNOWN = _PICK.known


def _random_element(self: BaseProvider, elements: Any = ("a", "b", "c")) -> Any:
    # Two to four per name or company: the checks are ordered and inlined for the common cases.
    cls = type(self)
    if _active and (_PICK_KNOWN.get(cls) or _PICK.kept_by(cls)):
        rnd = self.generator.random
        if type(rnd) is _Random:
            kind = type(elements)
            if kind is OrderedDict:
                if self.__use_weighting__:
                    table = elements.__dict__.get(_CACHE)
                    if table is None or len(table[0]) != len(elements):
                        table = _weights(elements)
                    if table[3] >= 0:  # random.choices(..., cum_weights=..., k=1)
                        return table[0][bisect_right(table[1], rnd.random() * table[2], 0, table[3])]
            elif (kind is tuple or kind is list or kind is str) and elements:
                return elements[rnd._randbelow(len(elements))]  # random.choice: one _randbelow
    return _ORIGINAL_RANDOM_ELEMENT(self, elements)


# -- format strings and formatter dispatch ---------------------------------------------------

_ORIGINAL_FORMAT = faker.generator.Generator.format
_ORIGINAL_PARSE = faker.generator.Generator.parse
_ORIGINAL_GET_FORMATTER = faker.generator.Generator.get_formatter
_TOKEN = faker.generator._re_token

_Plan = tuple[str, tuple[tuple[str, str], ...]]
_plans: dict[str, _Plan | None] = {}


def _plan(text: str) -> _Plan | None:
    """``text`` as its first literal and (formatter, following literal) pairs; None when a token
    names an argument group (Faker's own ``parse`` then reads the group's arguments)."""
    pairs: list[tuple[str, str]] = []
    head = None
    position = 0
    formatter = ""
    for match in _TOKEN.finditer(text):
        if match.group(2):
            return None
        literal = text[position : match.start()]
        if head is None:
            head = literal
        else:
            pairs.append((formatter, literal))
        formatter = match.group(1)
        position = match.end()
    if head is None:
        return text, ()
    pairs.append((formatter, text[position:]))
    return head, tuple(pairs)


_GENERATOR = _Methods("format", "get_formatter", "parse")


def _format(self: faker.generator.Generator, formatter: str, *args: Any, **kwargs: Any) -> Any:
    if type(self).get_formatter is _ORIGINAL_GET_FORMATTER:
        try:
            method = getattr(self, formatter)
        except AttributeError:
            pass  # Faker's own format raises its message
        else:
            # A generator made before install() holds Faker's own provider methods: use ours.
            faster = _FASTER.get(getattr(method, "__func__", None))
            if faster is not None:
                return faster(method.__self__, *args, **kwargs)
            return method(*args, **kwargs)
    return _ORIGINAL_FORMAT(self, formatter, *args, **kwargs)


_GENERATOR_KNOWN = _GENERATOR.known
_UNPLANNED: Any = object()


def _parse(self: faker.generator.Generator, text: str) -> str:
    cls = type(self)
    if type(text) is str and (_GENERATOR_KNOWN.get(cls) or _GENERATOR.kept_by(cls)):
        plan = _plans.get(text, _UNPLANNED)
        if plan is _UNPLANNED:
            plan = _plan(text)
            if len(_plans) < _PLAN_LIMIT:
                _plans[text] = plan
        if plan is not None:
            parts = [plan[0]]
            for formatter, literal in plan[1]:
                # _format's steps inline (one to four tokens per name, company, address...);
                # get_formatter is Faker's own here (_GENERATOR.kept_by).
                try:
                    method = getattr(self, formatter)
                except AttributeError:
                    method = functools.partial(_format, self, formatter)  # raises Faker's own error
                faster = _FASTER.get(getattr(method, "__func__", None))
                parts.append(str(method() if faster is None else faster(method.__self__)))
                parts.append(literal)
            return "".join(parts)
    return _ORIGINAL_PARSE(self, text)


_ABSENT = object()
"""The original of a method that the class does not define itself (uninstall deletes ours)."""
_ProxyFaker = faker.proxy.Faker
_ORIGINAL_PROXY_FORMAT = _ProxyFaker.__dict__.get("format", _ABSENT)


def _proxy_format(self: faker.proxy.Faker, formatter: str, *args: Any, **kwargs: Any) -> Any:
    # Found on the class, so neither the proxy's __getattr__ nor its AttributeError is needed.
    factories = _getattribute(self, "_factories")
    if len(factories) == 1:  # what the proxy's __getattr__ hands "format" to
        return factories[0].format(formatter, *args, **kwargs)
    return _ProxyFaker.__getattr__(self, "format")(formatter, *args, **kwargs)  # Faker's own error


def format_call(proxy: Any, formatter: str) -> tuple[Callable[..., Any], dict[str, Any]] | None:
    """The function ``proxy.format(formatter, **kwargs)`` ends up calling, found once, or None.

    What :func:`_proxy_format` and :func:`_format` find per call: the one generator of a
    one-locale ``faker.Faker``, its provider method for ``formatter``, the faster one in its
    place. Returned with the generator's ``__dict__``: the answer holds for the same proxy while
    :data:`epoch` is unchanged (no :func:`install`/:func:`uninstall` since) and that dictionary
    holds the same method under ``formatter`` (``add_provider`` replaces it). None when ``format``
    is not this module's (not installed) or the proxy or generator is another kind: then call
    ``format``.
    """
    if (
        not _active
        or type(proxy) is not _ProxyFaker
        or _ProxyFaker.__dict__.get("format") is not _proxy_format
    ):
        return None
    factories = _getattribute(proxy, "_factories")
    if len(factories) != 1:
        return None
    generator = factories[0]
    kind = type(generator)
    if kind.get_formatter is not _ORIGINAL_GET_FORMATTER or kind.format not in (_format, _ORIGINAL_FORMAT):
        return None
    method = getattr(generator, formatter, None)
    if method is None:
        return None  # format raises Faker's own error
    faster = _FASTER.get(getattr(method, "__func__", None)) if kind.format is _format else None
    call = functools.partial(faster, method.__self__) if faster is not None else method
    return cast("Callable[..., Any]", call), generator.__dict__


_ORIGINAL_EVALUATE = factory.Faker.evaluate


def _evaluate(self: factory.Faker, instance: Any, step: Any, extra: dict[str, Any]) -> Any:
    locale = extra.pop("locale")
    subfaker = stable(self._get_faker(locale))
    if type(subfaker) is faker.proxy.Faker:
        factories = _getattribute(subfaker, "_factories")
        if len(factories) == 1:  # the proxy's __getattr__ hands "format" to its only generator
            return factories[0].format(self.provider, **extra)
    return subfaker.format(self.provider, **extra)


# -- placeholders: numerify ----------------------------------------------------------------

_ORIGINAL_NUMERIFY = BaseProvider.numerify
_DIGIT_NAMES = (
    "random_digit",
    "random_digit_not_null",
    "random_digit_above_two",
    "random_digit_or_empty",
    "random_digit_not_null_or_empty",
)
_DIGITS = _Methods(*_DIGIT_NAMES)
_NUMERIFY_MARKS = "#%$!@"
_DIGIT = "0123456789"


def _find(text: str, mark: str) -> list[int]:
    """Where ``mark`` occurs in ``text``, in order."""
    found = []
    i = text.find(mark)
    while i >= 0:
        found.append(i)
        i = text.find(mark, i + 1)
    return found


def _numerify(self: BaseProvider, text: str = "###") -> str:
    if _active and type(text) is str and _DIGITS.kept_by(type(self)):
        rnd = self.generator.random
        if type(rnd) is _Random:
            hashes, percents, dollars, bangs, ats = (_find(text, mark) for mark in _NUMERIFY_MARKS)
            if not (hashes or percents or dollars or bangs or ats):
                return text
            below = rnd._randbelow
            chars = list(text)
            # Faker's five passes, in its order: '#' 0-9, '%' 1-9, '$' 2-9, '!' 0-9 or '', '@' 1-9 or ''.
            for i in hashes:
                chars[i] = _DIGIT[below(10)]
            for i in percents:
                chars[i] = _DIGIT[1 + below(9)]
            for i in dollars:
                chars[i] = _DIGIT[2 + below(8)]
            for i in bangs:
                chars[i] = _DIGIT[below(10)] if below(2) else ""
            for i in ats:
                chars[i] = _DIGIT[1 + below(9)] if below(2) else ""
            return "".join(chars)
    return _ORIGINAL_NUMERIFY(self, text)


# -- date bounds -----------------------------------------------------------------------------

_DateProvider = faker_dates.Provider
_ORIGINAL_PARSE_DATE_TIME = _raw(_DateProvider, "_parse_date_time")
_ORIGINAL_PARSE_DATE = _raw(_DateProvider, "_parse_date")
_DATE_STRINGS = _Methods("_parse_date_string")

_BOUND_TYPES = frozenset((datetime, date))
"""A set, not module names: freezegun swaps every module attribute that is ``datetime`` or ``date``."""
_timestamps: dict[date, int] = {}
_deltas: dict[tuple[type, str], timedelta] = {}


def _delta(cls: type, value: str) -> timedelta:
    """``timedelta(**cls._parse_date_string(value))``, kept per class and string (Faker's ParseError if bad)."""
    delta = _deltas.get((cls, value))
    if delta is None:
        delta = timedelta(**cls._parse_date_string(value))  # type: ignore[attr-defined]
        if len(_deltas) < _PLAN_LIMIT:
            _deltas[cls, value] = delta
    return delta


def _parse_date_time(cls: type, value: Any, tzinfo: Any = None) -> int:
    """Faker's ``_parse_date_time``: the same result and the same reads of ``datetime.now``."""
    kind = type(value)
    if kind in _BOUND_TYPES:
        stamp = _timestamps.get(value)
        if stamp is None:
            stamp = faker_dates.datetime_to_timestamp(value)
            if len(_timestamps) < _PLAN_LIMIT:
                _timestamps[value] = stamp
        return stamp
    if kind is str and value != "now" and _DATE_STRINGS.kept_by(cls):
        delta = _delta(cls, value)
        # The module's ``datetime`` at call time: freezegun replaces it while time is frozen.
        return faker_dates.datetime_to_timestamp(faker_dates.datetime.now(tzinfo) + delta)
    return _ORIGINAL_PARSE_DATE_TIME.__func__(cls, value, tzinfo)


def _parse_date(cls: type, value: Any) -> date:
    """Faker's ``_parse_date`` (``date.today()`` read as often), with relative strings parsed once."""
    if type(value) is str and value not in ("today", "now") and _DATE_STRINGS.kept_by(cls):
        delta = _delta(cls, value)
        return faker_dates.dtdate.today() + delta
    return _ORIGINAL_PARSE_DATE.__func__(cls, value)


_ORIGINAL_DATE_TIME_BETWEEN = _raw(_DateProvider, "date_time_between")
_DATE_TIME_BETWEEN = _Methods("_parse_date_time", "_rand_seconds")
_DATE_TIME_BETWEEN_KNOWN = _DATE_TIME_BETWEEN.known
_UNIFORM_SECONDS = platform.system() != "Windows"
"""Faker's ``_rand_seconds`` is ``random.uniform`` except on Windows (``randint`` there)."""
_epochs: dict[type, tuple[datetime, datetime]] = {}
"""The ``datetime`` class Faker's module holds (freezegun swaps it for its ``FakeDatetime`` while
time is frozen) -> Faker's two epochs made of it, naive and UTC: Faker makes one per value."""


def _epochs_of(kind: Any) -> tuple[datetime, datetime]:
    made = (kind(1970, 1, 1), kind(1970, 1, 1, tzinfo=UTC))
    if len(_epochs) < 8:
        _epochs[kind] = made
    return made


def _date_time_between(
    self: Any, start_date: Any = "-30y", end_date: Any = "now", tzinfo: Any = None
) -> datetime:
    """Faker's ``date_time_between``: the same bounds, the same draw (``uniform``'s formula inline),
    the same result, without two method calls per value and with its epoch made once."""
    if _active and _UNIFORM_SECONDS:
        cls = type(self)
        rnd = self.generator.random
        if type(rnd) is _Random and (_DATE_TIME_BETWEEN_KNOWN.get(cls) or _DATE_TIME_BETWEEN.kept_by(cls)):
            start = _parse_date_time(cls, start_date, tzinfo)
            end = _parse_date_time(cls, end_date, tzinfo)
            if end == start:
                ts: float = start
            elif end - start <= 1:
                ts = start + rnd.random()
            else:  # _rand_seconds: random.uniform(start, end)
                ts = start + (end - start) * rnd.random()
            kind = faker_dates.datetime  # read at call time, as Faker's body reads it
            epochs = _epochs.get(kind) or _epochs_of(kind)
            # timedelta(0, ts) is Faker's timedelta(seconds=ts) without parsing a keyword (-140 ns)
            if tzinfo is None:
                return epochs[0] + timedelta(0, ts)
            return (epochs[1] + timedelta(0, ts)).astimezone(tzinfo)
    return _ORIGINAL_DATE_TIME_BETWEEN(self, start_date, end_date, tzinfo)


# -- words and sentences ---------------------------------------------------------------------

_LoremProvider = faker_lorem.Provider
_ORIGINAL_WORDS = _LoremProvider.words
_ORIGINAL_SENTENCE = _LoremProvider.sentence
_LOREM = _Methods(
    "words",
    "sentence",
    "get_words_list",
    "randomize_nb_elements",
    "random_choices",
    "random_elements",
)


def _word_list(self: Any, ext_word_list: Any) -> Any:
    """The list ``get_words_list`` would copy (its copy is not needed to draw), or None."""
    words = self.word_list if ext_word_list is None else ext_word_list
    kind = type(words)
    return words if (kind is list or kind is tuple) and words else None


def _choices(rnd: Any, population: Any, k: int) -> list[Any]:
    """Faker's ``random_choices(population, length=k)``: ``random.choice`` for one, else ``random.choices``."""
    if k == 1:
        return [population[rnd._randbelow(len(population))]]
    draw = rnd.random
    n = len(population) + 0.0
    return [population[floor(draw() * n)] for _ in range(k)]


def _words(
    self: Any, nb: int = 3, ext_word_list: Any = None, part_of_speech: Any = None, unique: bool = False
) -> Any:
    if _active and not unique and not part_of_speech and type(nb) is int and _LOREM.kept_by(type(self)):
        rnd = self.generator.random
        words = _word_list(self, ext_word_list)
        if words is not None and type(rnd) is _Random:
            return _choices(rnd, words, nb)
    return _ORIGINAL_WORDS(self, nb, ext_word_list, part_of_speech, unique)


def _sentence(self: Any, nb_words: int = 6, variable_nb_words: bool = True, ext_word_list: Any = None) -> str:
    if _active and type(nb_words) is int and nb_words > 0 and _LOREM.kept_by(type(self)):
        rnd = self.generator.random
        words = _word_list(self, ext_word_list)
        if words is not None and type(rnd) is _Random:
            if variable_nb_words:  # randomize_nb_elements(nb_words, min=1): randint(60, 140)
                nb_words = max(int(nb_words * (60 + rnd._randbelow(81)) / 100), 1)
            picked = _choices(rnd, words, nb_words)
            picked[0] = picked[0].title()
            return self.word_connector.join(picked) + self.sentence_punctuation
    return _ORIGINAL_SENTENCE(self, nb_words, variable_nb_words, ext_word_list)


# -- installing ------------------------------------------------------------------------------

_CANDIDATES: tuple[tuple[type, str, Any, Any], ...] = (
    (BaseProvider, "random_elements", _ORIGINAL_RANDOM_ELEMENTS, _random_elements),
    (BaseProvider, "random_element", _ORIGINAL_RANDOM_ELEMENT, _random_element),
    (BaseProvider, "numerify", _ORIGINAL_NUMERIFY, _numerify),
    (_DateProvider, "_parse_date_time", _ORIGINAL_PARSE_DATE_TIME, classmethod(_parse_date_time)),
    (_DateProvider, "_parse_date", _ORIGINAL_PARSE_DATE, classmethod(_parse_date)),
    (_DateProvider, "date_time_between", _ORIGINAL_DATE_TIME_BETWEEN, _date_time_between),
    (_LoremProvider, "words", _ORIGINAL_WORDS, _words),
    (_LoremProvider, "sentence", _ORIGINAL_SENTENCE, _sentence),
    (faker.generator.Generator, "format", _ORIGINAL_FORMAT, _format),
    (faker.generator.Generator, "parse", _ORIGINAL_PARSE, _parse),
    (_ProxyFaker, "format", _ORIGINAL_PROXY_FORMAT, _proxy_format),
    (factory.Faker, "evaluate", _ORIGINAL_EVALUATE, _evaluate),
)
"""(class, method, Faker's or factory_boy's own, the faster one)."""


def _parameters(method: Any) -> list[tuple[str, Any, Any]]:
    function = method.__func__ if isinstance(method, classmethod) else method
    return [(p.name, p.default, p.kind) for p in inspect.signature(function).parameters.values()]


def _fits(original: Any, fast: Any) -> bool:
    """Whether ``fast`` takes the parameters of ``original`` (the proxy's format: the generator's)."""
    if original is _ABSENT:
        original = _ORIGINAL_FORMAT
    return _parameters(original) == _parameters(fast)


_PATCHES = tuple(patch for patch in _CANDIDATES if _fits(patch[2], patch[3]))
"""The candidates whose method has the parameters this module was written for: with another Faker
release, a method that changed keeps Faker's own code (and ``tests/test_internals.py`` fails)."""

_EXPECTED: dict[str, tuple[Any, ...]] = {
    **{name: (BaseProvider.__dict__[name],) for name in _DIGIT_NAMES},
    "random_choices": (BaseProvider.__dict__["random_choices"],),
    "get_formatter": (_ORIGINAL_GET_FORMATTER,),
    "get_words_list": (_raw(_LoremProvider, "get_words_list"),),
    "_parse_date_string": (_raw(_DateProvider, "_parse_date_string"),),
    "_rand_seconds": (_raw(_DateProvider, "_rand_seconds"),),
    "randomize_nb_elements": (BaseProvider.__dict__["randomize_nb_elements"],),
}
"""What each method a shortcut relies on may resolve to on the class that runs it: Faker's own
or the faster one (``install(paths)`` may leave some of them Faker's own)."""
for _patch in _PATCHES:  # Generator.format and faker.Faker.format share a name
    _EXPECTED[_patch[1]] = (*_EXPECTED.get(_patch[1], ()), _patch[2], _patch[3])
del _patch

PATHS = tuple(f"{owner.__module__}.{owner.__qualname__}.{name}" for owner, name, _, _ in _PATCHES)
"""The names of the replaced methods, as :func:`install` takes them (``faker.proxy.Faker.format``...)."""


_FASTER: dict[Any, Any] = {}
"""Faker's own provider methods (as a generator made before :func:`install` binds them) and the
installed faster ones."""


def install(paths: Collection[str] | None = None) -> None:
    """Use the faster paths in every Faker generator and provider, and in ``factory.Faker`` (idempotent).

    ``paths``: only these of :data:`PATHS` (e.g. ``{"faker.providers.BaseProvider.random_elements"}``),
    to measure what each pays (``benchmarks/faker_paths.py``); the other methods are Faker's own.
    """
    global _active, epoch
    epoch += 1
    for methods in _Methods.every:
        methods.known.clear()  # classes may have changed since the last scope
    _FASTER.clear()
    for path, (owner, name, original, fast) in zip(PATHS, _PATCHES, strict=True):
        chosen = fast if paths is None or path in paths else original
        _put(owner, name, chosen)
        if chosen is fast and issubclass(owner, BaseProvider):
            _FASTER[original] = fast
    _active = True


def uninstall() -> None:
    """Give Faker and factory_boy their own methods back (idempotent)."""
    global _active, epoch
    epoch += 1
    _active = False
    _FASTER.clear()
    for owner, name, original, _ in _PATCHES:
        _put(owner, name, original)


def _put(owner: type, name: str, method: Any) -> None:
    """Set ``owner.name`` to ``method``, or delete it when ``method`` is :data:`_ABSENT`."""
    if method is not _ABSENT:
        setattr(owner, name, method)
    elif name in owner.__dict__:
        delattr(owner, name)
