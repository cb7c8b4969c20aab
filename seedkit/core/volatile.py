"""Column defaults that read the wall clock or a random source, and the injected values seedkit
writes in their place.

A column whose default is ``now()``, ``CURRENT_TIMESTAMP``, ``gen_random_uuid()`` (server side),
``func.now()`` (a SQL expression SQLAlchemy sends) or ``uuid.uuid4`` / ``datetime.utcnow`` (a
Python callable) would make two seedings of the same profile differ. Every seeding path (packs,
per-object factories, the bulk path) fills such a column, when the record or factory leaves it
out, from the active deterministic context: the clock for ``"clock"`` defaults, the ID generator
or the context's random for ``"random"`` ones. A Python callable seedkit does not recognise (a
lambda around ``datetime.now``) cannot be told apart from a deterministic one:
``seedkit fingerprint --check`` names the column it leaks into.
"""

from __future__ import annotations

import datetime as _dt
import os
import random
import re
import secrets
import uuid
from collections.abc import Callable
from decimal import Decimal
from typing import Any, Literal

import sqlalchemy as sa

from seedkit.core.determinism import current
from seedkit.core.wall_clock import CLOCK_FUNCTIONS

Volatility = Literal["clock", "random"]

_CLOCK_SQL = re.compile(
    r"\b(now|clock_timestamp|statement_timestamp|transaction_timestamp|timeofday)\s*\("
    r"|\b(current_timestamp|current_date|current_time|localtimestamp|localtime)\b",
    re.IGNORECASE,
)
_RANDOM_SQL = re.compile(
    r"\b(gen_random_uuid|uuid_generate_v[14]\w*|uuidv[47]|random|gen_random_bytes|txid_current)\s*\(",
    re.IGNORECASE,
)
_CLOCK_CALLABLES: tuple[Callable[..., Any], ...] = tuple(CLOCK_FUNCTIONS)
_RANDOM_CALLABLES: tuple[Callable[..., Any], ...] = (
    *(getattr(uuid, name) for name in ("uuid1", "uuid4", "uuid6", "uuid7", "uuid8") if hasattr(uuid, name)),
    os.urandom,
    random.random,
    secrets.token_hex,
    secrets.token_urlsafe,
    secrets.token_bytes,
)


def sql_volatility(sql: str | None) -> Volatility | None:
    """``"clock"``/``"random"`` when the SQL expression text reads the clock or a random source."""
    if not sql:
        return None
    if _CLOCK_SQL.search(sql):
        return "clock"
    if _RANDOM_SQL.search(sql):
        return "random"
    return None


def callable_volatility(function: Callable[..., Any]) -> Volatility | None:
    """``"clock"``/``"random"`` for the standard library's clock and random callables (``uuid.uuid4``...)."""
    function = getattr(function, "__wrapped__", function)  # SQLAlchemy wraps column default callables
    if any(function == known for known in _CLOCK_CALLABLES):
        return "clock"
    if any(function == known for known in _RANDOM_CALLABLES):
        return "random"
    return None


def column_volatility(column: sa.Column[Any]) -> Volatility | None:
    """How a mapped column's default (Python side, then server side) escapes the deterministic context."""
    default = column.default
    if default is not None:
        if getattr(default, "is_callable", False):
            return callable_volatility(default.arg)  # type: ignore[attr-defined]
        if getattr(default, "is_clause_element", False):
            return sql_volatility(str(default.arg))  # type: ignore[attr-defined]
        return None
    server_default = column.server_default
    if server_default is not None and isinstance(server_default, sa.DefaultClause):
        return sql_volatility(str(server_default.arg))
    return None


def injected_value(volatility: Volatility, type_: sa.types.TypeEngine[Any], entity: str) -> Any:
    """A value of ``type_`` from the active context in place of a ``volatility`` default.

    ``"clock"``: the clock's next instant (a ``date`` or ``time`` for those types, naive UTC
    for ``timestamp without time zone``, Unix seconds for numbers, ISO text for strings).
    ``"random"``: the ID generator's next UUID for ``entity`` (``table.column``) for UUID and text
    columns (its hex for text), the context's random otherwise. Raises ``TypeError`` for a type
    it cannot fill (a ``bytea`` random default, say).
    """
    context = current()
    python_type = _python_type(type_)
    if volatility == "clock":
        now = context.clock.now().astimezone(_dt.UTC)
        if python_type is _dt.datetime:
            timezone = getattr(type_, "timezone", True)
            return now if timezone else now.replace(tzinfo=None)
        if python_type is _dt.date:
            return now.date()
        if python_type is _dt.time:
            return now.time()
        if python_type in (int, float, Decimal):
            return python_type(int(now.timestamp()))
        if python_type is str:
            return now.isoformat()
    else:
        if python_type is uuid.UUID:
            return context.ids.uuid(entity)
        if python_type is str:
            return context.ids.uuid(entity).hex
        if python_type is bytes:
            return context.ids.uuid(entity).bytes
        if python_type is int:
            return context.random.randrange(1, 2**31)
        if python_type in (float, Decimal):
            return python_type(context.random.random())
    raise TypeError(f"cannot fill a {volatility} default of type {type_} from the deterministic context")


def injector(
    volatility: Volatility | None, type_: sa.types.TypeEngine[Any], entity: str
) -> Callable[[], Any] | None:
    """A zero-argument callable giving :func:`injected_value`, or None for a deterministic default."""
    if volatility is None:
        return None
    return lambda: injected_value(volatility, type_, entity)


def _python_type(type_: sa.types.TypeEngine[Any]) -> type | None:
    if isinstance(type_, sa.Uuid):
        return uuid.UUID
    if isinstance(type_, sa.DateTime):
        return _dt.datetime
    if isinstance(type_, sa.Date):
        return _dt.date
    if isinstance(type_, sa.Time):
        return _dt.time
    try:
        python_type = type_.python_type
    except NotImplementedError:
        return None
    return python_type if python_type in (int, float, Decimal, str, bytes) else None
