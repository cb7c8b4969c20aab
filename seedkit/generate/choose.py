"""Choosing a value provider for a column from its name, its type and its CHECK rules.

The rules, in order (the first that applies wins):

1. a CHECK choice list (``IN (...)``, ``= 'x'``) or an enum's labels: one of them;
2. a CHECK pattern (``~ '^[A-Z]{2}$'``): a string generated from it;
3. the column's name (``email``, ``first_name``, ``city``, ``price``, ``created_at``...; see
   :data:`NAME_RULES`), when the name's provider suits the type;
4. the column's type (every common PostgreSQL type; :func:`by_type`).

Numeric bounds and length bounds from CHECK constraints then narrow what was chosen. The
result is a :class:`~seedkit.generate.providers.Provider`; the plan wraps it further for
uniqueness, orders between columns and nullability.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

from seedkit.generate.catalog import Column, PgType
from seedkit.generate.checks import ColumnRules
from seedkit.generate.providers import (
    Addresses,
    Arrays,
    Booleans,
    Bytes,
    Choice,
    Dates,
    Decimals,
    Digits,
    Email,
    Floats,
    Instants,
    Integers,
    Intervals,
    JsonDocuments,
    Pattern,
    Pooled,
    Provider,
    Ranges,
    Times,
    Truncated,
    Uuids,
    Words,
)

TEXT_TYPES = {"text", "varchar", "bpchar", "citext", "name"}
INTEGER_TYPES = {"int2": 2**15 - 1, "int4": 2**31 - 1, "int8": 2**63 - 1}
INSTANT_TYPES = {"timestamptz", "timestamp"}

# name pattern -> (kind of type it needs, provider factory(locale))
NAME_RULES: list[tuple[str, str, Callable[[str], Provider]]] = [
    (r"e_?mail(_address)?$", "text", lambda loc: Email(locale=loc)),
    (r"first_?name|given_?name|forename", "text", lambda loc: Pooled("first_name", loc)),
    (r"last_?name|family_?name|surname", "text", lambda loc: Pooled("last_name", loc)),
    (r"(user_?name|login|handle|nick(name)?)$", "text", lambda loc: Words(1, 2, "_", False, "word", loc)),
    (r"phone|mobile|fax", "text", lambda loc: Digits(10, "+1")),
    (r"(url|website|homepage|link)$", "text", lambda loc: Words(1, 1, "", False, "word", loc)),
    (r"city|town", "text", lambda loc: Pooled("city", loc)),
    (r"country_?code$", "text", lambda loc: Pooled("country_code", loc)),
    (r"country", "text", lambda loc: Pooled("country", loc)),
    (r"(post(al)?_?code|zip(_?code)?)$", "text", lambda loc: Pooled("postcode", loc)),
    (r"street|address(_line)?", "text", lambda loc: Pooled("street_address", loc)),
    (r"state|province|region", "text", lambda loc: Pooled("state", loc)),
    (r"company|organi[sz]ation|employer", "text", lambda loc: Pooled("company", loc)),
    (r"currency", "text", lambda loc: Pooled("currency_code", loc)),
    (r"colou?r", "text", lambda loc: Pooled("color", loc)),
    (r"(language|locale|lang)(_code)?$", "text", lambda loc: Pooled("language_code", loc)),
    (r"time_?zone|tz$", "text", lambda loc: Pooled("timezone", loc)),
    (r"job|occupation|position", "text", lambda loc: Pooled("job", loc)),
    (r"slug", "text", lambda loc: Words(2, 4, "-", False, "word", loc)),
    (r"(sku|code|reference|ref)$", "text", lambda loc: Digits(8, "C")),
    (r"title|subject|headline|summary", "text", lambda loc: Words(3, 7, " ", True, "word", loc)),
    (
        r"description|bio|body|content|comment|note|message|text|details",
        "text",
        lambda loc: Words(8, 25, " ", True, "word", loc),
    ),
    (r"(full_?)?name$", "text", lambda loc: Pooled("catch_phrase", loc)),
    (
        r"price|amount|total|cost|balance|fee|salary|subtotal",
        "number",
        lambda loc: Decimals(Decimal(1), Decimal(500), 2),
    ),
    (r"quantity|qty|count|number_of|num_", "integer", lambda loc: Integers(1, 10)),
    (r"^age$", "integer", lambda loc: Integers(18, 90)),
    (r"rating|stars", "integer", lambda loc: Integers(1, 5)),
    (r"percent|pct|ratio", "number", lambda loc: Decimals(Decimal(0), Decimal(100), 2)),
    (r"lat(itude)?$", "number", lambda loc: Decimals(Decimal(-90), Decimal(90), 6)),
    (r"(lng|lon|long|longitude)$", "number", lambda loc: Decimals(Decimal(-180), Decimal(180), 6)),
    (r"birth|dob", "date", lambda loc: Dates(-80 * 365, -18 * 365)),
    (r"(deleted|archived|removed|cancel+ed)_?(at|on)$", "instant", lambda loc: Instants()),
]


def _kind(pg: PgType) -> str:
    if pg.base in TEXT_TYPES:
        return "text"
    if pg.base in INTEGER_TYPES:
        return "integer"
    if pg.base in ("numeric", "float4", "float8", "money"):
        return "number"
    if pg.base in INSTANT_TYPES:
        return "instant"
    if pg.base == "date":
        return "date"
    return pg.base


def by_name(column: Column, locale: str) -> Provider | None:
    """The provider :data:`NAME_RULES` give this column, if its type suits; else None."""
    kind = _kind(column.type)
    name = column.name.lower()
    for pattern, needs, make in NAME_RULES:
        if re.search(pattern, name) and (needs == kind or (needs == "number" and kind == "integer")):
            provider = make(locale)
            if kind == "instant" and isinstance(provider, Instants):
                provider.aware = column.type.base == "timestamptz"
            if needs == "number" and kind == "integer" and isinstance(provider, Decimals):
                provider = Integers(int(provider.low), int(provider.high))
            return provider
    return None


def by_type(pg: PgType, locale: str = "en_US") -> Provider | None:
    """A provider for any value of type ``pg``, or None for a type seedkit cannot generate."""
    base = pg.base
    if base in TEXT_TYPES:
        return Words(1, 4, " ", True, "word", locale)
    if base in INTEGER_TYPES:
        return Integers(0, min(1000, INTEGER_TYPES[base]))
    if base == "numeric":
        scale = pg.scale if pg.scale is not None else 2
        top = Decimal(1000)
        if pg.precision is not None:
            top = min(top, Decimal(10) ** (pg.precision - scale) - Decimal(1).scaleb(-scale))
        return Decimals(Decimal(0), top, scale)
    if base in ("float4", "float8"):
        return Floats(0.0, 1000.0)
    if base == "bool":
        return Booleans()
    if base in INSTANT_TYPES:
        return Instants(aware=base == "timestamptz")
    if base == "date":
        return Dates()
    if base in ("time", "timetz"):
        return Times(aware=base == "timetz")
    if base == "interval":
        return Intervals()
    if base == "uuid":
        return Uuids()
    if base in ("json", "jsonb"):
        return JsonDocuments(binary=base == "jsonb")
    if base == "bytea":
        return Bytes()
    if base in ("inet", "cidr"):
        return Addresses(network=base == "cidr")
    if base == "enum" and pg.labels:
        return Choice(pg.labels, label=f"one of the enum's {len(pg.labels)} labels")
    if base == "array" and pg.element is not None:
        inner = by_type(pg.element, locale)
        return Arrays(inner) if inner is not None else None
    if base == "range" and pg.element is not None:
        inner = by_type(pg.element, locale)
        return Ranges(inner) if inner is not None else None
    return None


def choose(column: Column, rules: ColumnRules | None, locale: str = "en_US") -> tuple[Provider | None, str]:
    """The provider for ``column``, and why (``CHECK``, ``name`` or ``type``; the CHECKs that narrowed it)."""
    pg = column.type
    if rules is not None and rules.choices is not None:
        options = tuple(_as_type(v, pg) for v in rules.choices)
        return Choice(options), "CHECK"
    if rules is not None and rules.pattern is not None and _kind(pg) == "text":
        return _bounded_text(Pattern(rules.pattern), pg, rules), "CHECK"
    provider = by_name(column, locale)
    why = "name"
    if provider is None:
        provider, why = by_type(pg, locale), "type"
    if provider is None:
        return None, "type"
    if rules is not None:
        provider = _narrow(provider, pg, rules)
        if rules.sources:
            why = f"{why}, within CHECK {', '.join(dict.fromkeys(rules.sources))}"
    if _kind(pg) == "text" and not isinstance(provider, Choice):
        provider = _bounded_text(provider, pg, rules)
    return provider, why


def _bounded_text(provider: Provider, pg: PgType, rules: ColumnRules | None) -> Provider:
    limit = pg.length
    if rules is not None and rules.max_length is not None:
        limit = rules.max_length if limit is None else min(limit, rules.max_length)
    low = rules.min_length if rules is not None and rules.min_length else 0
    if limit is None and not low:
        return provider
    return Truncated(provider, limit, low)


def _as_type(value: object, pg: PgType) -> object:
    """A CHECK literal as the column's Python type."""
    kind = _kind(pg)
    if isinstance(value, Decimal):
        return int(value) if kind == "integer" else (float(value) if pg.base.startswith("float") else value)
    if kind == "date" and isinstance(value, str):
        return date.fromisoformat(value)
    if kind == "instant" and isinstance(value, str):
        return datetime.fromisoformat(value)
    return value


def _narrow(provider: Provider, pg: PgType, rules: ColumnRules) -> Provider:
    """``provider`` with CHECK bounds applied (numbers: a range within them)."""
    if rules.low is None and rules.high is None:
        return provider
    kind = _kind(pg)
    if kind == "integer" and isinstance(provider, Integers):
        floor = int(rules.low) + (0 if rules.low_inclusive else 1) if isinstance(rules.low, Decimal) else None
        ceiling = (
            int(rules.high) - (0 if rules.high_inclusive else 1) if isinstance(rules.high, Decimal) else None
        )
        low, high = _within(provider.low, provider.high, floor, ceiling, 1000)
        return Integers(int(low), int(high))
    if kind == "number" and isinstance(provider, Decimals):
        unit = Decimal(1).scaleb(-provider.scale)
        floor_d = rules.low + (0 if rules.low_inclusive else unit) if isinstance(rules.low, Decimal) else None
        ceiling_d = (
            rules.high - (0 if rules.high_inclusive else unit) if isinstance(rules.high, Decimal) else None
        )
        low_d, high_d = _within(provider.low, provider.high, floor_d, ceiling_d, Decimal(1000))
        return Decimals(low_d, high_d, provider.scale)
    if kind in ("date", "instant") and isinstance(provider, Dates | Instants):
        return _within_dates(provider, rules)
    if kind == "number" and isinstance(provider, Floats):
        low_f, high_f = provider.low, provider.high
        if isinstance(rules.low, Decimal):
            low_f = max(low_f, float(rules.low) + (0 if rules.low_inclusive else 1e-6))
            high_f = max(high_f, low_f + 1)
        if isinstance(rules.high, Decimal):
            high_f = min(high_f, float(rules.high) - (0 if rules.high_inclusive else 1e-6))
            low_f = min(low_f, high_f)
        return Floats(low_f, high_f)
    return provider


def _within_dates(provider: Dates | Instants, rules: ColumnRules) -> Provider:
    """Dates or instants inside string bounds (``d >= '2024-01-01'``, range partitions); a year wide if open."""
    try:
        if isinstance(provider, Dates):
            floor = date.fromisoformat(rules.low) if isinstance(rules.low, str) else None
            ceiling = date.fromisoformat(rules.high) if isinstance(rules.high, str) else None
            if floor is not None and not rules.low_inclusive:
                floor += timedelta(days=1)
            if ceiling is not None and not rules.high_inclusive:
                ceiling -= timedelta(days=1)
            floor = floor or (ceiling - timedelta(days=365) if ceiling else None)
            ceiling = ceiling or (floor + timedelta(days=365) if floor else None)
            return Dates(provider.low, provider.high, floor, ceiling) if floor and ceiling else provider
        low = _instant(rules.low, provider.aware)
        high = _instant(rules.high, provider.aware)
        low = low or (high - timedelta(days=365) if high else None)
        high = high or (low + timedelta(days=365) if low else None)
        if low is None or high is None:
            return provider
        if not rules.low_inclusive:
            low += timedelta(seconds=1)
        return Instants(provider.low, provider.high, provider.aware, low, high)
    except ValueError:  # a bound that is not a plain date: left to the sample check
        return provider


def _instant(value: object, aware: bool) -> datetime | None:
    if not isinstance(value, str):
        return None
    moment = datetime.fromisoformat(value)
    if aware and moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    if not aware:
        moment = moment.replace(tzinfo=None)
    return moment


def _within(low: Any, high: Any, floor: Any, ceiling: Any, width: Any) -> tuple[Any, Any]:
    """``[low, high]`` moved inside ``[floor, ceiling]`` (either may be None), ``width`` wide if it must move."""
    if floor is not None:
        low = max(low, floor)
    if ceiling is not None:
        high = min(high, ceiling)
    if low > high:  # the usual range lies outside the bounds: take one at the bound
        if floor is not None:
            low, high = floor, floor + width if ceiling is None else min(ceiling, floor + width)
        else:
            low, high = ceiling - width, ceiling
    return low, high


def empty_bounds(pg: PgType, rules: ColumnRules) -> bool:
    """True when the CHECK bounds of a numeric column leave no value (``x > 5 AND x < 3``)."""
    if not (isinstance(rules.low, Decimal) and isinstance(rules.high, Decimal)):
        return rules.choices is not None and len(rules.choices) == 0
    if _kind(pg) == "integer":
        low = int(rules.low) + (0 if rules.low_inclusive else 1)
        high = int(rules.high) - (0 if rules.high_inclusive else 1)
        return low > high
    if rules.low == rules.high:
        return not (rules.low_inclusive and rules.high_inclusive)
    return rules.low > rules.high
