"""Fixture factories: build your own seedkit fixtures for a given profile, strategy and scope.

As pytest-postgresql's ``factories`` do, each function here returns a pytest fixture; assign it
to a name in a ``conftest.py`` (or a test module) and request it by that name::

    from seedkit.pytest import factories

    catalog = factories.handle(profile="catalog", strategy="rollback")
    shared_e2e = factories.handle(profile="e2e", strategy="truncate", scope="module")

    def test_browse(catalog):
        assert catalog.session.execute(...)

The fixture gives an :class:`~seedkit.isolation.Handle` (``.session``, ``.url``, ``.mongo``,
``.bind``) on the profile's seeded stores, prepared once per pytest process like the plugin's own
fixtures, with seedkit's factories bound to it and a deterministic context (the profile's seed
and clock, partition 1) active while it lives. When its scope ends, the strategy brings the stores
back to the seeded state. With ``scope="function"`` (the default) every test starts from the
seeded data; a wider scope shares one handle, and what its tests write, among the tests of that
scope.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, Literal

import pytest

if TYPE_CHECKING:
    from seedkit.isolation import Handle
    from seedkit.pytest.run import PreparedDatabase, SeedkitRun

Scope = Literal["function", "class", "module", "package", "session"]


@contextmanager
def open_handle(
    request: pytest.FixtureRequest, run: SeedkitRun, database: PreparedDatabase
) -> Iterator[Handle]:
    """Begin a handle on ``database``, bind seedkit's factories to it, and end it (or keep it) after.

    The handle is recorded on ``request.node`` so that ``--seedkit-keep-failed`` can keep the
    database of a failed test (function scope). seedkit errors fail the test with one line.
    """
    from seedkit.factories.binding import bind
    from seedkit.pytest.plugin import _ACTIVE, _KEEP, _user_errors

    with _user_errors():
        handle = run.begin(database)
    request.node.stash[_ACTIVE] = (run, database, handle)
    try:
        with bind(session=handle.session, mongo=handle.mongo):
            yield handle
    finally:
        del request.node.stash[_ACTIVE]
        kept = request.node.stash.get(_KEEP, None)
        with _user_errors():
            if kept is not None:
                run.keep(database, handle, kept)
            else:
                run.end(database, handle)


def handle(
    profile: str | None = None, strategy: str | None = None, *, scope: Scope = "function"
) -> Callable[..., Any]:
    """A fixture giving a handle on ``profile``'s seeded stores isolated by ``strategy``.

    Args:
        profile: a profile of the project's configuration (default: the one the test would get:
            marker, ``--seedkit-profile``, ini, or the only profile).
        strategy: ``truncate``, ``rollback``, ``snapshot``, ``changed`` or ``none`` (default: the
            profile's ``isolation``).
        scope: the fixture's pytest scope; the stores are reset when it ends.

    Returns:
        The fixture function; assign it to a module-level name, which becomes the fixture's name.
    """

    @pytest.fixture(scope=scope)
    def seeded_handle(request: pytest.FixtureRequest) -> Iterator[Handle]:
        from seedkit.core.determinism import deterministic
        from seedkit.pytest.plugin import TEST_PARTITION, _choice, _user_errors

        run: SeedkitRun = request.getfixturevalue("seedkit_run")
        settings = run.settings
        with _user_errors():
            if profile is None:  # the one the test would get, and its strategy unless one is given
                chosen, default_strategy = _choice(request.node, settings)
            else:
                chosen, default_strategy = settings.profile(profile), None
            database = run.database(chosen, strategy or default_strategy)
        with (
            deterministic(
                chosen.seed, start=chosen.clock_start, step=chosen.clock_step, partition=TEST_PARTITION
            ),
            open_handle(request, run, database) as opened,
        ):
            yield opened

    return seeded_handle


__all__ = ["handle", "open_handle"]
