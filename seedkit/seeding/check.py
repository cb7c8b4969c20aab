"""``seedkit fingerprint --check``: seed a profile twice into fresh scratch stores and name what differs.

The promise "same profile and seed, same fingerprint" holds only if every value comes from the
deterministic context. A value that escapes it (a column default seedkit does not recognise, a
factory reading ``datetime.now()`` or ``uuid.uuid4()`` itself) shows up as a difference between
two seedings. This module seeds the profile into two new PostgreSQL databases on the profile's
server (and two new Mongo databases: on the Mongo server when one is configured, else
in-memory mongomock), compares them column by column (:func:`postgres_column_digests`) and
field by field (:func:`mongo_field_digests`), and drops the scratch stores again.
"""

from __future__ import annotations

import dataclasses
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

from seedkit.seeding.config import Profile, Settings
from seedkit.seeding.runner import seed_profile
from seedkit.seeding.targets import Targets, open_targets, resolve_targets
from seedkit.stores.fingerprint import fingerprint, mongo_field_digests, postgres_column_digests
from seedkit.stores.mongo import connect as connect_mongo
from seedkit.stores.postgres import with_database
from seedkit.stores.postgres_admin import PostgresAdmin

SCRATCH_PREFIX = "seedkit_check_"


@dataclass(frozen=True)
class CheckReport:
    """The outcome of :func:`check_determinism`.

    ``differing`` names every ``pg:<table>.<column>`` and ``mongo:<collection>.<field>`` whose
    values differ between the two seedings (``<table>.*``: the same column values paired
    differently into rows; ``<collection>.*``: the indexes); empty when they agree.
    """

    profile: str
    fingerprints: tuple[str, str]
    differing: tuple[str, ...]

    @property
    def clean(self) -> bool:
        return not self.differing


def check_determinism(
    settings: Settings,
    profile: Profile | str,
    *,
    database_url: str | None = None,
    mongo_url: str | None = None,
    seed: int | None = None,
) -> CheckReport:
    """Seed ``profile`` twice into scratch stores and compare them (see the module docstring).

    The scratch databases (``seedkit_check_<pid>_1`` and ``_2``) are created on the server of
    the profile's target (the embedded one when no URL is set) and dropped afterwards, whatever
    happens; the target database itself is never touched. Raises what
    :func:`~seedkit.seeding.runner.seed_profile` raises for a profile that cannot be seeded.
    """
    chosen = settings.profile(profile) if isinstance(profile, str) else profile
    targets = resolve_targets(settings, chosen, database_url=database_url, mongo_url=mongo_url)
    server = with_database(targets.database_url, "postgres")
    names = [f"{SCRATCH_PREFIX}{os.getpid()}_{i}" for i in (1, 2)]
    results: list[tuple[str, dict[str, str]]] = []
    created: list[str] = []
    with (
        tempfile.TemporaryDirectory(prefix="seedkit-check-") as state,
        PostgresAdmin.connect(server) as admin,
    ):
        try:
            for name in names:
                if admin.exists(name):  # left by a check that was killed: a scratch database too
                    admin.drop(name)
                url = admin.create(name)
                created.append(name)
                scratch = dataclasses.replace(
                    targets,
                    database_url=url,
                    mongo_database=name if targets.mongo_url else targets.mongo_database,
                    state_dir=Path(state) / name,
                    embedded=False,
                )
                seed_profile(settings, chosen, scratch, seed=seed)
                results.append(_digests(scratch, settings.schemas))
        finally:
            for name in created:  # made by this check: dropped whatever the server's name or host
                admin.drop(name, allow_unsafe=True)
                if targets.mongo_url:
                    connect_mongo(targets.mongo_url, name).client.drop_database(name)
    (first, first_digests), (second, second_digests) = results
    differing = sorted(
        key
        for key in set(first_digests) | set(second_digests)
        if first_digests.get(key) != second_digests.get(key)
    )
    return CheckReport(chosen.name, (first, second), tuple(differing))


def _digests(targets: Targets, schemas: tuple[str, ...] | None) -> tuple[str, dict[str, str]]:
    with open_targets(targets) as (engine, db), engine.connect() as conn:
        digests = {f"pg:{key}": value for key, value in postgres_column_digests(conn, schemas).items()}
        digests.update({f"mongo:{key}": value for key, value in mongo_field_digests(db).items()})
        return fingerprint(conn, db, schemas).digest, digests


__all__ = ["SCRATCH_PREFIX", "CheckReport", "check_determinism"]
