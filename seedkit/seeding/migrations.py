"""Bringing a database's schema to head: Alembic run in-process, or a project's own migration command.

Alembic is configured from the settings (``alembic = { script_location = ..., ini = ... }``)
and run on a connection seedkit opened (passed to ``env.py`` as
``config.attributes["connection"]``), so it migrates exactly the database being seeded.
Projects whose migrations are not plain Alembic (Flask-Migrate, Django, an app in another
virtualenv) name a ``migration_command`` in their profile instead; it runs through the shell
with ``DATABASE_URL`` and ``SEEDKIT_DATABASE_URL`` set to the target.
"""

from __future__ import annotations

import argparse
import os
import subprocess
from collections.abc import Iterator, Sequence
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
from seedkit.stores.baseline import record_baseline
from seedkit.stores.schema import reflect_schema
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
            raise ConfigError(
                f"{settings.where('alembic.ini')}: Alembic ini file {settings.alembic_ini} does not exist"
            )
        cfg = Config(str(settings.alembic_ini))
    else:
        cfg = Config()
    if settings.alembic_script_location is not None:
        if not settings.alembic_script_location.is_dir():
            location = settings.alembic_script_location
            raise ConfigError(
                f"{settings.where('alembic.script_location')}: Alembic script_location {location} is not a directory"
            )
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
    """Alembic ``upgrade`` to ``revision`` on ``bind``: an engine, or a connection (in its transaction).

    The target is handed to ``env.py`` in every way Alembic offers, so that it is the only
    database a migration can touch: the connection (``config.attributes["connection"]``, which
    Alembic's cookbook recommends for programmatic use), the ``sqlalchemy.url`` option (which the
    stock ``env.py`` of ``alembic init`` reads, replacing ``alembic.ini``'s), ``-x url=...``,
    and ``DATABASE_URL``/``SEEDKIT_DATABASE_URL`` while the command runs. After an upgrade to
    head the target must be at head, else :class:`MigrationError` (``env.py`` migrated another
    database). A failing revision is named with its file.
    """
    cfg = alembic_config(settings)
    with _transaction(bind) as conn:
        url = conn.engine.url.render_as_string(hide_password=False)
        cfg.attributes["connection"] = conn
        cfg.set_main_option("sqlalchemy.url", _escape(url))
        cfg.cmd_opts = argparse.Namespace(x=[f"url={url}"])
        try:
            with (
                project_on_path(settings),
                _environment({"SEEDKIT_DATABASE_URL": url, "DATABASE_URL": libpq_url(url)}),
            ):
                command.upgrade(cfg, revision)
        except CommandError as exc:
            raise MigrationError(f"alembic upgrade to {revision!r} failed: {exc}") from None
        except Exception as exc:
            raise MigrationError(
                f"alembic upgrade to {revision!r} failed{_where(exc, cfg)}: {_first_line(exc)}"
            ) from None
        if revision == "head":
            current, head = current_revision(conn), head_revision(settings)
            if current != head:
                raise MigrationError(
                    f"alembic upgrade head ran but {redact(url)} is at revision {current or 'none'}, not {head}: "
                    "env.py migrated another database; make it use config.attributes['connection'] "
                    "or the sqlalchemy.url option seedkit sets"
                )


@contextmanager
def _environment(values: dict[str, str]) -> Iterator[None]:
    """``os.environ`` with ``values`` while the block runs, then exactly as before."""
    saved = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def _where(exc: BaseException, cfg: Config) -> str:
    """`` in revision 0002 (.../versions/0002_x.py)``: the deepest revision file in the traceback, or env.py."""
    try:
        script = ScriptDirectory.from_config(cfg)
        files = {Path(s.path).resolve(): s.revision for s in script.walk_revisions()}
        env_py = Path(script.dir, "env.py").resolve()
    except Exception:  # the scripts themselves are broken: the message says enough
        return ""
    found = ""
    traceback = exc.__traceback__
    while traceback is not None:
        path = Path(traceback.tb_frame.f_code.co_filename).resolve()
        if path in files:
            found = f" in revision {files[path]} ({path})"
        elif path == env_py and not found:
            found = f" in {path}"
        traceback = traceback.tb_next
    return found


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
    description of what ran, for the user. A database migrated from empty gets its baseline
    recorded (the rows the migrations wrote; see :mod:`seedkit.stores.baseline`).
    """
    with _transaction(bind) as conn:
        fresh = not reflect_schema(conn, settings.schemas).tables
    if profile is not None and profile.migration_command:
        url = bind.engine.url.render_as_string(hide_password=False)
        run_migration_command(profile.migration_command, url, cwd=settings.root)
        done = f"ran {profile.migration_command!r}"
    else:
        upgrade(bind, settings)
        done = f"alembic upgrade head ({head_revision(settings)})"
    if fresh:
        with _transaction(bind) as conn:
            record_baseline(conn, reflect_schema(conn, settings.schemas))
    return done


def libpq_url(url: str) -> str:
    """``postgresql+psycopg://...`` -> ``postgresql://...`` (the form libpq and most frameworks read)."""
    scheme, sep, rest = url.partition("://")
    return f"{scheme.split('+', 1)[0]}{sep}{rest}" if sep else url


def schema_drift(
    conn: Connection, metadata: sa.MetaData, schemas: str | Sequence[str] | None = None
) -> list[str]:
    """Differences between the database's schema and ``metadata`` (empty when they agree).

    Each difference is Alembic's autogenerate diff (``('add_column', ...)``) rendered as text;
    column types are compared too. Compared: every schema the models name (a table with
    ``schema="billing"`` is looked for in ``billing``, through Alembic's ``include_schemas``)
    plus ``schemas`` (the configured ones; None: none more), so a second schema's tables are
    neither reported missing nor compared against the default schema.
    """
    default = conn.execute(sa.text("SELECT current_schema()")).scalar() or "public"
    wanted = {default if t.schema is None else t.schema for t in metadata.tables.values()}
    wanted.update([schemas] if isinstance(schemas, str) else (schemas or ()))
    wanted.add(default)

    def include_name(name: str | None, type_: str, parent_names: Any) -> bool:
        return type_ != "schema" or (default if name is None else name) in wanted

    context = MigrationContext.configure(
        conn, opts={"compare_type": True, "include_schemas": True, "include_name": include_name}
    )
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
    drift = schema_drift(conn, metadata, settings.schemas)
    if drift:
        shown = "; ".join(drift[:3]) + (f"; and {len(drift) - 3} more" if len(drift) > 3 else "")
        raise SchemaError(
            f"the database schema differs from {settings.models} ({len(drift)} difference(s)): {shown}; "
            "write a migration for the model change (alembic revision --autogenerate)"
        )
    return f"{checked}, matches {settings.models}"


def _describe(diff: Any) -> str:
    """One of Alembic's autogenerate differences as a sentence (``table users: column ...``)."""
    if isinstance(diff, list):  # modify_* changes come grouped per column
        return "; ".join(_describe(item) for item in diff)
    kind, *rest = diff
    if kind in ("add_table", "remove_table"):
        where = "models" if kind == "add_table" else "database"
        return f"table {rest[0].fullname} is only in the {where}"
    if kind in ("add_column", "remove_column"):
        schema, table, column = rest
        where = "models" if kind == "add_column" else "database"
        return f"table {_qualified(schema, table)}: column {column.name} is only in the {where}"
    if kind in ("add_index", "remove_index", "add_constraint", "remove_constraint", "add_fk", "remove_fk"):
        item = rest[0]
        what = {"index": "index", "constraint": "constraint", "fk": "foreign key"}[kind.split("_", 1)[1]]
        where = "models" if kind.startswith("add") else "database"
        columns = ", ".join(column.name for column in getattr(item, "columns", ()))
        return f"table {item.table.fullname}: {what} {item.name or ''} ({columns}) is only in the {where}"
    if kind.startswith("modify_"):
        schema, table, column, _info, database, models = rest
        where = _qualified(schema, table)
        return (
            f"table {where}: column {column} {kind[7:]} is {database} in the database, {models} in the models"
        )
    return f"{kind}: " + ", ".join(str(item) for item in rest)


def _qualified(schema: str | None, table: str) -> str:
    return f"{schema}.{table}" if schema else table


def _first_line(exc: BaseException) -> str:
    if isinstance(exc, sa.exc.DBAPIError) and exc.orig is not None:
        exc = exc.orig
    lines = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {lines[0]}" if lines else type(exc).__name__


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
