"""Checking and converting pack values to a reflected PostgreSQL column's type, before inserting.

Values come from YAML/JSON (already typed), CSV (text: ``textual=True``), resolved references
(``UUID``, ``int``, ``ObjectId``) or factories. A value that does not fit raises ``ValueError``
with a short reason; the caller adds file, record and field.
"""

from __future__ import annotations

import enum
import json
import math
import uuid
from collections.abc import Sequence
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

import sqlalchemy as sa
from bson import ObjectId

from seedkit.core.clock import Clock, parse_duration, parse_instant
from seedkit.errors import ConfigError
from seedkit.packs.values import RelativeTime

_TRUE = {"true", "t", "yes", "y", "on", "1"}
_FALSE = {"false", "f", "no", "n", "off", "0"}
_INT_BITS = ((sa.SmallInteger, 16), (sa.BigInteger, 64), (sa.Integer, 32))


def type_name(type_: sa.types.TypeEngine[Any]) -> str:
    try:
        return str(type_.compile())
    except Exception:  # pragma: no cover - exotic reflected types
        return type(type_).__name__


def is_time_type(type_: sa.types.TypeEngine[Any]) -> bool:
    return isinstance(type_, sa.DateTime | sa.Date)


def _shown(value: Any) -> str:
    kind = {bool: "boolean", int: "number", float: "number", Decimal: "number", str: "text"}.get(type(value))
    return f"{kind} {value!r}" if kind else repr(value)


def coerce(value: Any, type_: sa.types.TypeEngine[Any], *, clock: Clock, textual: bool = False) -> Any:
    """``value`` converted to what ``type_`` stores; ``ValueError`` when it does not fit."""
    if value is None:
        return None
    if isinstance(value, RelativeTime) and not is_time_type(type_):
        raise ValueError(f"{value} is a time, but the column is {type_name(type_)}")
    if isinstance(type_, sa.Uuid):
        return _uuid(value)
    if isinstance(type_, sa.Boolean):
        return _boolean(value)
    if isinstance(type_, sa.Integer):
        return _integer(value, type_)
    if isinstance(type_, sa.Float):
        return float(_decimal(value, type_))
    if isinstance(type_, sa.Numeric):
        return _decimal(value, type_)
    if isinstance(type_, sa.DateTime):
        return _datetime(value, clock, aware=bool(type_.timezone))
    if isinstance(type_, sa.Date):
        return _date(value, clock)
    if isinstance(type_, sa.Time):
        return _time(value)
    if isinstance(type_, sa.String):
        return _string(value, type_)
    if isinstance(type_, sa.JSON):
        return jsonable(value)
    if isinstance(type_, sa.ARRAY):
        return _array(value, type_, clock, textual)
    if _python_type(type_) is timedelta:
        return _interval(value)
    return value


def _python_type(type_: sa.types.TypeEngine[Any]) -> Any:
    try:
        return type_.python_type
    except NotImplementedError:
        return None


def _uuid(value: Any) -> uuid.UUID:
    if isinstance(value, uuid.UUID):
        return value
    if isinstance(value, str):
        try:
            return uuid.UUID(value)
        except ValueError:
            pass
    raise ValueError(f"expected a UUID, got {_shown(value)}")


def _boolean(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    if isinstance(value, str) and value.strip().lower() in _TRUE | _FALSE:
        return value.strip().lower() in _TRUE
    raise ValueError(f"expected true or false, got {_shown(value)}")


def _integral(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().lstrip("+-").isdigit():
        return int(value)
    if isinstance(value, Decimal | float) and math.isfinite(value) and value == int(value):
        return int(value)
    return None


def _integer(value: Any, type_: sa.Integer) -> int:
    number = _integral(value)
    if number is None:
        raise ValueError(f"expected an integer, got {_shown(value)}")
    bits = next(b for kind, b in _INT_BITS if isinstance(type_, kind))
    if not -(2 ** (bits - 1)) <= number < 2 ** (bits - 1):
        raise ValueError(f"{number} is out of range for {type_name(type_)}")
    return number


def _decimal(value: Any, type_: sa.Numeric[Any] | sa.Float[Any]) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, int | float | Decimal | str):
        raise ValueError(f"expected a number, got {_shown(value)}")
    try:
        number = Decimal(str(value).strip())
    except InvalidOperation:
        raise ValueError(f"expected a number, got {_shown(value)}") from None
    if not number.is_finite() and not isinstance(type_, sa.Float):
        raise ValueError(f"expected a finite number, got {_shown(value)}")
    precision, scale = getattr(type_, "precision", None), getattr(type_, "scale", None)
    if not isinstance(type_, sa.Float) and precision and number.is_finite():
        limit = Decimal(10) ** (precision - (scale or 0))
        if abs(number.quantize(Decimal(1).scaleb(-(scale or 0)))) >= limit:
            raise ValueError(f"{number} does not fit {type_name(type_)}")
    return number


def _datetime(value: Any, clock: Clock, *, aware: bool) -> datetime:
    if isinstance(value, RelativeTime):
        moment = clock.relative(value.offset)
    elif isinstance(value, datetime):
        moment = value if value.tzinfo else value.replace(tzinfo=UTC)
    elif isinstance(value, date):
        moment = datetime(value.year, value.month, value.day, tzinfo=UTC)
    elif isinstance(value, str):
        moment = _relative_or_instant(value, clock)
    else:
        raise ValueError(
            f"expected a date-time (ISO-8601, or an offset like -3d or @now-3d), got {_shown(value)}"
        )
    moment = moment.astimezone(UTC)
    return moment if aware else moment.replace(tzinfo=None)


def _relative_or_instant(text: str, clock: Clock) -> datetime:
    try:
        return clock.relative(parse_duration(text))
    except ConfigError:
        pass
    try:
        return parse_instant(text)
    except ConfigError:
        raise ValueError(
            f"expected a date-time (ISO-8601, or an offset like -3d or @now-3d), got {_shown(text)}"
        ) from None


def _date(value: Any, clock: Clock) -> date:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    if isinstance(value, RelativeTime | str):
        return _datetime(value, clock, aware=True).date()
    raise ValueError(f"expected a date, got {_shown(value)}")


def _time(value: Any) -> time:
    if isinstance(value, time):
        return value
    if isinstance(value, str):
        try:
            return time.fromisoformat(value.strip())
        except ValueError:
            pass
    raise ValueError(f"expected a time of day as quoted text 'HH:MM[:SS]', got {_shown(value)}")


def _interval(value: Any) -> timedelta:
    try:
        return parse_duration(value)
    except (ConfigError, TypeError, AttributeError):
        raise ValueError(f"expected a duration like 3d or 2h30m, got {_shown(value)}") from None


def _string(value: Any, type_: sa.String) -> str:
    enums = getattr(type_, "enums", None)
    if isinstance(value, enum.Enum):  # a factory's Python Enum member, as volumes accept it
        value = _enum_label(value, enums)
    if isinstance(value, str):
        text = value
    elif isinstance(value, int | Decimal | uuid.UUID | ObjectId) and not isinstance(value, bool):
        text = str(value)
    else:
        raise ValueError(f"expected text, got {_shown(value)} (quote it to store it as text)")
    if enums and text not in enums:
        raise ValueError(f"{text!r} is not one of {', '.join(map(repr, enums))}")
    if type_.length is not None and len(text) > type_.length:
        raise ValueError(f"{text!r} is longer than {type_.length} characters ({type_name(type_)})")
    return text


def _enum_label(member: enum.Enum, labels: Sequence[str] | None) -> str:
    """The label a Python Enum member stands for: its name (SQLAlchemy's ``Enum`` stores names),
    or its value when that is one of the column's labels."""
    if labels and member.name not in labels and isinstance(member.value, str) and member.value in labels:
        return member.value
    return member.name


def jsonable(value: Any) -> Any:
    """``value`` with IDs and times as JSON text, for JSON columns."""
    if isinstance(value, dict):
        return {key: jsonable(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(item) for item in value]
    if isinstance(value, uuid.UUID | ObjectId | Decimal):
        return str(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    return value


def is_structured(type_: sa.types.TypeEngine[Any]) -> bool:
    """JSON and array columns: CSV cells for them hold JSON text."""
    return isinstance(type_, sa.JSON | sa.ARRAY)


def parse_json_text(text: str) -> Any:
    """A CSV cell of a JSON or array column; ``ValueError`` when it is not JSON."""
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValueError(f'expected JSON text (e.g. {{"a": 1}} or [1, 2]): {exc.msg}') from None


def _array(value: Any, type_: sa.ARRAY[Any], clock: Clock, textual: bool) -> list[Any]:
    if not isinstance(value, list):
        raise ValueError(f"expected a list, got {_shown(value)}")
    return [coerce(item, type_.item_type, clock=clock, textual=textual) for item in value]
