"""CHECK constraints read as rules that generated values satisfy by construction.

PostgreSQL prints a CHECK constraint in a normal form (``pg_get_constraintdef``): BETWEEN
becomes two comparisons joined by AND, ``IN (...)`` becomes ``= ANY (ARRAY[...])``, literals
carry casts. :func:`read_checks` undoes the casts, splits the top-level ANDs and recognises
the common forms:

- ``column <op> constant`` (``>``, ``>=``, ``<``, ``<=``, ``=``) for numbers and quoted literals;
- ``column = ANY (ARRAY[...])`` (``IN``): a choice list;
- ``length(column) <op> n`` (also ``char_length``): a length bound;
- ``column ~ 'pattern'``: a regular expression the value is generated from;
- ``column_a <op> column_b``: an order between two columns (``created_at <= updated_at``);
- ``column IS NOT NULL``.

A part it cannot read makes the constraint *opaque*: it is then tried on a sample of generated
rows, by PostgreSQL itself, before anything is written (see :mod:`seedkit.generate.plan`).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal

from seedkit.generate.catalog import Check, Table

_CAST = re.compile(
    r"::(?:\"[^\"]+\"|[a-z_][\w.]*(?: varying| precision| with(?:out)? time zone)?)(?:\(\d+(?:,\d+)?\))?(?:\[\])?"
)
_PAREN_TOKEN = re.compile(r"(?<!\w)\((\"[^\"]+\"|\w+|'(?:[^']|'')*'|-?\d+(?:\.\d+)?)\)")
_NUMBER = r"-?\d+(?:\.\d+)?"
_LITERAL = r"'(?:[^']|'')*'"
_IDENT = r"\"[^\"]+\"|[a-z_]\w*"
_OPS = (">=", "<=", "<>", "!=", ">", "<", "=")


@dataclass
class ColumnRules:
    """What CHECK constraints ask of one column's values (bounds are inclusive unless said)."""

    low: Decimal | str | None = None
    low_inclusive: bool = True
    high: Decimal | str | None = None
    high_inclusive: bool = True
    choices: tuple[str | Decimal, ...] | None = None
    min_length: int | None = None
    max_length: int | None = None
    pattern: str | None = None
    not_null: bool = False
    sources: list[str] = field(default_factory=list)
    """Names of the constraints these rules come from."""


@dataclass(frozen=True)
class Order:
    """``left <op> right`` between two columns of a row (``op`` one of ``<``, ``<=``, ``>``, ``>=``)."""

    left: str
    op: str
    right: str
    constraint: str


@dataclass
class TableRules:
    """The CHECK constraints of a table, read: per-column rules, column orders, and what is opaque."""

    columns: dict[str, ColumnRules] = field(default_factory=dict)
    orders: list[Order] = field(default_factory=list)
    opaque: list[Check] = field(default_factory=list)

    def column(self, name: str) -> ColumnRules:
        return self.columns.setdefault(name, ColumnRules())


def normalize(definition: str) -> str:
    """A constraint's expression without ``CHECK``, casts, and parentheses around single tokens."""
    body = definition.strip()
    if body.upper().startswith("CHECK"):
        body = body[5:].strip()
    body = body.replace(" NOT VALID", "")
    body = _CAST.sub("", body)
    previous = None
    while previous != body:
        previous = body
        body = _PAREN_TOKEN.sub(r"\1", body)
    return _strip_parens(body)


def _strip_parens(text: str) -> str:
    text = text.strip()
    while text.startswith("(") and text.endswith(")") and _balanced_prefix(text) == len(text) - 1:
        text = text[1:-1].strip()
    return text


def _balanced_prefix(text: str) -> int:
    """Index of the parenthesis closing the one at position 0 (-1 if none)."""
    depth = 0
    quoted = False
    for index, char in enumerate(text):
        if char == "'":
            quoted = not quoted
        elif not quoted and char == "(":
            depth += 1
        elif not quoted and char == ")":
            depth -= 1
            if depth == 0:
                return index
    return -1


def split_and(text: str) -> list[str]:
    """The top-level AND-ed parts of ``text``."""
    parts: list[str] = []
    depth = 0
    quoted = False
    start = 0
    index = 0
    while index < len(text):
        char = text[index]
        if char == "'":
            quoted = not quoted
        elif not quoted and char == "(":
            depth += 1
        elif not quoted and char == ")":
            depth -= 1
        elif not quoted and depth == 0 and text[index : index + 5].upper() == " AND ":
            parts.append(text[start:index])
            start = index + 5
            index += 5
            continue
        index += 1
    parts.append(text[start:])
    return [_strip_parens(p) for p in parts]


def _ident(token: str) -> str:
    return token[1:-1] if token.startswith('"') else token


def _constant(token: str) -> Decimal | str:
    if token.startswith("'"):
        return token[1:-1].replace("''", "'")
    return Decimal(token)


_FLIP = {">": "<", ">=": "<=", "<": ">", "<=": ">=", "=": "=", "<>": "<>", "!=": "!="}
_COMPARISON = re.compile(
    rf"^({_IDENT}|{_NUMBER}|{_LITERAL})\s*(>=|<=|<>|!=|>|<|=)\s*({_IDENT}|{_NUMBER}|{_LITERAL})$"
)
_ANY = re.compile(rf"^({_IDENT})\s*=\s*ANY\s*\(\s*\(?ARRAY\[(.*)\]\)?\s*\)$", re.S)
_LENGTH = re.compile(rf"^(?:char_length|length|character_length)\(({_IDENT})\)\s*(>=|<=|>|<|=)\s*(\d+)$")
_PATTERN = re.compile(rf"^({_IDENT})\s*~\s*({_LITERAL})$")
_NOT_NULL = re.compile(rf"^({_IDENT}) IS NOT NULL$")
_ELEMENT = re.compile(rf"\s*({_LITERAL}|{_NUMBER})\s*(?:,|$)")


def read_checks(table: Table) -> TableRules:
    """The CHECK constraints of ``table`` read into :class:`TableRules` (see the module docstring)."""
    rules = TableRules()
    for check in table.checks:
        body = normalize(check.definition)
        parts = split_and(body)
        readers = [_reader(part, set(table.columns)) for part in parts]
        if any(reader is None for reader in readers):
            rules.opaque.append(check)
            continue
        for reader in readers:
            assert reader is not None
            reader(rules, check.name)
    read_partitions(table, rules)
    return rules


_RANGE_BOUND = re.compile(r"FOR VALUES FROM \((.+)\) TO \((.+)\)")
_LIST_BOUND = re.compile(r"FOR VALUES IN \((.+)\)")


def read_partitions(table: Table, rules: TableRules) -> None:
    """Narrow the partition key's rules to the partitions' bounds (so every row has a partition).

    Range partitions on one column: from the lowest ``FROM`` to the highest ``TO`` (exclusive;
    gaps between partitions are not seen); list partitions: the union of their values. A
    ``DEFAULT`` partition, ``MINVALUE``/``MAXVALUE`` and hash partitions take any value.
    """
    if len(table.partition_key) != 1 or not table.partition_bounds or "DEFAULT" in table.partition_bounds:
        return
    (name,) = table.partition_key
    source = f"partitions of {table.qualified}"
    if table.partition_strategy == "r":
        lows, highs = [], []
        for bound in table.partition_bounds:
            match = _RANGE_BOUND.fullmatch(bound)
            if match is None:
                return
            lows.append(match.group(1).strip())
            highs.append(match.group(2).strip())
        if any("MINVALUE" in v or "MAXVALUE" in v or "," in v for v in lows + highs):
            return
        low = min((_constant(v) for v in lows), key=_order)
        high = max((_constant(v) for v in highs), key=_order)
        column = rules.column(name)
        column.low, column.low_inclusive = low, True
        column.high, column.high_inclusive = high, False
        column.sources.append(source)
    elif table.partition_strategy == "l":
        values: list[str | Decimal] = []
        for bound in table.partition_bounds:
            match = _LIST_BOUND.fullmatch(bound)
            if match is None:
                return
            values.extend(_constant(e) for e in _ELEMENT.findall(match.group(1)))
        column = rules.column(name)
        column.choices = tuple(values)
        column.sources.append(source)


def _order(value: Decimal | str) -> tuple[int, Decimal | str]:
    return (0, value) if isinstance(value, Decimal) else (1, value)


def _reader(part: str, columns: set[str]) -> Callable[[TableRules, str], None] | None:
    """A function applying ``part`` to a :class:`TableRules`, or None if ``part`` is not understood."""
    if match := _NOT_NULL.match(part):
        name = _ident(match.group(1))
        if name not in columns:
            return None

        def not_null(rules: TableRules, source: str) -> None:
            column = rules.column(name)
            column.not_null = True
            column.sources.append(source)

        return not_null
    if match := _ANY.match(part):
        name = _ident(match.group(1))
        elements = _ELEMENT.findall(match.group(2))
        if name not in columns or not elements:
            return None
        values = tuple(_constant(e) for e in elements)

        def choice(rules: TableRules, source: str) -> None:
            column = rules.column(name)
            column.choices = (
                values if column.choices is None else tuple(v for v in column.choices if v in values)
            )
            column.sources.append(source)

        return choice
    if match := _LENGTH.match(part):
        name, op, number = _ident(match.group(1)), match.group(2), int(match.group(3))
        if name not in columns:
            return None

        def length(rules: TableRules, source: str) -> None:
            column = rules.column(name)
            if op in (">", ">=", "="):
                low = number + (op == ">")
                column.min_length = max(column.min_length or 0, low)
            if op in ("<", "<=", "="):
                high = number - (op == "<")
                column.max_length = high if column.max_length is None else min(column.max_length, high)
            column.sources.append(source)

        return length
    if match := _PATTERN.match(part):
        name, pattern = _ident(match.group(1)), str(_constant(match.group(2)))
        if name not in columns:
            return None

        def regex(rules: TableRules, source: str) -> None:
            column = rules.column(name)
            column.pattern = pattern
            column.sources.append(source)

        return regex
    if match := _COMPARISON.match(part):
        left, op, right = match.groups()
        left_is_column = _ident(left) in columns and not left.startswith("'")
        right_is_column = _ident(right) in columns and not right.startswith("'")
        if left_is_column and right_is_column:
            if op not in ("<", "<=", ">", ">="):
                return None
            a, b = _ident(left), _ident(right)

            def order(rules: TableRules, source: str) -> None:
                rules.orders.append(Order(a, op, b, source))

            return order
        if right_is_column and not left_is_column:
            left, right, op = right, left, _FLIP[op]
            left_is_column, right_is_column = True, False
        if not left_is_column or op in ("<>", "!="):
            return None
        name, value = _ident(left), _constant(right)

        def bound(rules: TableRules, source: str) -> None:
            column = rules.column(name)
            if op == "=":
                column.choices = (value,)
            if op in (">", ">="):
                column.low, column.low_inclusive = value, op == ">="
            if op in ("<", "<="):
                column.high, column.high_inclusive = value, op == "<="
            column.sources.append(source)

        return bound
    return None
