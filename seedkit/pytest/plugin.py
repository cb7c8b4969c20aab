"""seedkit's pytest plugin (registered through the ``pytest11`` entry point).

Fixtures give each test the seeded data of a profile, isolated by a strategy; see docs/pytest.md.
Nothing happens unless a test requests one of the ``seedkit_*`` fixtures: no server starts,
no database is created, and the heavy modules are imported only then. ``-p no:seedkit``
disables the plugin.
"""

from __future__ import annotations

from collections.abc import Generator, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from pymongo.database import Database
    from sqlalchemy.orm import Session

    from seedkit.core.clock import Clock
    from seedkit.core.determinism import Deterministic
    from seedkit.core.ids import IdGenerator
    from seedkit.isolation import Handle
    from seedkit.pytest.run import PreparedDatabase, SeedkitRun
    from seedkit.seeding.config import Profile, Settings

MARKER = "seedkit"
MARKER_KEYS = ("profile", "strategy")
TEST_PARTITION = 1
"""Tests draw IDs and sequences from partition 1, so they never collide with the seeded rows (partition 0)."""
KEPT_PROPERTY = "seedkit_kept_database"
EMBEDDED_OUTPUT = "seedkit_embedded"

_ACTIVE = pytest.StashKey[tuple[Any, Any, Any]]()
_KEEP = pytest.StashKey[str]()
_OPTIONS = {
    "seedkit_profile": "profile of the seeded data (default: the only profile of the configuration)",
    "seedkit_strategy": "isolation strategy: truncate, rollback, snapshot, changed or none (default: the profile's)",
    "seedkit_database_url": "PostgreSQL server the plugin creates its databases on (default: the "
    "profile's, SEEDKIT_DATABASE_URL, the configuration's, else an embedded server)",
    "seedkit_mongo_url": "MongoDB server (default: the profile's, SEEDKIT_MONGO_URL, the configuration's, "
    "else mongomock)",
    "seedkit_config": "seedkit configuration file (default: the seedkit.toml or pyproject.toml found "
    "from the rootdir)",
    "seedkit_lock_timeout": "how long a reset waits for a lock another session holds before it ends the "
    "sessions keeping a transaction open on the test's database and retries once (default: 30s)",
}


# -- options, marker and reporting -----------------------------------------------------------
def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("seedkit", "seedkit: seeded databases isolated per test")
    for name, help_text in _OPTIONS.items():
        group.addoption(
            f"--{name.replace('_', '-')}", dest=name, default=None, metavar="VALUE", help=help_text
        )
        parser.addini(name, help_text, default=None)
    keep_help = "keep the database of a failing test for inspection; the report says how to connect"
    group.addoption("--seedkit-keep-failed", dest="seedkit_keep_failed", action="store_true", help=keep_help)
    parser.addini("seedkit_keep_failed", keep_help, type="bool", default=False)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        f"{MARKER}(profile=None, strategy=None): the seedkit profile and isolation strategy of a test "
        "(on a function, class or module via pytestmark)",
    )
    config.pluginmanager.register(_Reporter(config), "seedkit-reporter")
    from seedkit.pytest import async_fixtures  # the fixtures of asyncio tests (pytest-asyncio)

    config.pluginmanager.register(async_fixtures, "seedkit-async")


def _option(config: pytest.Config, name: str) -> str | None:
    value = config.getoption(name, None) or config.getini(name)
    return str(value) if value else None


def _keep_failed(config: pytest.Config) -> bool:
    return bool(config.getoption("seedkit_keep_failed", False) or config.getini("seedkit_keep_failed"))


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """A failing test's database is marked to be kept, and its report says how to connect."""
    report = yield
    if report.when == "call" and report.failed and _keep_failed(item.config):
        active = item.stash.get(_ACTIVE, None)
        if active is not None:
            from seedkit.pytest.run import psql_url
            from seedkit.stores.postgres import with_database

            run, prepared, handle = active
            name = run.kept_name(handle)
            item.stash[_KEEP] = name
            url = psql_url(with_database(prepared.server_url, name), run.passfile)
            server = psql_url(prepared.server_url, run.passfile)
            report.sections.append(
                (
                    "seedkit: database kept",
                    f"seedkit kept this test's PostgreSQL database (--seedkit-keep-failed): {name}\n"
                    f"connect: psql {url}\n"
                    f"drop it: psql {server} -c 'DROP DATABASE \"{name}\"'\n"
                    "(Mongo is reset as usual: only the PostgreSQL database is kept)\n",
                )
            )
            report.user_properties.append((KEPT_PROPERTY, url))
    return report


class _Reporter:
    """Collects kept databases and embedded servers; lists the former and stops the latter at the end."""

    def __init__(self, config: pytest.Config) -> None:
        self.config = config
        self.kept: list[tuple[str, str]] = []
        self.embedded: set[str] = set()

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        for key, value in report.user_properties:
            if key == KEPT_PROPERTY:
                self.kept.append((report.nodeid, str(value)))

    @pytest.hookimpl(optionalhook=True)
    def pytest_testnodedown(self, node: Any, error: Any) -> None:
        """pytest-xdist: a worker that started the run's embedded server says so in its output."""
        root = getattr(node, "workeroutput", {}).get(EMBEDDED_OUTPUT)
        if root:
            self.embedded.add(str(root))

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        if not self.kept:
            return
        terminalreporter.section("seedkit: databases kept for inspection")
        for nodeid, url in self.kept:
            terminalreporter.line(f"{nodeid}: psql {url}")
        if self.embedded:
            from seedkit.pytest.server import stop_command

            terminalreporter.line("the embedded PostgreSQL keeps running for that; stop and delete it with:")
            for root in sorted(self.embedded):
                terminalreporter.line(f"  {stop_command(root)}")

    def pytest_unconfigure(self, config: pytest.Config) -> None:
        if self.kept or not self.embedded:
            return
        from seedkit.pytest.server import stop_embedded

        for root in sorted(self.embedded):
            stop_embedded(root)


@contextmanager
def _user_errors() -> Iterator[None]:
    """A seedkit error (bad profile, unreachable server...) fails the test with its one-line message."""
    from seedkit.errors import SeedkitError

    try:
        yield
    except SeedkitError as exc:
        raise pytest.fail.Exception(f"seedkit: {exc}", pytrace=False) from None


def _choice(item: pytest.Item, settings: Settings) -> tuple[Profile, str | None]:
    """The test's profile and strategy: the closest ``seedkit`` marker's, else the options' and ini's."""
    chosen: dict[str, Any] = {}
    for mark in item.iter_markers(MARKER):
        unknown = sorted(set(mark.kwargs) - set(MARKER_KEYS))
        if mark.args or unknown:
            pytest.fail(
                f"seedkit: the marker takes only the keyword arguments {', '.join(MARKER_KEYS)} "
                f"(got {', '.join(map(repr, mark.args)) or ', '.join(unknown)})",
                pytrace=False,
            )
        for key, value in mark.kwargs.items():
            chosen.setdefault(key, value)
    config = item.config
    profile = chosen.get("profile") or _option(config, "seedkit_profile")
    strategy = chosen.get("strategy") or _option(config, "seedkit_strategy")
    if profile is None:
        if len(settings.profiles) != 1:
            known = ", ".join(sorted(settings.profiles)) or "none"
            pytest.fail(
                "seedkit: choose a profile: --seedkit-profile NAME, seedkit_profile in the ini file, or "
                f"@pytest.mark.seedkit(profile=NAME); known profiles: {known}",
                pytrace=False,
            )
        profile = next(iter(settings.profiles))
    with _user_errors():
        return settings.profile(profile), strategy
    raise AssertionError("unreachable")  # pragma: no cover - pytest.fail raises


# -- fixtures --------------------------------------------------------------------------------
@pytest.fixture(scope="session")
def seedkit_settings(pytestconfig: pytest.Config) -> Settings:
    """The project's seedkit settings (``--seedkit-config``, else found from the rootdir)."""
    from seedkit.seeding.config import load_settings

    path = _option(pytestconfig, "seedkit_config")
    with _user_errors():
        return load_settings(pytestconfig.rootpath / path if path else None, cwd=pytestconfig.rootpath)
    raise AssertionError("unreachable")  # pragma: no cover


@pytest.fixture(scope="session")
def seedkit_run(
    pytestconfig: pytest.Config, seedkit_settings: Settings, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[SeedkitRun]:
    """This process's (xdist worker's) seeded databases: ``seedkit_run.database(profile, strategy)``.

    Session-scoped; databases are prepared on first use and dropped at the end of the session.
    """
    from seedkit.pytest.run import SeedkitRun
    from seedkit.stores.truncate import DEFAULT_LOCK_TIMEOUT

    workerinput: dict[str, Any] | None = getattr(pytestconfig, "workerinput", None)
    base = tmp_path_factory.getbasetemp()
    shared = (base.parent if workerinput is not None else base) / "seedkit"
    reporter = pytestconfig.pluginmanager.get_plugin("seedkit-reporter")
    assert isinstance(reporter, _Reporter)

    def on_embedded(root: Path) -> None:
        if workerinput is not None:
            pytestconfig.workeroutput[EMBEDDED_OUTPUT] = str(root)  # type: ignore[attr-defined]
        else:
            reporter.embedded.add(str(root))

    with _user_errors():
        run = SeedkitRun(
            seedkit_settings,
            worker=str(workerinput["workerid"]) if workerinput else "main",
            run=str(workerinput["testrunuid"])[:8] if workerinput else None,
            database_url=_option(pytestconfig, "seedkit_database_url"),
            mongo_url=_option(pytestconfig, "seedkit_mongo_url"),
            shared_dir=shared,
            on_embedded=on_embedded,
            lock_timeout=_option(pytestconfig, "seedkit_lock_timeout") or DEFAULT_LOCK_TIMEOUT,
        )
    yield run
    with _user_errors():
        run.close()


@pytest.fixture
def seedkit_profile(request: pytest.FixtureRequest, seedkit_settings: Settings) -> Profile:
    """The profile chosen for this test (marker, ``--seedkit-profile``, ``seedkit_profile`` ini)."""
    return _choice(request.node, seedkit_settings)[0]


@pytest.fixture
def seedkit_database(
    request: pytest.FixtureRequest, seedkit_run: SeedkitRun, seedkit_settings: Settings
) -> PreparedDatabase:
    """The worker's seeded stores for this test's profile and strategy (prepared once per session)."""
    profile, strategy = _choice(request.node, seedkit_settings)
    with _user_errors():
        return seedkit_run.database(profile, strategy)
    raise AssertionError("unreachable")  # pragma: no cover


@pytest.fixture
def seedkit_deterministic(seedkit_profile: Profile) -> Iterator[Deterministic]:
    """A fresh deterministic context for the test: the profile's seed and clock, partition 1."""
    from seedkit.core.determinism import deterministic

    with deterministic(
        seedkit_profile.seed,
        start=seedkit_profile.clock_start,
        step=seedkit_profile.clock_step,
        partition=TEST_PARTITION,
    ) as context:
        yield context


@pytest.fixture
def seedkit_clock(seedkit_deterministic: Deterministic) -> Clock:
    """The test's injected clock (starts at the profile's ``clock_start`` in every test)."""
    return seedkit_deterministic.clock


@pytest.fixture
def seedkit_ids(seedkit_deterministic: Deterministic) -> IdGenerator:
    """The test's ID generator (reset for every test)."""
    return seedkit_deterministic.ids


@pytest.fixture
def seedkit_handle(
    request: pytest.FixtureRequest,
    seedkit_run: SeedkitRun,
    seedkit_database: PreparedDatabase,
    seedkit_deterministic: Deterministic,
) -> Iterator[Handle]:
    """The test's isolation handle: ``.session``, ``.session_factory``, ``.bind``, ``.url``, ``.mongo``.

    Factories are bound to its session and Mongo database for the test (``seedkit.bind``);
    afterwards the strategy brings the stores back to the seeded state.
    """
    from seedkit.pytest.factories import open_handle

    with open_handle(request, seedkit_run, seedkit_database) as handle:
        yield handle


@pytest.fixture(autouse=True)
def _seedkit_first(request: pytest.FixtureRequest) -> None:
    """Start seedkit before the test's other function-scoped fixtures, in whatever order it asks.

    A test that uses ``seedkit_handle`` (directly, or through ``seedkit_session``,
    ``seedkit_mongo``, ``seedkit_db_url`` or a fixture of its own) gets its stores bound and its
    deterministic context active before any other function-scoped fixture runs, so fixtures
    that create rows (pytest-factoryboy's model fixtures, the project's own) can come first in
    the signature. A test that uses only ``seedkit_deterministic`` gets the context first. Other
    tests are not touched (a name lookup in the test's fixture closure).
    """
    for name in ("seedkit_handle", "seedkit_deterministic"):
        if name in request.fixturenames:
            request.getfixturevalue(name)
            return


@pytest.fixture
def seedkit_session(seedkit_handle: Handle) -> Session:
    """A SQLAlchemy session on the test's isolated database; factories write through it."""
    return seedkit_handle.session


@pytest.fixture
def seedkit_db_url(seedkit_handle: Handle) -> str:
    """The URL of the test's database (with password), e.g. for a server under test in another process."""
    return seedkit_handle.url


@pytest.fixture
def seedkit_mongo(seedkit_handle: Handle) -> Database[Any]:
    """The test's Mongo database (seeded; reset after the test); Mongo factories write to it."""
    assert seedkit_handle.mongo is not None
    return seedkit_handle.mongo
