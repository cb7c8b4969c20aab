"""The plugin's fixtures for asyncio tests (pytest-asyncio): ``seedkit_async_session`` and friends.

Registered by :mod:`seedkit.pytest.plugin` at configure time. They give an async test what
``seedkit_handle`` gives a sync one, on the same prepared stores and strategies (see
:mod:`seedkit.isolation.asynchronous`): an ``AsyncSession`` on the test's isolated database,
an async Mongo database, factories bound to both (``await Factory.create_async(...)``), and
the seeded state back after the test.

The async fixtures are pytest-asyncio fixtures (they work in its strict and auto modes) of
function scope: they run on the test's event loop. Without pytest-asyncio installed, they
fail the test with one line saying what to install.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import TYPE_CHECKING, Any

import pytest

from seedkit.pytest.plugin import _user_errors

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

    from seedkit.core.determinism import Deterministic
    from seedkit.isolation.asynchronous import AsyncHandle
    from seedkit.pytest.run import PreparedDatabase, SeedkitRun

try:
    import pytest_asyncio
except ImportError:  # pragma: no cover - exercised only without the async extra
    pytest_asyncio = None  # type: ignore[assignment]

MISSING = "seedkit: the async fixtures need pytest-asyncio: pip install 'seedkit[async]'"


def _async_fixture(function: Callable[..., Any]) -> Any:
    """A pytest-asyncio fixture, or, without pytest-asyncio, a fixture failing with :data:`MISSING`."""
    if pytest_asyncio is not None:
        return pytest_asyncio.fixture(function)

    def missing() -> None:
        pytest.fail(MISSING, pytrace=False)

    missing.__name__ = function.__name__
    missing.__doc__ = function.__doc__
    return pytest.fixture(missing)


@pytest.fixture
def seedkit_async_driver() -> str:
    """The async PostgreSQL driver of the async fixtures: ``psycopg`` (override it to return ``asyncpg``)."""
    return "psycopg"


@_async_fixture
async def seedkit_async_handle(
    request: pytest.FixtureRequest,
    seedkit_run: SeedkitRun,
    seedkit_database: PreparedDatabase,
    seedkit_deterministic: Deterministic,
    seedkit_async_driver: str,
) -> AsyncIterator[AsyncHandle]:
    """The async test's isolation handle: ``.session`` (``AsyncSession``), ``.session_factory``,
    ``.bind``, ``.engine``, ``.url``, ``.mongo`` (async Mongo database).

    Factories are bound to its session and Mongo database for the test (``seedkit.bind``);
    create with ``await Factory.create_async(...)``. Afterwards the strategy brings the stores
    back to the seeded state (under ``rollback``, the async connection's outer transaction is
    rolled back). Use either these fixtures or the sync ones in a test, not both. With
    ``--seedkit-keep-failed`` a failing async test's database is kept as a sync one's is.
    """
    from seedkit.factories.binding import bind
    from seedkit.pytest.plugin import _ACTIVE, _KEEP

    with _user_errors():
        handle = await seedkit_run.begin_async(seedkit_database, driver=seedkit_async_driver)
    request.node.stash[_ACTIVE] = (seedkit_run, seedkit_database, handle)  # --seedkit-keep-failed
    try:
        # Without an async Mongo database (mongomock-motor missing), Mongo factories still work
        # on the sync one: create_async inserts into it after the call.
        mongo = handle.mongo if handle.mongo is not None else seedkit_database.mongo
        with bind(session=handle.session, mongo=mongo):
            yield handle
    finally:
        del request.node.stash[_ACTIVE]
        kept = request.node.stash.get(_KEEP, None)
        with _user_errors():
            if kept is not None:
                await seedkit_run.keep_async(seedkit_database, handle, kept)
            else:
                await seedkit_run.end_async(seedkit_database, handle)


@pytest.fixture
def seedkit_async_session(seedkit_async_handle: AsyncHandle) -> AsyncSession:
    """An ``AsyncSession`` on the test's isolated database; factories' ``create_async`` writes through it."""
    return seedkit_async_handle.session


@pytest.fixture
def seedkit_async_mongo(seedkit_async_handle: AsyncHandle) -> Any:
    """The test's async Mongo database: pymongo's ``AsyncDatabase`` on the configured server, else
    mongomock-motor's over the worker's mongomock data (seeded; reset after the test)."""
    with _user_errors():
        return seedkit_async_handle.require_mongo()
    raise AssertionError("unreachable")  # pragma: no cover - pytest.fail raises
