"""Template databases: a seeded database kept on the server under a name that is its cache key.

The name is derived from a hash of everything that shapes the seeded contents (migrations,
profile, seed, packs, the project's code, the libraries' versions), so a changed input builds a
new template by itself and an unchanged one is reused across runs. :func:`ensure_template`
builds it once even when pytest-xdist workers race (an advisory lock on the maintenance
database), and only a completely built template gets its final name. The ``snapshot``
isolation strategy (:mod:`seedkit.isolation.snapshot`) clones it per test.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import importlib.metadata
import importlib.util
import json
import re
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.pool import NullPool

from seedkit.seeding.config import Profile, Settings
from seedkit.seeding.project_sources import migration_sources, module_sources
from seedkit.stores.postgres import normalize_url, with_database
from seedkit.stores.postgres_admin import MAX_IDENTIFIER, PostgresAdmin, check_database_name
from seedkit.stores.quoting import quote_ident, quote_literal
from seedkit.stores.safety import check_destructive

TEMPLATE_PREFIX = "seedkit_tmpl"
BUILD_SUFFIX = "_build"
NOTE_PREFIX = "seedkit-template "
"""A template's database comment: this prefix, then JSON (``project``, ``profile``, ``mongo_documents``)."""
_SKIPPED_PARTS = {"__pycache__", ".git", ".mypy_cache", ".ruff_cache"}


def _hash_tree(hasher: Any, label: str, path: Path) -> None:
    """Feed every file below ``path`` (or the file itself) to ``hasher``: relative name and bytes."""
    files = [path] if path.is_file() else sorted(p for p in path.rglob("*") if p.is_file())
    for file in files:
        relative = file.relative_to(path).as_posix() if file != path else file.name
        if _SKIPPED_PARTS & set(Path(relative).parts) or file.suffix == ".pyc":
            continue
        hasher.update(f"{label}:{relative}:{file.stat().st_size}\n".encode())
        hasher.update(file.read_bytes())


LIBRARIES = ("factory-boy", "faker", "sqlalchemy", "psycopg", "pymongo", "alembic")
"""Distributions whose version is part of a template's key: their code generates or writes the data."""


def library_versions() -> dict[str, str]:
    """``{distribution: version}`` for :data:`LIBRARIES` (``"missing"`` when not installed)."""
    versions = {}
    for name in LIBRARIES:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            versions[name] = "missing"
    return versions


@functools.cache
def _seedkit_source_digest() -> str:
    """sha256 of seedkit's own source files: an editable install keeps one version number for all edits."""
    hasher = hashlib.sha256()
    _hash_tree(hasher, "seedkit", Path(__file__).resolve().parent.parent)
    return hasher.hexdigest()


def _project_modules(settings: Settings, profile: Profile) -> list[str]:
    """The project modules the configuration and the profile name (factories, models, index setup)."""
    names = list(settings.factory_modules)
    for path in (settings.models, settings.mongo_indexes, *(v.factory for v in profile.volumes)):
        if path and ":" in path:
            names.append(path.partition(":")[0])
    return names


def template_inputs_digest(settings: Settings, profile: Profile, seed: int | None = None) -> str:
    """sha256 of everything a seeded database depends on (see :func:`template_name`)."""
    from seedkit.packs.manifest import resolve_packs

    hasher = hashlib.sha256(b"seedkit-template:2\n")
    hasher.update(f"seedkit-source:{_seedkit_source_digest()}\n".encode())
    hasher.update(json.dumps(library_versions(), sort_keys=True).encode())
    recipe = dataclasses.asdict(profile)
    recipe["seed"] = profile.seed if seed is None else seed
    recipe.pop("description", None)
    recipe.pop("isolation", None)
    hasher.update(json.dumps(recipe, sort_keys=True, default=str).encode())
    migrates = profile.migrate or profile.migration_command is not None
    if (
        migrates
        and settings.alembic_script_location is not None
        and settings.alembic_script_location.exists()
    ):
        _hash_tree(hasher, "migrations", settings.alembic_script_location)
    if settings.alembic_ini is not None and settings.alembic_ini.is_file():
        _hash_tree(hasher, "alembic.ini", settings.alembic_ini)
    if profile.migration_command is not None:
        for file in migration_sources(settings.root, profile.migration_command):
            _hash_tree(hasher, f"migration:{file.relative_to(settings.root.resolve()).as_posix()}", file)
    configured_in = settings.where("packs")
    packs = (
        resolve_packs(profile.packs, settings.pack_paths, configured_in=configured_in)
        if profile.packs
        else []
    )
    for pack in packs:
        _hash_tree(hasher, f"pack:{pack.name}", pack.path)
    wanted = _project_modules(settings, profile)
    found = module_sources(settings.root, wanted, sys.path)
    for name, file in found.items():
        _hash_tree(hasher, f"module:{name}", file)
    for name in sorted(set(wanted) - set(found)):  # installed packages (or missing): by location
        spec = importlib.util.find_spec(name.partition(".")[0])
        origin = spec.origin if spec is not None else None
        hasher.update(f"module:{name}:{origin}\n".encode())
    return hasher.hexdigest()


def template_name(settings: Settings, profile: Profile | str, seed: int | None = None) -> str:
    """The template database's name for ``profile`` (and ``seed``, default the profile's).

    ``seedkit_tmpl_<profile>_<hash>``, where the hash covers: the migrations (the Alembic
    directory and ini; for a ``migration_command``, the files
    :func:`~seedkit.seeding.project_sources.migration_sources` finds), the profile's recipe
    (seed, clock, packs, volumes, migration command), the files of its packs and their
    dependencies, the source of the project modules the configuration names and of every project
    module they import (:func:`~seedkit.seeding.project_sources.module_sources`), seedkit's own
    source, and the versions of :data:`LIBRARIES`. Change any of them and the name changes, so a
    stale template is never used.
    """
    chosen = settings.profile(profile) if isinstance(profile, str) else profile
    slug = re.sub(r"[^a-z0-9]+", "_", chosen.name.lower()).strip("_")[:16] or "profile"
    return f"{TEMPLATE_PREFIX}_{slug}_{template_inputs_digest(settings, chosen, seed)[:12]}"


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

    Raises:
        IsolationError: ``name`` is not a plain identifier of at most 63 characters.
        UnsafeTargetError: the server is not a test server (for dropping a crashed build's leftovers).
    """
    check_database_name(name)
    building = check_database_name(f"{name[: MAX_IDENTIFIER - 6]}_build")
    with PostgresAdmin.connect(server_url) as admin, admin.advisory_lock(build_lock(name)):
        if not admin.exists(name):
            admin.drop(building, allow_unsafe=allow_unsafe)  # a crashed build's leftovers
            admin.create(building)
            try:
                build(with_database(server_url, building))
            except BaseException:
                admin.drop(building, allow_unsafe=allow_unsafe)
                raise
            admin.rename(building, name)
            admin.mark_template(name, template=True)
    return with_database(server_url, name)


def list_templates(server_url: str, prefix: str = TEMPLATE_PREFIX) -> list[str]:
    """Names of the databases on the server whose name starts with ``prefix``."""
    with PostgresAdmin.connect(server_url) as admin:
        return admin.names(prefix)


def build_lock(name: str) -> str:
    """The advisory lock :func:`ensure_template` holds while it checks for or builds template ``name``."""
    return f"seedkit-template:{name}"


def use_lock(name: str) -> str:
    """The advisory lock a test run shares while it uses template ``name`` (:class:`TemplateUse`)."""
    return f"seedkit-template-use:{name}"


def write_template_note(conn: Connection, name: str, note: dict[str, Any]) -> None:
    """Record ``note`` (JSON) as database ``name``'s comment: who built the template, for what."""
    text = NOTE_PREFIX + json.dumps(note, sort_keys=True)
    conn.execute(sa.text(f"COMMENT ON DATABASE {quote_ident(name)} IS {quote_literal(text)}"))


def read_template_note(conn: Connection, name: str) -> dict[str, Any]:
    """The note :func:`write_template_note` recorded on database ``name`` (empty when there is none)."""
    comment = conn.execute(
        sa.text("SELECT shobj_description(oid, 'pg_database') FROM pg_database WHERE datname = :n"),
        {"n": name},
    ).scalar()
    return _parse_note(comment)


def _parse_note(comment: str | None) -> dict[str, Any]:
    if not comment or not comment.startswith(NOTE_PREFIX):
        return {}
    try:
        note = json.loads(comment[len(NOTE_PREFIX) :])
    except ValueError:
        return {}
    return note if isinstance(note, dict) else {}


def project_key(settings: Settings) -> str:
    """What identifies a project's templates on a shared server: its configuration's directory."""
    return str(settings.root.resolve())


@dataclass(frozen=True)
class TemplateDatabase:
    """A seedkit template database found on a server (:func:`seedkit_templates`).

    Attributes:
        name: ``seedkit_tmpl_<profile>_<key>``, or that with ``_build`` (a build that never finished).
        size: its size in bytes (``pg_database_size``).
        project: the directory of the configuration that built it (None: not recorded).
        profile: the profile it holds (None: not recorded).
        in_use: a test run uses it (shares its use lock), a build holds its build lock, or a
            session is connected to it.
    """

    name: str
    size: int
    project: str | None
    profile: str | None
    in_use: bool

    @property
    def unfinished(self) -> bool:
        """A ``_build`` database left by a build that crashed (it never became a template)."""
        return self.name.endswith(BUILD_SUFFIX)

    @property
    def template(self) -> str:
        """The template this database is or was being built as."""
        return self.name[: -len(BUILD_SUFFIX)] if self.unfinished else self.name


def _in_use(admin: PostgresAdmin, database: TemplateDatabase | str) -> bool:
    name = database if isinstance(database, str) else database.name
    template = name[: -len(BUILD_SUFFIX)] if name.endswith(BUILD_SUFFIX) else name
    return (
        admin.advisory_lock_held(build_lock(template))
        or admin.advisory_lock_held(use_lock(template))
        or admin.connections(name) > 0
    )


def _templates(admin: PostgresAdmin) -> list[TemplateDatabase]:
    rows = admin.conn.execute(
        sa.text(
            "SELECT datname, pg_database_size(oid), shobj_description(oid, 'pg_database') "
            "FROM pg_database WHERE starts_with(datname, :p) ORDER BY 1"
        ),
        {"p": f"{TEMPLATE_PREFIX}_"},
    ).all()
    found = []
    for name, size, comment in rows:
        note = _parse_note(comment)
        found.append(
            TemplateDatabase(
                name=name,
                size=int(size or 0),
                project=note.get("project"),
                profile=note.get("profile"),
                in_use=_in_use(admin, name),
            )
        )
    return found


def seedkit_templates(server_url: str) -> list[TemplateDatabase]:
    """Every seedkit template database on the server at ``server_url`` (finished or not), by name.

    Reading only: never guarded.
    """
    with PostgresAdmin.connect(server_url) as admin:
        return _templates(admin)


def drop_unused_template(admin: PostgresAdmin, name: str, *, allow_unsafe: bool = False) -> bool:
    """Drop template database ``name`` unless something uses it; returns whether it was dropped.

    Used means: a test run shares its use lock (:class:`TemplateUse`), a build holds its build
    lock (:func:`ensure_template`), in any database of the server, or a session is connected to
    it. Both locks are taken (exclusively, in ``admin``'s database) while it is dropped, so a run
    that starts meanwhile waits and then builds it again.

    Raises:
        UnsafeTargetError: the safety guard refused the target (before anything runs).
    """
    check_database_name(name)
    check_destructive(
        with_database(admin.server_url, name), action="drop database", allow_unsafe=allow_unsafe
    )
    template = name[: -len(BUILD_SUFFIX)] if name.endswith(BUILD_SUFFIX) else name
    taken: list[str] = []
    try:
        for lock in (build_lock(template), use_lock(template)):
            if not admin.try_advisory_lock(lock):
                return False
            taken.append(lock)
        if _in_use(admin, name):
            return False
        admin.drop(name, allow_unsafe=allow_unsafe)
        return True
    finally:
        for lock in reversed(taken):
            admin.advisory_unlock(lock)


def prune_replaced_templates(
    server_url: str, settings: Settings, profile: Profile, current: str, *, allow_unsafe: bool = False
) -> list[str]:
    """Drop the templates ``current`` replaced: the same project's and profile's, with an older key.

    Templates in use (another run of the project on older code) are left alone. Returns the
    names dropped.
    """
    project = project_key(settings)
    dropped = []
    with PostgresAdmin.connect(server_url) as admin:
        for found in _templates(admin):
            if found.template == current or found.project != project or found.profile != profile.name:
                continue
            if not found.in_use and drop_unused_template(admin, found.name, allow_unsafe=allow_unsafe):
                dropped.append(found.name)
    return dropped


class TemplateUse:
    """Marks templates as used by this process for as long as it is open (a test run's templates).

    One connection to ``server_url`` holds each used template's use lock in shared mode
    (``pg_advisory_lock_shared``): :func:`drop_unused_template` (``seedkit db prune``, another
    run's pruning) leaves those templates alone. Take it before :func:`ensure_template`.
    """

    def __init__(self, server_url: str) -> None:
        self.server_url = server_url
        self._engine: Engine | None = None
        self._conn: Connection | None = None
        self._used: set[str] = set()

    def use(self, name: str) -> None:
        """Hold template ``name``'s use lock (shared) until :meth:`close`."""
        if name in self._used:
            return
        if self._conn is None:
            self._engine = sa.create_engine(
                normalize_url(self.server_url), isolation_level="AUTOCOMMIT", poolclass=NullPool
            )
            self._conn = self._engine.connect()
        PostgresAdmin(self._conn, self.server_url).share_advisory_lock(use_lock(name))
        self._used.add(name)

    def close(self) -> None:
        """Release every use lock (the connection ends)."""
        if self._conn is not None:
            self._conn.close()
            self._conn = None
        if self._engine is not None:
            self._engine.dispose()
            self._engine = None
        self._used.clear()
