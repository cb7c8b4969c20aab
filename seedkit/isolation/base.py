"""What every isolation strategy offers a test runner: a per-test handle and a reset.

A strategy's life: construct it on the seeded stores, ``prepare()`` once, then for every test
``handle = begin()`` ... ``end(handle)``, and ``close()`` at the end of the run.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, ClassVar, Protocol, runtime_checkable

from pymongo.database import Database
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.orm import Session, sessionmaker

#: Re-applies the seed data to freshly emptied stores: ``reseed(engine, mongo_db_or_None)``.
Reseed = Callable[[Engine, "Database[Any] | None"], None]


@dataclass
class Handle:
    """What one test gets.

    Attributes:
        url: URL of the database this test uses (with password; show it with ``seedkit.stores.urls.redact``).
            A server under test in another process may connect to it only when
            ``visible_to_other_processes`` is true.
        engine: engine on ``url``. Under ``rollback`` it bypasses the test's transaction: use ``bind``.
        bind: what test code should execute on / bind sessions to (the engine, or under ``rollback``
            the connection that holds the outer transaction).
        session: an ORM session on ``bind``, closed by ``end()``.
        session_factory: makes more sessions on ``bind`` with the same isolation (for app code).
        mongo: the Mongo database (the seeded one), or None.
        visible_to_other_processes: whether other connections see this test's writes.
    """

    url: str
    engine: Engine
    bind: Engine | Connection
    session: Session
    session_factory: sessionmaker[Session]
    mongo: Database[Any] | None = None
    visible_to_other_processes: bool = True
    extra: dict[str, Any] = field(default_factory=dict)

    def close_sessions(self) -> None:
        """Close the handle's session (rolling back anything it left uncommitted)."""
        self.session.close()


def committing_handle(url: str, engine: Engine, mongo: Database[Any] | None) -> Handle:
    """A handle whose sessions commit for real, so other processes see the test's writes."""
    factory = sessionmaker(bind=engine)
    return Handle(
        url=url,
        engine=engine,
        bind=engine,
        session=factory(),
        session_factory=factory,
        mongo=mongo,
        visible_to_other_processes=True,
    )


def guard_stores(url: str, mongo: Database[Any] | None, *, action: str, allow_unsafe: bool) -> None:
    """The safety guard for both stores a strategy will reset (see :mod:`seedkit.stores.safety`)."""
    from seedkit.stores.mongo_state import check_mongo_destructive
    from seedkit.stores.safety import check_destructive

    check_destructive(url, action=action, allow_unsafe=allow_unsafe)
    if mongo is not None:
        check_mongo_destructive(mongo, action=action, allow_unsafe=allow_unsafe)


@runtime_checkable
class Strategy(Protocol):
    """One way of giving every test the seeded data and undoing what the test wrote."""

    name: ClassVar[str]

    def prepare(self) -> None:
        """Once, after the stores were seeded: check the target, capture what a reset needs."""

    def begin(self) -> Handle:
        """Start one test; returns what the test uses."""
        ...

    def end(self, handle: Handle) -> None:
        """Finish one test: bring the stores back to the seeded state.

        Retryable: after it raised, calling it again with the same handle redoes the reset
        (what was done already is skipped or harmlessly repeated). The pytest plugin retries a
        failed reset once, after ending the sessions that keep a transaction open on the database.
        """

    def close(self) -> None:
        """Release engines and connections (the seeded data stays)."""
