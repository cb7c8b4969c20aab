"""The ``snapshot`` strategy: a seeded database kept as a PostgreSQL template, cloned per test.

``CREATE DATABASE clone TEMPLATE seeded`` copies a database file by file inside the server,
so every test gets the seeded data in a database of its own, visible to any process (a server
under test can connect to the clone's URL). The template's name is derived from a hash of
everything that shapes its contents (migrations, profile, seed, packs, factory code), so a
changed migration or pack builds a new template by itself and an unchanged one is reused
across runs. :func:`ensure_template` builds it once even when pytest-xdist workers race
(an advisory lock on the maintenance database), and only a completely built template gets its
final name.
"""

from __future__ import annotations

import dataclasses
import hashlib
import importlib.metadata
import importlib.util
import json
import os
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any, ClassVar

import sqlalchemy as sa
from pymongo.database import Database
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.pool import NullPool

from seedkit.isolation.base import Handle, IsolationError, committing_handle
from seedkit.seeding.config import Profile, Settings
from seedkit.stores.mongo_state import MongoBaseline, check_mongo_destructive
from seedkit.stores.postgres import database_name, normalize_url, with_database
from seedkit.stores.safety import check_destructive
from seedkit.stores.urls import redact

TEMPLATE_PREFIX = "seedkit_tmpl"
MAX_IDENTIFIER = 63
_NAME = re.compile(r"^[A-Za-z0-9_]+$")
_SKIPPED_PARTS = {"__pycache__", ".git", ".mypy_cache", ".ruff_cache"}


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _check_name(name: str) -> str:
    if not _NAME.match(name) or len(name) > MAX_IDENTIFIER:
        raise IsolationError(
            f"database name {name!r} must be letters, digits and '_', at most {MAX_IDENTIFIER} long"
        )
    return name


def _hash_tree(hasher: Any, label: str, path: Path) -> None:
    """Feed every file below ``path`` (or the file itself) to ``hasher``: relative name and bytes."""
    files = [path] if path.is_file() else sorted(p for p in path.rglob("*") if p.is_file())
    for file in files:
        relative = file.relative_to(path).as_posix() if file != path else file.name
        if _SKIPPED_PARTS & set(Path(relative).parts) or file.suffix == ".pyc":
            continue
        hasher.update(f"{label}:{relative}:{file.stat().st_size}\n".encode())
        hasher.update(file.read_bytes())


def _seedkit_version() -> str:
    try:
        return importlib.metadata.version("seedkit")
    except importlib.metadata.PackageNotFoundError:  # running from a source tree
        return "source"


def template_inputs_digest(settings: Settings, profile: Profile, seed: int | None = None) -> str:
    """sha256 of everything a seeded database depends on (see :func:`template_name`)."""
    from seedkit.packs.manifest import resolve_packs

    hasher = hashlib.sha256(f"seedkit-template:{_seedkit_version()}\n".encode())
    recipe = dataclasses.asdict(profile)
    recipe["seed"] = profile.seed if seed is None else seed
    recipe.pop("description", None)
    recipe.pop("isolation", None)
    hasher.update(json.dumps(recipe, sort_keys=True, default=str).encode())
    if profile.migrate and settings.alembic_script_location is not None:
        _hash_tree(hasher, "migrations", settings.alembic_script_location)
    if settings.alembic_ini is not None and settings.alembic_ini.is_file():
        _hash_tree(hasher, "alembic.ini", settings.alembic_ini)
    for pack in resolve_packs(profile.packs, settings.pack_paths) if profile.packs else []:
        _hash_tree(hasher, f"pack:{pack.name}", pack.path)
    for module in settings.factory_modules:
        spec = importlib.util.find_spec(module)
        if spec is not None and spec.origin and Path(spec.origin).is_file():
            _hash_tree(hasher, f"module:{module}", Path(spec.origin))
        else:
            hasher.update(f"module:{module}:missing\n".encode())
    return hasher.hexdigest()


def template_name(settings: Settings, profile: Profile | str, seed: int | None = None) -> str:
    """The template database's name for ``profile`` (and ``seed``, default the profile's).

    ``seedkit_tmpl_<profile>_<hash>``, where the hash covers the migrations directory's files,
    the Alembic ini, the profile's recipe (seed, clock, packs, volumes, migration command), the
    files of its packs and their dependencies, the factory modules' source, and seedkit's
    version. Change any of them and the name changes, so a stale template is never used.
    """
    chosen = settings.profile(profile) if isinstance(profile, str) else profile
    slug = re.sub(r"[^a-z0-9]+", "_", chosen.name.lower()).strip("_")[:16] or "profile"
    return f"{TEMPLATE_PREFIX}_{slug}_{template_inputs_digest(settings, chosen, seed)[:12]}"


def _admin(server_url: str) -> Engine:
    return sa.create_engine(normalize_url(server_url), isolation_level="AUTOCOMMIT", poolclass=NullPool)


def _exists(conn: Connection, name: str) -> bool:
    return bool(conn.execute(sa.text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name}).scalar())


def _lock_key(name: str) -> int:
    return int.from_bytes(
        hashlib.sha256(f"seedkit-template:{name}".encode()).digest()[:8], "big", signed=True
    )


def _terminate_others(conn: Connection, name: str) -> None:
    conn.execute(
        sa.text(
            "SELECT pg_terminate_backend(pid, 5000) FROM pg_stat_activity "
            "WHERE datname = :n AND pid <> pg_backend_pid()"
        ),
        {"n": name},
    )


def _drop(conn: Connection, server_url: str, name: str, allow_unsafe: bool) -> None:
    check_destructive(with_database(server_url, name), action="drop database", allow_unsafe=allow_unsafe)
    if _exists(conn, name):
        conn.execute(sa.text(f"ALTER DATABASE {_quote(name)} WITH IS_TEMPLATE false ALLOW_CONNECTIONS true"))
        conn.execute(sa.text(f"DROP DATABASE IF EXISTS {_quote(name)} WITH (FORCE)"))


def ensure_template(
    server_url: str,
    name: str,
    build: Callable[[str], None],
    *,
    allow_unsafe: bool = False,
) -> str:
    """Make sure template database ``name`` exists, calling ``build(url)`` at most once; return its URL.

    ``server_url`` names the maintenance database (e.g. ``postgres``); every process must pass the
    same one. Under a session advisory lock there: if ``name`` exists it is reused; otherwise an
    empty ``<name>_build`` database is created, ``build`` fills it (and must dispose its engines),
    and it is renamed to ``name`` and marked as a template that accepts no connections, so clones
    never fail on a lingering connection. A failed build leaves no template behind.
    """
    _check_name(name)
    building = _check_name(f"{name[: MAX_IDENTIFIER - 6]}_build")
    admin = _admin(server_url)
    try:
        with admin.connect() as conn:
            key = _lock_key(name)
            conn.execute(sa.text("SELECT pg_advisory_lock(:k)"), {"k": key})
            try:
                if not _exists(conn, name):
                    _drop(conn, server_url, building, allow_unsafe)  # a crashed build's leftovers
                    conn.execute(sa.text(f"CREATE DATABASE {_quote(building)}"))
                    try:
                        build(with_database(server_url, building))
                    except BaseException:
                        _drop(conn, server_url, building, allow_unsafe)
                        raise
                    _terminate_others(conn, building)
                    conn.execute(sa.text(f"ALTER DATABASE {_quote(building)} RENAME TO {_quote(name)}"))
                    conn.execute(
                        sa.text(
                            f"ALTER DATABASE {_quote(name)} WITH IS_TEMPLATE true ALLOW_CONNECTIONS false"
                        )
                    )
            finally:
                conn.execute(sa.text("SELECT pg_advisory_unlock(:k)"), {"k": key})
    finally:
        admin.dispose()
    return with_database(server_url, name)


def _clone(conn: Connection, template: str, new_name: str) -> None:
    _check_name(template)
    _check_name(new_name)
    try:
        conn.execute(sa.text(f"CREATE DATABASE {_quote(new_name)} TEMPLATE {_quote(template)}"))
    except sa.exc.DBAPIError as exc:
        sqlstate = getattr(exc.orig, "sqlstate", None)
        reason = str(exc.orig).strip().splitlines()[0] if exc.orig else str(exc)
        hint = " (close every connection to it: dispose its engines)" if sqlstate == "55006" else ""
        raise IsolationError(
            f"cannot clone template {template!r} into {new_name!r}: {reason}{hint}"
        ) from None


def clone(server_url: str, template: str, new_name: str) -> str:
    """``CREATE DATABASE new_name TEMPLATE template``; returns the new database's URL.

    PostgreSQL refuses when anything is connected to the template: dispose its engines first
    (templates made by :func:`ensure_template` accept no connections at all).
    """
    admin = _admin(server_url)
    try:
        with admin.connect() as conn:
            _clone(conn, template, new_name)
    finally:
        admin.dispose()
    return with_database(server_url, new_name)


def drop(server_url: str, name: str, *, allow_unsafe: bool = False) -> None:
    """Drop database ``name`` (a template too), disconnecting its users; guarded by the safety check."""
    _check_name(name)
    check_destructive(with_database(server_url, name), action="drop database", allow_unsafe=allow_unsafe)
    admin = _admin(server_url)
    try:
        with admin.connect() as conn:
            _drop(conn, server_url, name, allow_unsafe)
    finally:
        admin.dispose()


def list_templates(server_url: str, prefix: str = TEMPLATE_PREFIX) -> list[str]:
    """Names of the databases on the server whose name starts with ``prefix``."""
    admin = _admin(server_url)
    try:
        with admin.connect() as conn:
            rows = conn.execute(
                sa.text("SELECT datname FROM pg_database WHERE starts_with(datname, :p) ORDER BY 1"),
                {"p": prefix},
            )
            return list(rows.scalars())
    finally:
        admin.dispose()


def _worker_tag() -> str:
    return os.environ.get("PYTEST_XDIST_WORKER") or f"p{os.getpid()}"


class TemplateStrategy:
    """Each test gets its own clone of the seeded template; it is dropped after the test.

    Args:
        database_url: URL of the template (e.g. from :func:`ensure_template`); the clones live on the
            same server, and the database in this URL's path is only used as the template.
        mongo: the seeded Mongo database, or None (restored from an in-memory copy after each test).
        server_url: maintenance database URL for CREATE/DROP DATABASE (default: ``postgres`` there).
        build: when given, :meth:`prepare` calls ``ensure_template(server_url, template, build)``.
        clone_prefix: clones are ``<clone_prefix>_<n>`` (default: template name and xdist worker/pid).
        allow_unsafe: lift the safety guard for dropping clones and restoring Mongo.
    """

    name: ClassVar[str] = "snapshot"

    def __init__(
        self,
        database_url: str,
        mongo: Database[Any] | None = None,
        *,
        server_url: str | None = None,
        build: Callable[[str], None] | None = None,
        clone_prefix: str | None = None,
        allow_unsafe: bool = False,
    ) -> None:
        self.template = _check_name(database_name(database_url))
        self.server_url = normalize_url(server_url or with_database(database_url, "postgres"))
        self.mongo = mongo
        self.build = build
        self.allow_unsafe = allow_unsafe
        self.clone_prefix = _check_name(clone_prefix or f"{self.template[:40]}_{_worker_tag()}")
        self._count = 0
        self._baseline: MongoBaseline | None = None
        self._admin: Engine | None = None

    def prepare(self) -> None:
        if self.build is not None:
            ensure_template(self.server_url, self.template, self.build, allow_unsafe=self.allow_unsafe)
        elif self.template not in list_templates(self.server_url, prefix=self.template):
            raise IsolationError(
                f"template database {self.template!r} does not exist on {redact(self.server_url)}: "
                "build it first (seedkit.isolation.snapshot.ensure_template)"
            )
        check_destructive(
            with_database(self.server_url, self.clone_prefix),
            action="drop test clones on",
            allow_unsafe=self.allow_unsafe,
        )
        if self.mongo is not None:
            check_mongo_destructive(
                self.mongo, action="use snapshot isolation on", allow_unsafe=self.allow_unsafe
            )
            self._baseline = MongoBaseline.capture(self.mongo)

    def _admin_engine(self) -> Engine:
        if self._admin is None:  # one maintenance connection for every clone and drop
            self._admin = sa.create_engine(self.server_url, isolation_level="AUTOCOMMIT", pool_size=1)
        return self._admin

    def begin(self) -> Handle:
        self._count += 1
        name = _check_name(f"{self.clone_prefix}_{self._count}")
        with self._admin_engine().connect() as conn:
            _clone(conn, self.template, name)
        url = with_database(self.server_url, name)
        handle = committing_handle(url, sa.create_engine(url), self.mongo)
        handle.extra["database"] = name
        return handle

    def end(self, handle: Handle) -> None:
        handle.close_sessions()
        handle.engine.dispose()
        with self._admin_engine().connect() as conn:
            _drop(conn, self.server_url, handle.extra["database"], self.allow_unsafe)
        if self.mongo is not None and self._baseline is not None:
            self._baseline.restore(self.mongo, allow_unsafe=self.allow_unsafe)

    def close(self) -> None:
        """Release the maintenance connection; every clone was dropped by :meth:`end`, the template stays."""
        if self._admin is not None:
            self._admin.dispose()
            self._admin = None
