"""Errors seedkit reports to users: one readable message each, never a traceback.

Every error a user can cause (bad pack, unknown profile, unreachable database, unsafe
target, corrupt snapshot) is a :class:`SeedkitError`. The CLI prints ``str(error)`` and
exits with :attr:`SeedkitError.exit_code`; library callers can catch the subclasses.

``FactoryError`` is defined in :mod:`seedkit.factories.errors` (it derives from factory_boy's
``FactoryError``, and importing factory_boy here would make ``import seedkit`` slow); importing
it from this module loads that one on first use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from seedkit.factories.errors import FactoryError as FactoryError


class SeedkitError(Exception):
    """Base class of every user-facing seedkit error."""

    exit_code: int = 2


class ConfigError(SeedkitError):
    """The configuration or a profile is invalid or unknown."""


class DatabaseUnavailable(SeedkitError):
    """A database URL could not be reached (the message names the URL without password)."""

    exit_code = 3


class LocatedError(SeedkitError):
    """An error about one place in a data file: file, record and field are named."""

    def __init__(
        self,
        message: str,
        *,
        file: str | None = None,
        record: str | None = None,
        field: str | None = None,
        line: int | None = None,
    ) -> None:
        self.file = file
        self.record = record
        self.field = field
        self.line = line
        self.reason = message
        super().__init__(self._render())

    def _render(self) -> str:
        where: list[str] = []
        if self.file:
            where.append(f"{self.file}:{self.line}" if self.line else self.file)
        if self.record is not None:
            where.append(f"record {self.record!r}")
        if self.field is not None:
            where.append(f"field {self.field!r}")
        return f"{', '.join(where)}: {self.reason}" if where else self.reason


class PackError(LocatedError):
    """A fixture pack is malformed or cannot be loaded."""


class SchemaError(SeedkitError):
    """The database schema is not what seedkit was asked to work with (e.g. not at head)."""


class UnsafeTargetError(SeedkitError):
    """A destructive operation was refused because the target does not look like a test database."""

    exit_code = 4


class IsolationError(SeedkitError):
    """A test's stores could not be set up or reset: a database could not be created, cloned,
    dropped or emptied (e.g. a table lock held by a connection left idle in transaction)."""


class SnapshotError(SeedkitError):
    """A snapshot is missing, corrupt or does not match the database."""


class SeedkitWarning(UserWarning):
    """Something seedkit recovered from but a user should know (e.g. a test's reset that needed a retry)."""


def __getattr__(name: str) -> Any:
    """``FactoryError``, from :mod:`seedkit.factories.errors` on first use."""
    if name == "FactoryError":
        from seedkit.factories.errors import FactoryError as FactoryError

        return FactoryError
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
