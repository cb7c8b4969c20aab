"""Database helpers for the benchmarks (all on the benchmark's own throwaway server)."""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa
from alembic import command
from alembic.config import Config

from seedkit.postgres import with_database

REFERENCE_MIGRATIONS = Path(__file__).resolve().parent.parent / "factories" / "migrations"


def admin(server_url: str) -> sa.Engine:
    return sa.create_engine(server_url, isolation_level="AUTOCOMMIT")


def create_database(server_url: str, name: str, template: str | None = None) -> str:
    engine = admin(server_url)
    with engine.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        clause = f' TEMPLATE "{template}"' if template else ""
        conn.execute(sa.text(f'CREATE DATABASE "{name}"{clause}'))
    engine.dispose()
    return with_database(server_url, name)


def drop_database(server_url: str, name: str) -> None:
    engine = admin(server_url)
    with engine.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    engine.dispose()


def migrated_template(server_url: str, name: str) -> str:
    """A database at the reference schema's head (Alembic), to clone per measurement."""
    url = create_database(server_url, name)
    cfg = Config()
    cfg.set_main_option("script_location", str(REFERENCE_MIGRATIONS))
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "head")
    engine.dispose()
    return name
