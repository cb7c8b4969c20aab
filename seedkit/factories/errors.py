"""The errors seedkit's factories raise, typed so that factory_boy users' ``except`` clauses still work.

Each is a :class:`seedkit.errors.SeedkitError` (one readable line, the CLI's exit code) and a
``factory.errors.FactoryError``; where factory_boy's ``SQLAlchemyModelFactory`` (or SQLAlchemy
under it) raises a builtin or SQLAlchemy type, seedkit's error derives from that type too:

=========================  ===============================================================
seedkit error              also an instance of (what factory_boy raises in that case)
=========================  ===============================================================
:class:`FactoryError`      ``factory.errors.FactoryError``
:class:`NotBoundError`     ``RuntimeError`` ("No session provided.")
:class:`UnknownAttributeError`  ``TypeError`` (SQLAlchemy's "invalid keyword argument")
:class:`FactoryIntegrityError`  ``sqlalchemy.exc.IntegrityError`` (what the database refuses)
=========================  ===============================================================

These classes live here, not in :mod:`seedkit.errors`, because deriving from factory_boy's
class imports factory_boy (and Faker), which ``import seedkit`` must not do;
``seedkit.errors.FactoryError`` is this module's class, imported on first use.
"""

from __future__ import annotations

from typing import Any

import factory.errors
from sqlalchemy.exc import IntegrityError

from seedkit.errors import SeedkitError

__all__ = ["FactoryError", "FactoryIntegrityError", "NotBoundError", "UnknownAttributeError"]


class FactoryError(SeedkitError, factory.errors.FactoryError):
    """A factory was called with bad input (unknown attribute, unencodable value...).

    ``except factory.FactoryError`` catches it, as it catches factory_boy's own errors.
    """


class NotBoundError(FactoryError, RuntimeError):
    """``create()`` has no SQLAlchemy session (or Mongo database) to write to.

    A ``RuntimeError``, like factory_boy's "No session provided."; the message says how to bind one.
    """


class UnknownAttributeError(FactoryError, TypeError):
    """A name the model's constructor would refuse; a ``TypeError``, as the constructor's own error."""


class FactoryIntegrityError(FactoryError, IntegrityError):
    """A row the database refuses, or would refuse: the message names factory, model and values.

    An ``sqlalchemy.exc.IntegrityError``, the type factory_boy lets through in the same case.
    ``orig``, ``statement`` and ``params`` are the database's error and the refused statement
    when there was one (``None`` when seedkit refused before writing).
    """

    def __init__(
        self,
        message: str,
        *,
        statement: str | None = None,
        params: Any = None,
        orig: BaseException | None = None,
    ) -> None:
        IntegrityError.__init__(self, statement, params, orig)  # type: ignore[arg-type]
        self.message = message
        self.args = (message,)

    def __str__(self) -> str:
        return self.message

    def __reduce__(self) -> tuple[Any, ...]:
        return _rebuild, (self.message, self.statement, self.params)


def _rebuild(message: str, statement: str | None, params: Any) -> FactoryIntegrityError:
    """Unpickles a :class:`FactoryIntegrityError` (the driver's error is not kept)."""
    return FactoryIntegrityError(message, statement=statement, params=params)
