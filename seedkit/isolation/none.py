"""The ``none`` strategy: no reset at all, for read-only suites over large seeded data.

Every test sees what earlier tests committed. Use it for load and performance profiles where
re-creating a million rows per test is out of the question and tests only read (or write
data nobody else reads). A test that needs a clean slate marks itself to use another strategy.
"""

from __future__ import annotations

from typing import Any, ClassVar

import sqlalchemy as sa
from pymongo.database import Database
from sqlalchemy.engine import Engine

from seedkit.errors import IsolationError
from seedkit.isolation.base import Handle, committing_handle


class NoIsolation:
    """Tests share the seeded stores; nothing is undone between them."""

    name: ClassVar[str] = "none"

    def __init__(self, database_url: str, mongo: Database[Any] | None = None) -> None:
        self.database_url = database_url
        self.mongo = mongo
        self._engine: Engine | None = None

    def prepare(self) -> None:
        self._engine = sa.create_engine(self.database_url)

    def begin(self) -> Handle:
        if self._engine is None:
            raise IsolationError("NoIsolation.prepare() was not called")
        return committing_handle(self.database_url, self._engine, self.mongo)

    def end(self, handle: Handle) -> None:
        handle.close_sessions()

    def close(self) -> None:
        if self._engine is not None:
            self._engine.dispose()
            self._engine = None
