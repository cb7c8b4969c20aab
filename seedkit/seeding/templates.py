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
from pathlib import Path
from typing import Any

from seedkit.seeding.config import Profile, Settings
from seedkit.seeding.project_sources import migration_sources, module_sources
from seedkit.stores.postgres import with_database
from seedkit.stores.postgres_admin import MAX_IDENTIFIER, PostgresAdmin, check_database_name

TEMPLATE_PREFIX = "seedkit_tmpl"
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
    for pack in resolve_packs(profile.packs, settings.pack_paths) if profile.packs else []:
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
    with PostgresAdmin.connect(server_url) as admin, admin.advisory_lock(f"seedkit-template:{name}"):
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
