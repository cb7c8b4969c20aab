"""The ``@`` syntax of pack values: references to labelled records and times relative to the clock.

It is plain text, so it reads the same in YAML, JSON and CSV:

- ``"@organizations.acme"`` refers to the record labelled ``acme`` of table (or collection)
  ``organizations``, in any pack and either store; it becomes that record's ID.
- ``"@now"``, ``"@now-3d"``, ``"@now+2h30m"`` are the clock's start instant plus an offset.
- ``"@@text"`` is the literal string ``"@text"``; any other value starting with ``@`` is an error.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from seedkit.core.clock import parse_duration
from seedkit.errors import ConfigError

MARK = "@"
NOW = "now"


@dataclass(frozen=True)
class Ref:
    """A reference to the record labelled ``label`` in table or collection ``table``."""

    table: str
    label: str

    def __str__(self) -> str:
        return f"{MARK}{self.table}.{self.label}"


@dataclass(frozen=True)
class RelativeTime:
    """The clock's start instant plus ``offset`` (negative for the past)."""

    offset: timedelta
    text: str

    def __str__(self) -> str:
        return self.text


def parse_special(text: str) -> Ref | RelativeTime | str:
    """Parse one string; raises ``ValueError`` for a malformed ``@`` value."""
    if not text.startswith(MARK):
        return text
    body = text[1:]
    if body.startswith(MARK):
        return body
    if body == NOW or body.startswith((NOW + "-", NOW + "+")):
        offset = body[len(NOW) :]
        try:
            return RelativeTime(parse_duration(offset) if offset else timedelta(), text)
        except ConfigError:
            raise ValueError(f"{text!r} is not a time: use @now, @now-3d, @now+2h30m") from None
    table, dot, label = body.partition(".")
    if not (table and dot and label) or table.strip() != table or label.strip() != label:
        raise ValueError(
            f"{text!r} is not a reference: write @table.label (or @@ for a text starting with @)"
        )
    return Ref(table, label)


def parse_value(value: Any) -> Any:
    """``value`` with every string (also inside lists and mappings) parsed by :func:`parse_special`."""
    if isinstance(value, str):
        return parse_special(value)
    if isinstance(value, list | tuple):
        return [parse_value(item) for item in value]
    if isinstance(value, dict):
        return {key: parse_value(item) for key, item in value.items()}
    return value


def refs_in(value: Any) -> list[Ref]:
    """Every :class:`Ref` in ``value``, depth first."""
    if isinstance(value, Ref):
        return [value]
    if isinstance(value, list):
        return [ref for item in value for ref in refs_in(item)]
    if isinstance(value, dict):
        return [ref for item in value.values() for ref in refs_in(item)]
    return []
