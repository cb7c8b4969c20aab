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
import functools
import hashlib
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


_BYTES_SQL = re.compile(r"\bgen_random_bytes\s*\(\s*(\d+)\s*\)", re.IGNORECASE)
_SIZED_CALLABLES: tuple[Callable[..., Any], ...] = (
    os.urandom,
    secrets.token_bytes,
    secrets.token_hex,
    secrets.token_urlsafe,
)
_DEFAULT_ENTROPY = 32  # the secrets module's token size when none is given


def _given(function: Callable[..., Any]) -> Callable[..., Any]:
    """The callable the model gave, behind SQLAlchemy's wrapper of a default callable.

    SQLAlchemy wraps a callable that takes no context (``_maybe_wrap_callable``): a function
    keeps it as ``__wrapped__``, a ``functools.partial`` (which has no name) only in the
    wrapper's closure.
    """
    inner = getattr(function, "__wrapped__", None)
    if inner is None and "_maybe_wrap_callable" in getattr(function, "__qualname__", ""):
        cells = [cell.cell_contents for cell in getattr(function, "__closure__", None) or ()]
        inner = next((cell for cell in cells if callable(cell)), None)
    return inner if inner is not None else function


def _unwrap(function: Callable[..., Any]) -> Callable[..., Any]:
    """The function behind SQLAlchemy's wrapper and ``functools.partial``."""
    function = _given(function)
    return function.func if isinstance(function, functools.partial) else function


def sql_size(sql: str | None) -> int | None:
    """The number of random bytes a SQL default asks for (``gen_random_bytes(24)``: 24), or None."""
    found = _BYTES_SQL.search(sql or "")
    return int(found.group(1)) if found else None


def callable_size(function: Callable[..., Any]) -> int | None:
    """The number of random bytes a Python default asks for: ``functools.partial(os.urandom, 8)``
    8, ``secrets.token_bytes`` 32 (its default); None when it does not say."""
    function = _given(function)
    inner = _unwrap(function)
    if not any(inner == known for known in _SIZED_CALLABLES):
        return None
    if isinstance(function, functools.partial):
        size = (
            function.args[0]
            if function.args
            else function.keywords.get("nbytes", function.keywords.get("size"))
        )
        if isinstance(size, int):
            return size
    return None if inner == os.urandom else _DEFAULT_ENTROPY


def column_size(column: sa.Column[Any]) -> int | None:
    """The number of random bytes a mapped column's random default asks for (see :func:`sql_size`,
    :func:`callable_size`), or None."""
    default = column.default
    if default is not None:
        if getattr(default, "is_callable", False):
            return callable_size(default.arg)  # type: ignore[attr-defined]
        if getattr(default, "is_clause_element", False):
            return sql_size(str(default.arg))  # type: ignore[attr-defined]
        return None
    server_default = column.server_default
    if server_default is not None and isinstance(server_default, sa.DefaultClause):
        return sql_size(str(server_default.arg))
    return None


def callable_volatility(function: Callable[..., Any]) -> Volatility | None:
    """``"clock"``/``"random"`` for the standard library's clock and random callables (``uuid.uuid4``,
    ``functools.partial(os.urandom, 16)``...)."""
    function = _unwrap(function)
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


def injected_value(
    volatility: Volatility, type_: sa.types.TypeEngine[Any], entity: str, size: int | None = None
) -> Any:
    """A value of ``type_`` from the active context in place of a ``volatility`` default.

    ``"clock"``: the clock's next instant (a ``date`` or ``time`` for those types, naive UTC
    for ``timestamp without time zone``, Unix seconds for numbers, ISO text for strings).
    ``"random"``: the ID generator's next UUID for ``entity`` (``table.column``) for UUID and text
    columns (its hex for text), its 16 bytes for ``bytea`` (``size`` bytes when the default asks
    for a size, e.g. ``gen_random_bytes(24)``: SHAKE-256 of the UUID, and ``2 * size`` hex
    digits for text), the context's random for numbers. Raises ``TypeError`` for a type it
    cannot fill.
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
        if python_type in (str, bytes):
            raw = context.ids.uuid(entity).bytes
            if size is not None and size != len(raw):
                raw = hashlib.shake_256(raw).digest(size)
            return raw.hex() if python_type is str else raw
        if python_type is int:
            return context.random.randrange(1, 2**31)
        if python_type in (float, Decimal):
            return python_type(context.random.random())
    raise TypeError(f"cannot fill a {volatility} default of type {type_} from the deterministic context")


def injector(
    volatility: Volatility | None, type_: sa.types.TypeEngine[Any], entity: str, size: int | None = None
) -> Callable[[], Any] | None:
    """A zero-argument callable giving :func:`injected_value`, or None for a deterministic default."""
    if volatility is None:
        return None
    return lambda: injected_value(volatility, type_, entity, size)


def column_injector(column: sa.Column[Any], entity: str) -> Callable[[], Any] | None:
    """:func:`injector` for a mapped column's default (its volatility, type and size), or None."""
    return injector(column_volatility(column), column.type, entity, column_size(column))


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
