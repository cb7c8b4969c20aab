"""How the pytest plugin fills its databases: a profile's packs and volumes, into open stores.

The plugin builds one template database per profile (migrated and seeded, see
:func:`build_template`), clones it for every worker or test, and re-applies the profile's data
after each ``truncate`` reset (:func:`seedkit.seeding.runner.seed_stores`). A clone carries the PostgreSQL data only;
the worker's Mongo database is filled by :func:`seed_mongo_only`, which runs the same seeding
inside a PostgreSQL transaction that is rolled back.

Seeding is the profile runner's own (:mod:`seedkit.seeding.runner`), so the plugin's data is exactly
what ``seedkit seed --profile NAME`` writes.
"""

from __future__ import annotations

from typing import Any

from pymongo.database import Database
from sqlalchemy.engine import Connection, Engine

from seedkit.seeding import migrations
from seedkit.seeding import runner as profiles
from seedkit.seeding.config import Profile, Settings
from seedkit.seeding.templates import project_key, read_template_note, write_template_note
from seedkit.stores import postgres
from seedkit.stores.mongo_undo import live_collections
from seedkit.stores.truncate import truncate_tables


def build_template(settings: Settings, profile: Profile, url: str, mongo: Database[Any]) -> None:
    """Migrate the empty database at ``url`` and seed it (and ``mongo``) with ``profile``.

    The database's comment records how many Mongo documents the profile writes, so that
    workers that clone the template later can skip :func:`seed_mongo_only` when it is none.
    """
    engine = postgres.create_engine(url)
    try:
        migrations.migrate(engine, settings, profile)  # a database the plugin made has no schema yet
        profiles.ensure_mongo_indexes(mongo, settings)
        with engine.begin() as conn:
            profiles.seed_stores(settings, profile, conn, mongo)
            documents = sum(mongo[name].count_documents({}) for name in live_collections(mongo))
            note = {"mongo_documents": documents, "project": project_key(settings), "profile": profile.name}
            write_template_note(conn, postgres.database_name(url), note)
    finally:
        engine.dispose()


def template_mongo_documents(admin: Connection, template: str) -> int | None:
    """How many Mongo documents the template's profile wrote, if the plugin built it (else None)."""
    try:
        return int(read_template_note(admin, template)["mongo_documents"])
    except (ValueError, KeyError, TypeError):
        return None


def seed_mongo_only(
    settings: Settings, profile: Profile, engine: Engine, mongo: Database[Any], *, allow_unsafe: bool = False
) -> None:
    """Fill the empty ``mongo`` with ``profile``'s documents, leaving ``engine``'s database as it was.

    The seeding needs the PostgreSQL side (packs reference rows, factories create parents), so
    it runs in full inside a transaction that first empties the tables and is then rolled back.
    ``engine`` must be a test database (a clone of the template): the truncate is guarded.
    """
    profiles.ensure_mongo_indexes(mongo, settings)
    with engine.connect() as conn:
        transaction = conn.begin()
        try:
            truncate_tables(conn, allow_unsafe=allow_unsafe)
            profiles.seed_stores(settings, profile, conn, mongo)
        finally:
            transaction.rollback()
