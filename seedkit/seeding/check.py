"""``seedkit fingerprint --check``: seed a profile twice into fresh scratch stores and name what differs.

The promise "same profile and seed, same fingerprint" holds only if every value comes from the
deterministic context. A value that escapes it (a column default seedkit does not recognise, a
factory reading ``datetime.now()`` or ``uuid.uuid4()`` itself) shows up as a difference between
two seedings. This module seeds the profile into two new PostgreSQL databases on the profile's
server (and two new Mongo databases: on the Mongo server when one is configured, else
in-memory mongomock), compares them column by column (:func:`postgres_column_digests`) and
field by field (:func:`mongo_field_digests`), and drops the scratch stores again.

Each copy is seeded, and its digests computed, in its own fresh Python process (the
``multiprocessing`` *spawn* context) started with its own ``PYTHONHASHSEED`` (:data:`HASH_SEEDS`).
Two seedings in one process share one string-hash salt, so a value that depends on it (the
iteration order of a ``set`` of strings, e.g. ``factory.fuzzy.FuzzyChoice({"a", "b"})``) would
agree between them and still differ from one ``seedkit seed`` run to the next. The digests are
computed in the child too, so an in-process store (mongomock) is read where it was written.
"""

from __future__ import annotations

import dataclasses
import multiprocessing
import os
import pickle
import tempfile
import traceback
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from multiprocessing.connection import Connection
from pathlib import Path

from seedkit.errors import SeedkitError
from seedkit.seeding.config import Profile, Settings
from seedkit.seeding.runner import seed_profile
from seedkit.seeding.targets import Targets, open_targets, resolve_targets
from seedkit.stores.fingerprint import fingerprint, mongo_field_digests, postgres_column_digests
from seedkit.stores.mongo import connect as connect_mongo
from seedkit.stores.postgres import with_database
from seedkit.stores.postgres_admin import PostgresAdmin

SCRATCH_PREFIX = "seedkit_check_"
HASH_SEEDS = ("1", "2")
"""``PYTHONHASHSEED`` of the process that seeds the first and the second copy."""


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
    happens; the target database itself is never touched. Each copy is seeded in a fresh Python
    process with its own ``PYTHONHASHSEED`` (:data:`HASH_SEEDS`). Raises what
    :func:`~seedkit.seeding.runner.seed_profile` raises for a profile that cannot be seeded (the
    child's exception, or a :class:`~seedkit.errors.SeedkitError` with its message when that
    exception cannot cross the process boundary).
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
            for name, hash_seed in zip(names, HASH_SEEDS, strict=True):
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
                results.append(_seed_in_fresh_process(settings, chosen, scratch, seed, hash_seed))
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


def _seed_in_fresh_process(
    settings: Settings, profile: Profile, targets: Targets, seed: int | None, hash_seed: str
) -> tuple[str, dict[str, str]]:
    """Seed ``targets`` and digest them in a spawned child whose ``PYTHONHASHSEED`` is ``hash_seed``.

    ``multiprocessing`` passes the parent's environment to the child, so the variable is set in
    ``os.environ`` while the child starts and put back right after.
    """
    context = multiprocessing.get_context("spawn")
    receiver, sender = context.Pipe(duplex=False)
    child = context.Process(
        target=_seed_and_digest, args=(sender, settings, profile, targets, seed), daemon=True
    )
    with _environment("PYTHONHASHSEED", hash_seed):  # read once, when the child starts
        child.start()
    sender.close()
    try:
        outcome, payload = receiver.recv()
    except EOFError:
        child.join()
        raise SeedkitError(
            "fingerprint --check: the process seeding a scratch copy ended without a result "
            f"(exit code {child.exitcode})"
        ) from None
    finally:
        receiver.close()
        if child.is_alive():  # it ends after sending; one interrupted or hung is stopped before the drop
            child.join(timeout=5)
            if child.is_alive():
                child.terminate()
                child.join()
    if outcome == "error":
        raise pickle.loads(payload)
    result: tuple[str, dict[str, str]] = payload
    return result


@contextmanager
def _environment(name: str, value: str) -> Iterator[None]:
    saved = os.environ.get(name)
    os.environ[name] = value
    try:
        yield
    finally:
        if saved is None:
            del os.environ[name]
        else:
            os.environ[name] = saved


def _seed_and_digest(
    sender: Connection, settings: Settings, profile: Profile, targets: Targets, seed: int | None
) -> None:
    """The child's work: seed, digest, send ``("ok", digests)`` or ``("error", pickled exception)``."""
    try:
        seed_profile(settings, profile, targets, seed=seed)
        sender.send(("ok", _digests(targets, settings.schemas)))
    except BaseException as error:  # every failure goes back to the parent
        if not isinstance(error, SeedkitError):  # a bug's traceback would be lost with the process
            error.add_note("in the process seeding the scratch copy:\n" + traceback.format_exc().rstrip())
        sender.send(("error", _portable(error)))
    finally:
        sender.close()


def _portable(error: BaseException) -> bytes:
    """``error`` pickled; when it does not round-trip, a :class:`SeedkitError` with its message
    and exit code (for a seedkit error) or a ``RuntimeError`` naming its type (for any other)."""
    try:
        payload = pickle.dumps(error)
        pickle.loads(payload)
    except Exception:  # an exception type that cannot be rebuilt from its pickle
        kind = type(error)
        substitute: Exception
        if isinstance(error, SeedkitError):
            substitute = SeedkitError(str(error) or kind.__name__)
            substitute.exit_code = error.exit_code
        else:
            substitute = RuntimeError(f"{kind.__module__}.{kind.__qualname__}: {error}")
        for note in getattr(error, "__notes__", ()):
            substitute.add_note(note)
        return pickle.dumps(substitute)
    return payload


def _digests(targets: Targets, schemas: tuple[str, ...] | None) -> tuple[str, dict[str, str]]:
    with open_targets(targets) as (engine, db), engine.connect() as conn:
        digests = {f"pg:{key}": value for key, value in postgres_column_digests(conn, schemas).items()}
        digests.update({f"mongo:{key}": value for key, value in mongo_field_digests(db).items()})
        return fingerprint(conn, db, schemas).digest, digests


__all__ = ["HASH_SEEDS", "SCRATCH_PREFIX", "CheckReport", "check_determinism"]
