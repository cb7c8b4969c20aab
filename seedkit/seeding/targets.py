"""Where a command writes: the PostgreSQL URL and the Mongo database, resolved once.

Precedence, first set wins: an explicit argument (``--database-url``/``--mongo-url``), the
profile, the environment (``SEEDKIT_DATABASE_URL``/``SEEDKIT_MONGO_URL``), the configuration
file; else the embedded PostgreSQL under the state directory, and mongomock kept in a file
there, so separate commands see the same data.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import unquote

from pymongo.database import Database
from sqlalchemy.engine import Engine

from seedkit.bulk.coordinator import recover
from seedkit.errors import ConfigError
from seedkit.seeding.config import BUILTIN_CONFIG, Profile, Settings
from seedkit.stores import mongo, postgres
from seedkit.stores.mongo_undo import recover as recover_mongo_run
from seedkit.stores.safety import check_destructive


@dataclass(frozen=True)
class Targets:
    """The resolved stores of one command."""

    database_url: str
    mongo_url: str | None
    mongo_database: str
    state_dir: Path
    embedded: bool

    @property
    def mongo_label(self) -> str:
        return self.mongo_url or f"mongomock (kept in {self.state_dir / 'mongomock'})"


def configured_database_url(
    settings: Settings, profile: Profile | None = None, explicit: str | None = None
) -> str | None:
    """The PostgreSQL URL by the precedence above (explicit, profile, environment/file), or None.

    None means no URL is configured anywhere: the caller uses an embedded server. The
    environment is folded into ``settings`` by :func:`seedkit.seeding.config.load_settings`.
    """
    return explicit or (profile.database_url if profile else None) or settings.database_url


def _database_url_source(settings: Settings, profile: Profile | None, explicit: str | None) -> str:
    """Where the database URL in use was set, as errors name it (the option, the file and key...)."""
    if explicit:
        return "--database-url"
    if profile is not None and profile.database_url:
        return f"{settings.source or BUILTIN_CONFIG}: profile {profile.name!r}: database_url"
    if os.environ.get("SEEDKIT_DATABASE_URL"):
        return "SEEDKIT_DATABASE_URL"
    return settings.where("database_url")


def configured_mongo_url(
    settings: Settings, profile: Profile | None = None, explicit: str | None = None
) -> str | None:
    """The MongoDB URL by the same precedence, or None for mongomock."""
    return explicit or (profile.mongo_url if profile else None) or settings.mongo_url


def resolve_targets(
    settings: Settings,
    profile: Profile | None = None,
    *,
    database_url: str | None = None,
    mongo_url: str | None = None,
) -> Targets:
    """Resolve the stores; starts the embedded PostgreSQL when no URL is given anywhere."""
    url = configured_database_url(settings, profile, database_url)
    embedded = url is None
    if url is None:
        url = postgres.embedded_url(settings.state_dir)
    try:
        normalized = postgres.normalize_url(url)
    except ConfigError as exc:
        raise ConfigError(f"{_database_url_source(settings, profile, database_url)}: {exc}") from None
    return Targets(
        database_url=normalized,
        mongo_url=configured_mongo_url(settings, profile, mongo_url),
        mongo_database=settings.mongo_database,
        state_dir=settings.state_dir,
        embedded=embedded,
    )


def mongo_guard_urls(mongo_url: str, database: str) -> list[str]:
    """``mongodb://<host>/<database>`` for each host of ``mongo_url``: what the guard judges, unconnected.

    Read from the URL's text (no DNS lookup, no server selection); a Unix socket path counts as
    ``localhost``.
    """
    rest = mongo_url.split("://", 1)[-1]
    hosts = rest.split("/", 1)[0].split("?", 1)[0].rpartition("@")[2]
    urls = []
    for host in filter(None, hosts.split(",")):
        host = unquote(host)
        urls.append(f"mongodb://{'localhost' if host.startswith('/') else host}/{database}")
    return urls or [f"mongodb://unknown-host/{database}"]


def guard_targets(targets: Targets, *, action: str, allow_unsafe: bool = False) -> None:
    """The production guard on both stores, judged from their URLs alone: before connecting to either.

    PostgreSQL's URL, and a Mongo server's (every host of it); mongomock is in-process and its
    collections are judged where they are emptied.

    Raises:
        UnsafeTargetError: naming the first target refused and why.
    """
    check_destructive(targets.database_url, action=action, allow_unsafe=allow_unsafe)
    if targets.mongo_url is not None:
        for url in mongo_guard_urls(targets.mongo_url, targets.mongo_database):
            check_destructive(url, action=action, allow_unsafe=allow_unsafe)


@contextmanager
def open_targets(targets: Targets) -> Iterator[tuple[Engine, Database[Any]]]:
    """An engine (connection checked) and the Mongo database; mongomock state is saved on success.

    Before yielding, :func:`seedkit.bulk.coordinator.recover` resolves what a killed parallel
    run left on this database: its orphaned prepared transactions and its undo snapshot.
    """
    engine = postgres.create_engine(targets.database_url)
    try:
        with mongo.open_database(targets.mongo_url, targets.mongo_database, targets.state_dir) as db:
            # What a killed run left (its Mongo record, prepared transactions, undo) is resolved first.
            recover_mongo_run(db, engine)
            recover(engine, db, targets.state_dir)
            yield engine, db
    finally:
        engine.dispose()
