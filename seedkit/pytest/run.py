"""One pytest process's (one xdist worker's) seeded databases and the tests' isolation.

:class:`SeedkitRun` prepares, on first use, one database per (profile, strategy) for the
worker: the profile's template (:func:`seedkit.seeding.templates.template_name`, built once per server
whatever the number of workers or runs) is cloned into ``seedkit_test_<profile>_<strategy>_<run>_<worker>``,
the worker's Mongo database is filled, and the strategy is prepared on them. Under ``snapshot``
the clone is only used to take the seeded fingerprint; the strategy clones the template per
test. At the end of the session the worker's databases are dropped; the templates stay, to be
reused by the next run while migrations, packs and factories are unchanged.
"""

from __future__ import annotations

import hashlib
import inspect
import re
import secrets
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

import sqlalchemy as sa
from pymongo.database import Database
from sqlalchemy.engine import URL, Engine, make_url
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.pool import NullPool

from seedkit.errors import ConfigError, IsolationError, SeedkitError, SeedkitWarning
from seedkit.isolation import (
    STRATEGIES,
    ChangedRowsStrategy,
    Handle,
    SnapshotStrategy,
    Strategy,
    TruncateStrategy,
)
from seedkit.isolation import create_strategy as _create_strategy
from seedkit.isolation.asynchronous import AsyncHandle, begin_async, close_async, end_async
from seedkit.pytest.seeding import build_template, seed_mongo_only, template_mongo_documents
from seedkit.pytest.server import start_shared_embedded
from seedkit.seeding.config import Profile, Settings
from seedkit.seeding.runner import seed_stores
from seedkit.seeding.targets import configured_database_url, configured_mongo_url
from seedkit.seeding.templates import TemplateUse, ensure_template, prune_replaced_templates, template_name
from seedkit.stores import mongo as mongo_connect
from seedkit.stores import postgres
from seedkit.stores.fingerprint import Fingerprint, fingerprint
from seedkit.stores.mongo_state import check_mongo_destructive
from seedkit.stores.postgres import database_name, normalize_url, with_database
from seedkit.stores.postgres_admin import MAX_IDENTIFIER, PostgresAdmin, clone, drop
from seedkit.stores.truncate import DEFAULT_LOCK_TIMEOUT, check_lock_timeout

_UNSAFE_NAME = re.compile(r"[^a-z0-9]+")


def _slug(text: str, size: int) -> str:
    return _UNSAFE_NAME.sub("_", text.lower()).strip("_")[:size] or "x"


def _short(text: str, size: int) -> str:
    """``text`` as a name part of at most ``size`` characters; shortened ones end with a hash of the whole."""
    slug = _slug(text, 100)
    if len(slug) <= size and slug == text:
        return slug
    digest = hashlib.blake2b(text.encode(), digest_size=2).hexdigest()
    return f"{slug[: size - 5]}_{digest}"


def worker_database_name(profile: str, strategy: str, run: str, worker: str) -> str:
    """``seedkit_test_<profile>_<strategy>_<run>_<worker>``: test-looking, unique per run and worker.

    At most 51 characters, leaving room for the strategy's clone and kept suffixes.
    """
    return f"seedkit_test_{_short(profile, 10)}_{_short(strategy, 8)}_{_slug(run, 8)}_{_short(worker, 8)}"


def psql_url(url: str, passfile: Path | None = None) -> str:
    """``url`` as libpq reads it (``postgresql://``), without the password: ``psql <that>`` connects.

    ``passfile``: a libpq password file to name in the URL (the embedded server's ``pgpass``), so
    that the URL carries what is needed without showing the secret.
    """
    parsed = make_url(normalize_url(url))
    bare = URL.create(
        "postgresql", parsed.username, None, parsed.host, parsed.port, parsed.database, parsed.query
    ).render_as_string(hide_password=False)
    if passfile is None:
        return bare
    return f"{bare}{'&' if '?' in bare else '?'}passfile={quote(str(passfile), safe='/')}"


@dataclass
class PreparedDatabase:
    """A worker's seeded stores for one (profile, strategy), prepared once per session.

    Attributes:
        profile: the profile the data comes from.
        strategy_name: the isolation strategy's name.
        strategy: the prepared :class:`~seedkit.isolation.Strategy` (``begin``/``end`` per test).
        server_url: the server's maintenance URL (where the plugin creates and drops databases).
        template: the profile's template database (seeded once per server).
        database: the worker's database (under ``snapshot``, the prefix of the per-test clones).
        url: the worker database's URL (``None`` under ``snapshot``: every test has its own clone).
        mongo: the worker's Mongo database (mongomock unless a Mongo URL is configured).
        real_mongo: whether ``mongo`` is on a server (``mongo_url``) rather than mongomock.
        mongo_url: the Mongo server's URL, or None for mongomock.
        fingerprint: the seeded data's fingerprint (both stores), taken before any test ran.
    """

    profile: Profile
    strategy_name: str
    strategy: Strategy
    server_url: str
    template: str
    database: str
    url: str | None
    mongo: Database[Any]
    fingerprint: Fingerprint
    real_mongo: bool = False
    mongo_url: str | None = None
    per_test_clone: bool = False
    kept: list[str] = field(default_factory=list)
    broken: str | None = None
    """Why a reset of these stores failed; no test starts on them afterwards."""


class SeedkitRun:
    """The seeded databases of one pytest process (or xdist worker).

    Args:
        settings: the project's seedkit settings.
        worker: the xdist worker id (``gw0``...) or ``main``.
        run: a token shared by every worker of the run (xdist's test run uid), in database names.
        database_url: the server to use (any database on it); None: the profile's, the
            configuration's, else the run's embedded server.
        mongo_url: the Mongo server; None: the profile's, the configuration's, else mongomock.
        shared_dir: a directory every worker of the run shares (for the embedded server's lock).
        on_embedded: called with the embedded server's root when this process needed it.
        lock_timeout: how long a reset (truncate, changed) waits for a lock another session
            holds before it fails and is retried once (PostgreSQL's ``lock_timeout``).
    """

    def __init__(
        self,
        settings: Settings,
        *,
        worker: str = "main",
        run: str | None = None,
        database_url: str | None = None,
        mongo_url: str | None = None,
        shared_dir: Path | None = None,
        on_embedded: Callable[[Path], None] | None = None,
        lock_timeout: str = DEFAULT_LOCK_TIMEOUT,
    ) -> None:
        self.settings = settings
        self.lock_timeout = check_lock_timeout(lock_timeout)
        self.worker = worker
        self.run = run or secrets.token_hex(4)  # a name for this run's databases, not test data
        self.database_url = database_url
        self.mongo_url = mongo_url
        self.shared_dir = shared_dir
        self.on_embedded = on_embedded
        self.allow_unsafe = settings.allow_unsafe
        self._prepared: dict[tuple[str, str], PreparedDatabase] = {}
        self._failed: dict[tuple[str, str], BaseException] = {}
        self._embedded_url: str | None = None
        self.passfile: Path | None = None
        """The embedded server's libpq password file, once this process started or found it."""
        self._kept_count = 0
        self._uses: dict[str, TemplateUse] = {}

    # -- where -----------------------------------------------------------------------------
    def server_url(self, profile: Profile) -> str:
        """The maintenance URL of the server ``profile``'s databases go to (starts the embedded one)."""
        url = configured_database_url(self.settings, profile, self.database_url)
        if url is not None:
            return normalize_url(url)
        if self._embedded_url is None:
            if self.shared_dir is None:
                raise ConfigError("no database URL and no shared directory for an embedded server")
            server = start_shared_embedded(self.shared_dir)
            self.passfile = server.passfile
            if self.on_embedded is not None:
                self.on_embedded(server.root)
            self._embedded_url = server.url("postgres")
        return self._embedded_url

    def _mongo(self, profile: Profile, name: str) -> tuple[Database[Any], bool]:
        url = configured_mongo_url(self.settings, profile, self.mongo_url)
        db = mongo_connect.connect(url, name)
        if url is not None:
            check_mongo_destructive(db, action="prepare", allow_unsafe=self.allow_unsafe)
            db.client.drop_database(name)
        return db, url is not None

    # -- preparing -------------------------------------------------------------------------
    def database(self, profile: str | Profile, strategy: str | None = None) -> PreparedDatabase:
        """The worker's seeded stores for ``profile`` isolated by ``strategy`` (default: the profile's).

        Prepared on first call (template built if needed, cloned, Mongo filled, strategy
        prepared), then reused for the rest of the session.
        """
        chosen = self.settings.profile(profile) if isinstance(profile, str) else profile
        name = strategy or chosen.isolation
        if name not in STRATEGIES:
            raise ConfigError(f"unknown isolation strategy {name!r}; known: {', '.join(STRATEGIES)}")
        key = (chosen.name, name)
        if key in self._failed:  # do not retry an expensive failure for every test
            raise self._failed[key]
        if key not in self._prepared:
            try:
                self._prepared[key] = self._prepare(chosen, name)
            except BaseException as exc:
                self._failed[key] = exc
                raise
        return self._prepared[key]

    def _prepare(self, profile: Profile, strategy_name: str) -> PreparedDatabase:
        server = self.server_url(profile)
        postgres.create_engine(server, poolclass=NullPool).dispose()  # unreachable: one line
        template = template_name(self.settings, profile)
        name = worker_database_name(profile.name, strategy_name, self.run, self.worker)
        mongo, real_mongo = self._mongo(profile, name)
        built: list[bool] = []

        def build(url: str) -> None:
            build_template(self.settings, profile, url, mongo)
            built.append(True)

        self._template_use(server).use(template)  # before it exists: a prune now waits, or we rebuild
        ensure_template(server, template, build, allow_unsafe=self.allow_unsafe)
        self._prune_replaced(server, profile, template)
        url = clone(server, template, name)
        engine = sa.create_engine(url, poolclass=NullPool)
        try:
            if not built and self._template_has_mongo_data(server, template):
                seed_mongo_only(self.settings, profile, engine, mongo, allow_unsafe=self.allow_unsafe)
            with engine.connect() as conn:
                seeded = fingerprint(conn, mongo)
        finally:
            engine.dispose()
        strategy_class = STRATEGIES[strategy_name]
        per_test_clone = issubclass(strategy_class, SnapshotStrategy)
        if per_test_clone:
            drop(server, name, allow_unsafe=self.allow_unsafe)  # only needed for the fingerprint
            strategy = _create_strategy(
                strategy_name,
                with_database(server, template),
                mongo,
                server_url=server,
                clone_prefix=name,
                allow_unsafe=self.allow_unsafe,
            )
        else:
            strategy = _create_strategy(strategy_name, url, mongo, **self._options(strategy_class, profile))
        strategy.prepare()
        return PreparedDatabase(
            profile=profile,
            strategy_name=strategy_name,
            strategy=strategy,
            server_url=server,
            template=template,
            database=name,
            url=None if per_test_clone else url,
            mongo=mongo,
            fingerprint=seeded,
            real_mongo=real_mongo,
            mongo_url=configured_mongo_url(self.settings, profile, self.mongo_url),
            per_test_clone=per_test_clone,
        )

    def _template_use(self, server: str) -> TemplateUse:
        if server not in self._uses:
            self._uses[server] = TemplateUse(server)
        return self._uses[server]

    def _prune_replaced(self, server: str, profile: Profile, template: str) -> None:
        """Drop the templates ``template`` replaced (this project and profile, older key; unused).

        Housekeeping: a failure is a :class:`SeedkitWarning`, never a failed test.
        """
        try:
            prune_replaced_templates(server, self.settings, profile, template, allow_unsafe=self.allow_unsafe)
        except (SeedkitError, sa.exc.SQLAlchemyError) as exc:
            warnings.warn(
                SeedkitWarning(f"could not drop the templates {template!r} replaced: {_reason(exc)}"),
                stacklevel=2,
            )

    def _template_has_mongo_data(self, server: str, template: str) -> bool:
        admin = sa.create_engine(server, poolclass=NullPool)
        try:
            with admin.connect() as conn:
                documents = template_mongo_documents(conn, template)
        finally:
            admin.dispose()
        return documents is None or documents > 0

    def _options(self, strategy_class: type[Any], profile: Profile) -> dict[str, Any]:
        """The options the strategy's class accepts among ``reseed``, ``allow_unsafe`` and ``keep``."""

        def reseed(engine: Engine, mongo: Database[Any] | None) -> None:
            assert mongo is not None
            with engine.begin() as conn:
                seed_stores(self.settings, profile, conn, mongo)

        offered: dict[str, Any] = {
            "reseed": reseed,
            "allow_unsafe": self.allow_unsafe,
            "keep": self.settings.keep_tables,
            "lock_timeout": self.lock_timeout,
        }
        if strategy_class in (TruncateStrategy, ChangedRowsStrategy):  # the others take no schema
            offered["schema"] = self.settings.schemas
        accepted = inspect.signature(strategy_class).parameters
        return {key: value for key, value in offered.items() if key in accepted}

    # -- per test --------------------------------------------------------------------------
    def begin(self, prepared: PreparedDatabase) -> Handle:
        """Start a test on ``prepared``'s stores; refused once a reset of them failed.

        A test never starts on stores that were not reset: after a failed reset every later
        test of the same database errors with the reason (the others run as usual).
        """
        self._refuse_broken(prepared)
        return prepared.strategy.begin()

    def _refuse_broken(self, prepared: PreparedDatabase) -> None:
        if prepared.broken is not None:
            raise IsolationError(
                f"not starting on database {prepared.database!r}: an earlier test's reset failed, "
                f"so it may hold that test's data ({prepared.broken})"
            )

    def end(self, prepared: PreparedDatabase, handle: Handle) -> None:
        """Finish a test: the strategy puts the seeded state back.

        A reset that fails is retried once, after ending the sessions that keep a transaction
        open on the test's database (:meth:`release`); when the retry fails too, the stores are
        marked broken and no later test starts on them.

        Raises:
            IsolationError: the reset failed twice (the reason, in one line).
        """
        try:
            prepared.strategy.end(handle)
            return
        except Exception as exc:
            first = exc
        except BaseException as exc:  # an interrupt: no retry, and no test on these stores
            prepared.broken = _reason(exc)
            raise
        try:
            ended = self.release(prepared, handle.url)
            prepared.strategy.end(handle)  # retryable by the Strategy protocol
        except BaseException as exc:
            raise self._broken(prepared, exc) from None
        self._warn_retried(prepared, first, ended)

    def release(self, prepared: PreparedDatabase, url: str) -> int:
        """End the sessions that keep a transaction open on database ``url`` (a test's only; guarded).

        Returns how many were ended. Used before retrying a failed reset: a connection the test
        left idle in transaction holds the locks the reset waits for.
        """
        with PostgresAdmin.connect(prepared.server_url) as admin:
            return admin.end_open_transactions(database_name(url), allow_unsafe=self.allow_unsafe)

    def _warn_retried(self, prepared: PreparedDatabase, first: Exception, ended: int) -> None:
        """Say (a :class:`SeedkitWarning`, in pytest's warnings summary) that a reset needed its retry."""
        warnings.warn(
            SeedkitWarning(
                f"the reset of database {prepared.database!r} failed ({_reason(first)}); seedkit ended "
                f"{ended} session(s) that kept a transaction open on it and the retry succeeded"
            ),
            stacklevel=3,
        )

    def _broken(self, prepared: PreparedDatabase, exc: BaseException) -> BaseException:
        """Mark ``prepared`` broken after a reset failed twice; the error to raise."""
        prepared.broken = _reason(exc)
        if not isinstance(exc, Exception):
            return exc
        return IsolationError(
            f"resetting database {prepared.database!r} after the test failed, also when retried: "
            f"{prepared.broken}"
        )

    async def begin_async(self, prepared: PreparedDatabase, *, driver: str) -> AsyncHandle:
        """The async form of :meth:`begin`: an :class:`AsyncHandle`; refused once a reset failed."""
        self._refuse_broken(prepared)
        return await begin_async(prepared.strategy, driver=driver, mongo_url=prepared.mongo_url)

    async def end_async(self, prepared: PreparedDatabase, handle: AsyncHandle) -> None:
        """The async form of :meth:`end`: the same retry, and the same refusal afterwards."""
        try:
            await end_async(prepared.strategy, handle)
            return
        except Exception as exc:
            first = exc
        except BaseException as exc:
            prepared.broken = _reason(exc)
            raise
        try:
            ended = self.release(prepared, handle.url)
            await end_async(prepared.strategy, handle)
        except BaseException as exc:
            raise self._broken(prepared, exc) from None
        self._warn_retried(prepared, first, ended)

    def kept_name(self, handle: Handle | AsyncHandle) -> str:
        """The name the database of a failed test will be kept under."""
        self._kept_count += 1
        suffix = f"_k{self._kept_count}"
        return database_name(handle.url)[: MAX_IDENTIFIER - len(suffix)] + suffix

    def keep(self, prepared: PreparedDatabase, handle: Handle, kept: str) -> str:
        """Keep the database a failed test used under the name ``kept``; returns its URL.

        What the test committed is kept, and so is what its session had flushed (committed
        here; under ``rollback`` the test's transaction is committed too). The database is
        renamed, the worker's database is cloned again from the template, and the strategy
        ends the test as usual (restoring Mongo, which is not kept).
        """
        lost = _commit_quietly(handle)
        handle.close_sessions()
        if isinstance(handle.bind, sa.Connection):
            handle.bind.close()
        handle.engine.dispose()
        self._set_aside(prepared, database_name(handle.url), kept)
        self.end(prepared, handle)
        return self._kept(prepared, kept, lost)

    async def keep_async(self, prepared: PreparedDatabase, handle: AsyncHandle, kept: str) -> str:
        """The async form of :meth:`keep`: the ``AsyncSession``'s flushed rows (and under
        ``rollback`` the async connection's transaction) are committed, then the same."""
        lost = await _commit_quietly_async(handle)
        await close_async(handle)
        if isinstance(handle.bind, AsyncConnection):
            await handle.bind.close()
        self._set_aside(prepared, database_name(handle.url), kept)
        await self.end_async(prepared, handle)
        return self._kept(prepared, kept, lost)

    def _set_aside(self, prepared: PreparedDatabase, used: str, kept: str) -> None:
        """Rename database ``used`` to ``kept`` and, unless every test has its own clone, clone the
        template under ``used`` again for the following tests."""
        with PostgresAdmin.connect(prepared.server_url) as admin:
            try:
                admin.rename(used, kept)
            except sa.exc.DBAPIError as exc:
                reason = str(exc.orig).strip().splitlines()[0] if exc.orig else str(exc)
                raise IsolationError(f"cannot keep database {used!r} as {kept!r}: {reason}") from None
        if not prepared.per_test_clone:
            clone(prepared.server_url, prepared.template, used)

    def _kept(self, prepared: PreparedDatabase, kept: str, lost: str | None) -> str:
        prepared.kept.append(kept)
        if lost is not None:
            raise IsolationError(
                f"kept database {kept!r} lacks what the test's session had flushed but not committed: "
                f"committing it failed: {lost}"
            )
        return with_database(prepared.server_url, kept)

    # -- the end ---------------------------------------------------------------------------
    def close(self) -> None:
        """Close every strategy and drop the worker's databases (kept ones and templates stay)."""
        errors: list[BaseException] = []
        for prepared in self._prepared.values():
            try:
                prepared.strategy.close()
                if not prepared.per_test_clone:
                    drop(prepared.server_url, prepared.database, allow_unsafe=self.allow_unsafe)
                if prepared.real_mongo:
                    check_mongo_destructive(prepared.mongo, action="drop", allow_unsafe=self.allow_unsafe)
                    prepared.mongo.client.drop_database(prepared.mongo.name)
            except Exception as exc:  # close the others, then report the first problem
                errors.append(exc)
        self._prepared.clear()
        for use in self._uses.values():
            use.close()
        self._uses.clear()
        if errors:
            raise errors[0]


async def _commit_quietly_async(handle: AsyncHandle) -> str | None:
    """:func:`_commit_quietly` for an async test's ``AsyncSession`` and ``AsyncConnection``."""
    session = handle.session
    lost = None
    try:
        if session.in_transaction():
            await session.commit()
    except Exception as exc:
        lost = " ".join(str(getattr(exc, "orig", None) or exc).split()) or type(exc).__name__
        await session.rollback()
    if isinstance(handle.bind, AsyncConnection) and handle.bind.in_transaction():
        await handle.bind.commit()
    return lost


def _reason(exc: BaseException) -> str:
    """One line saying why ``exc`` happened (a database error's first line, not SQLAlchemy's dump)."""
    if isinstance(exc, sa.exc.DBAPIError):
        lines = str(exc.orig or exc).strip().splitlines()
        return " ".join(lines[0].split()) if lines else type(exc).__name__
    return " ".join(str(exc).split()) or type(exc).__name__


def _commit_quietly(handle: Handle) -> str | None:
    """Commit what the test's session flushed and, in an outer transaction, that transaction.

    Returns why the session's commit failed (it is then rolled back), or None.
    """
    session = handle.session
    lost = None
    try:
        if session.in_transaction():
            session.commit()
    except Exception as exc:
        lost = " ".join(str(getattr(exc, "orig", None) or exc).split()) or type(exc).__name__
        session.rollback()
    if isinstance(handle.bind, sa.Connection) and handle.bind.in_transaction():
        handle.bind.commit()
    return lost


__all__ = ["PreparedDatabase", "SeedkitRun", "psql_url", "worker_database_name"]
