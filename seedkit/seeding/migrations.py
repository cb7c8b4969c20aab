"""Bringing a database's schema to head: Alembic run in-process, or a project's own migration command.

Alembic is configured from the settings (``alembic = { script_location = ..., ini = ... }``)
and run on a connection seedkit opened (passed to ``env.py`` as
``config.attributes["connection"]``), so it migrates exactly the database being seeded.
Projects whose migrations are not plain Alembic (Flask-Migrate, Django, an app in another
virtualenv) name a ``migration_command`` in their profile instead; it runs through the shell
with ``DATABASE_URL`` and ``SEEDKIT_DATABASE_URL`` set to the target.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.util import CommandError
from sqlalchemy.engine import Connection, Engine

from seedkit.errors import ConfigError, SchemaError
from seedkit.seeding.config import Profile, Settings
from seedkit.seeding.imports import import_object, project_on_path
from seedkit.stores.urls import redact

STDERR_TAIL_LINES = 8


class MigrationError(SchemaError):
    """A migration (Alembic or a ``migration_command``) failed."""


def has_alembic(settings: Settings) -> bool:
    """True when the settings name Alembic migrations."""
    return settings.alembic_ini is not None or settings.alembic_script_location is not None


def alembic_config(settings: Settings) -> Config:
    """The Alembic configuration of a project: its ini file and/or its script location.

    The project's root is put on ``sys.path`` (as the ``alembic`` command does with
    ``prepend_sys_path``) so that ``env.py`` can import the project's models.
    """
    if not has_alembic(settings):
        raise ConfigError(
            f"{settings.source or 'the configuration'} names no Alembic migrations: set "
            'alembic = { script_location = "..." } (or ini = "alembic.ini"), '
            "or give the profile a migration_command (or migrate = false if the schema is made elsewhere)"
        )
    if settings.alembic_ini is not None:
        if not settings.alembic_ini.is_file():
            raise ConfigError(f"Alembic ini file {settings.alembic_ini} does not exist")
        cfg = Config(str(settings.alembic_ini))
    else:
        cfg = Config()
    if settings.alembic_script_location is not None:
        if not settings.alembic_script_location.is_dir():
            location = settings.alembic_script_location
            raise ConfigError(f"Alembic script_location {location} is not a directory")
        cfg.set_main_option("script_location", _escape(str(settings.alembic_script_location)))
    return cfg


def _escape(value: str) -> str:
    """Alembic options go through configparser interpolation: ``%`` must be doubled."""
    return value.replace("%", "%%")


@contextmanager
def _transaction(bind: Engine | Connection) -> Iterator[Connection]:
    if isinstance(bind, Engine):
        with bind.begin() as conn:
            yield conn
    elif bind.in_transaction():
        yield bind
    else:
        with bind.begin():
            yield bind


def upgrade(bind: Engine | Connection, settings: Settings, revision: str = "head") -> None:
    """Alembic ``upgrade`` to ``revision`` on ``bind``: an engine, or a connection (in its transaction)."""
    cfg = alembic_config(settings)
    target = head_revision(settings) if revision == "head" else revision
    try:
        with _transaction(bind) as conn, project_on_path(settings):
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, revision)
    except CommandError as exc:
        raise MigrationError(f"alembic upgrade to {revision!r} failed: {exc}") from None
    except sa.exc.DBAPIError as exc:
        raise MigrationError(f"alembic upgrade to {target} failed: {_first_line(exc)}") from None


def current_revision(conn: Connection) -> str | None:
    """The revision(s) recorded in ``alembic_version`` (comma-joined if several), or None."""
    heads = MigrationContext.configure(conn).get_current_heads()
    return ",".join(sorted(heads)) if heads else None


def head_revision(settings: Settings) -> str | None:
    """The head revision(s) of the project's migration scripts (comma-joined if several)."""
    try:
        with project_on_path(settings):
            heads = ScriptDirectory.from_config(alembic_config(settings)).get_heads()
    except CommandError as exc:
        raise ConfigError(f"cannot read the Alembic migrations: {exc}") from None
    return ",".join(sorted(heads)) if heads else None


def check_at_head(conn: Connection, settings: Settings) -> None:
    """Raise :class:`SchemaError` naming both revisions unless the database is at the migrations' head."""
    current = current_revision(conn)
    head = head_revision(settings)
    if current == head:
        return
    url = redact(conn.engine.url.render_as_string(hide_password=False))
    raise SchemaError(
        f"database {url} is at revision {current or 'none (never migrated)'} but the migrations' head is "
        f"{head}; run `seedkit migrate`, or set migrate = true in the profile"
    )


def run_migration_command(migration_command: str, database_url: str, *, cwd: Path) -> None:
    """Run a project's own migration command against ``database_url``.

    ``SEEDKIT_DATABASE_URL`` gets the SQLAlchemy form of the URL; ``DATABASE_URL`` the plain
    ``postgresql://`` form most frameworks expect. A non-zero exit raises :class:`MigrationError`
    with the tail of the command's stderr.
    """
    env = {
        **os.environ,
        "SEEDKIT_DATABASE_URL": database_url,
        "DATABASE_URL": libpq_url(database_url),
    }
    try:
        result = subprocess.run(
            migration_command,
            shell=True,
            cwd=cwd,
            env=env,
            text=True,
            stdin=subprocess.DEVNULL,
            capture_output=True,
        )
    except OSError as exc:
        raise MigrationError(f"migration command {migration_command!r} could not run: {exc}") from None
    if result.returncode != 0:
        tail = (result.stderr or result.stdout).strip().splitlines()[-STDERR_TAIL_LINES:]
        raise MigrationError(
            f"migration command {migration_command!r} exited with status {result.returncode}: "
            + (" | ".join(line.strip() for line in tail) or "no output")
        )


def migrate(bind: Engine | Connection, settings: Settings, profile: Profile | None = None) -> str:
    """Bring ``bind``'s database to head: the profile's ``migration_command``, else Alembic.

    ``bind``: an engine, or a connection whose transaction Alembic joins. Returns a short
    description of what ran, for the user.
    """
    if profile is not None and profile.migration_command:
        url = bind.engine.url.render_as_string(hide_password=False)
        run_migration_command(profile.migration_command, url, cwd=settings.root)
        return f"ran {profile.migration_command!r}"
    upgrade(bind, settings)
    return f"alembic upgrade head ({head_revision(settings)})"


def libpq_url(url: str) -> str:
    """``postgresql+psycopg://...`` -> ``postgresql://...`` (the form libpq and most frameworks read)."""
    scheme, sep, rest = url.partition("://")
    return f"{scheme.split('+', 1)[0]}{sep}{rest}" if sep else url


def schema_drift(conn: Connection, metadata: sa.MetaData) -> list[str]:
    """Differences between the database's schema and ``metadata`` (empty when they agree).

    Each difference is Alembic's autogenerate diff (``('add_column', ...)``) rendered as text;
    column types are compared too.
    """
    context = MigrationContext.configure(conn, opts={"compare_type": True})
    return [_describe(diff) for diff in compare_metadata(context, metadata)]


def check_models(conn: Connection, settings: Settings) -> str:
    """Raise :class:`SchemaError` unless the schema is at head and matches ``settings.models``.

    Returns what was checked. ``models`` names a declarative base or a ``MetaData``
    (``"app.models:Base"``); without it only the revision is checked.
    """
    check_at_head(conn, settings)
    checked = f"at head ({head_revision(settings)})"
    if not settings.models:
        return checked
    models = import_object(settings.models, settings)
    metadata = models if isinstance(models, sa.MetaData) else getattr(models, "metadata", None)
    if not isinstance(metadata, sa.MetaData):
        raise ConfigError(f"models = {settings.models!r} is neither a MetaData nor a declarative base")
    drift = schema_drift(conn, metadata)
    if drift:
        shown = "; ".join(drift[:3]) + (f"; and {len(drift) - 3} more" if len(drift) > 3 else "")
        raise SchemaError(
            f"the database schema differs from {settings.models} ({len(drift)} difference(s)): {shown}; "
            "write a migration for the model change (alembic revision --autogenerate)"
        )
    return f"{checked}, matches {settings.models}"


def _describe(diff: Any) -> str:
    if isinstance(diff, list):  # modify_* changes come grouped per column
        return "; ".join(_describe(item) for item in diff)
    kind, *rest = diff
    return f"{kind}: " + ", ".join(str(item) for item in rest)


def _first_line(exc: sa.exc.DBAPIError) -> str:
    return (str(exc.orig) if exc.orig else str(exc)).strip().splitlines()[0]


__all__ = [
    "MigrationError",
    "alembic_config",
    "check_at_head",
    "check_models",
    "current_revision",
    "has_alembic",
    "head_revision",
    "libpq_url",
    "migrate",
    "run_migration_command",
    "schema_drift",
    "upgrade",
]
