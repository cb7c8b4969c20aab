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
import hashlib
import importlib.metadata
import importlib.util
import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from seedkit.seeding.config import Profile, Settings
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
