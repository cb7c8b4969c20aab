"""Seeding a database from a profile: schema, optional reset, packs and volumes, all or nothing.

:func:`seed_profile` is what ``seedkit seed`` runs. Every check runs before the first write:

1. the profile, its packs (labels, references, factories: what ``seedkit packs validate``
   finds without a database) and its volumes' factories are resolved and imported;
2. with ``reset``, the production guard judges the URLs (before connecting, so a missing
   database is refused too); with ``migrate = false`` the schema must be at the migrations'
   head; without ``reset`` both stores must be empty;
3. the first write: a profile's ``migration_command`` runs (its own process, its own commits);
4. in ONE PostgreSQL transaction: the Alembic migration (``migrate = true``), with ``reset``
   every table emptied and every Mongo collection set aside, then, inside
   ``seedkit.deterministic(seed, clock_start, clock_step)``, the packs and the volumes; then
   commit.

On any error the PostgreSQL transaction is rolled back (the Alembic migration with it) and the
Mongo side is put back as it was (see :class:`seedkit.stores.mongo_undo.MongoRun`), then the
:class:`SeedkitError` is raised.

With ``workers`` (``seedkit seed --workers N``), step 4 is split: the migration commits first;
then a :class:`seedkit.bulk.coordinator.Coordinator` keeps an undo snapshot of both stores, the
reset and the packs commit in one transaction, and the volumes are created by
:func:`seedkit.bulk.seed_partitioned` in the same deterministic context (volumes larger than
``partition_size`` cut into partitions run on ``workers`` processes, each prepared, committed
together per volume). The data is the same for every number of workers, but differs from the
default path's (each partition has its own random stream). A failure or an interrupt rolls back
the prepared partitions and restores the undo; a killed run is undone by the next command
(see docs/safety.md).
"""

from __future__ import annotations

import difflib
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from typing import Any

import psycopg
import sqlalchemy as sa
from pymongo.database import Database
from sqlalchemy.engine import Connection, Engine

from seedkit import faults
from seedkit.bulk import DEFAULT_PARTITION_SIZE, BulkSeeder, VolumeSpec, seed_partitioned
from seedkit.bulk.coordinator import (
    JOURNAL_DIR,
    Coordinator,
    check_prepared_transactions,
    drop_empty_collections_beyond,
)
from seedkit.bulk.executors import PartitionExecutor, open_executor
from seedkit.bulk.partitions import PartitionProgress, check_key_ranges, plan_partitions
from seedkit.bulk.paths import PathDecision, decide_call, volume_entry
from seedkit.bulk.seeder import RootError
from seedkit.core.clock import parse_instant
from seedkit.core.determinism import Deterministic, deterministic
from seedkit.core.ids import DEFAULT_INT_STRIDE
from seedkit.errors import ConfigError, FactoryError, PackError, SeedkitError
from seedkit.factories.alchemy import SQLAlchemyFactory
from seedkit.factories.errors import UnknownAttributeError
from seedkit.factories.failures import describe_exception, explain, failed_declaration
from seedkit.factories.related import factories_making, factory_making
from seedkit.generate import GenerationPlan, TableVolume, generate, plan_tables, try_sample
from seedkit.packs import Pack, apply_packs, resolve_packs, validate_packs
from seedkit.seeding import migrations
from seedkit.seeding.config import BUILTIN_CONFIG, Profile, Settings, Volume, seed_number
from seedkit.seeding.imports import import_module, import_object
from seedkit.seeding.targets import Targets, guard_targets, open_targets, resolve_targets
from seedkit.stores import mongo
from seedkit.stores.baseline import tables_beyond_baseline
from seedkit.stores.fingerprint import Fingerprint, fingerprint
from seedkit.stores.mongo_state import check_mongo_destructive
from seedkit.stores.mongo_undo import MongoRun, live_collections
from seedkit.stores.safety import check_destructive
from seedkit.stores.schema import reflect_schema
from seedkit.stores.sequences import advance_sequences, sequences_kept
from seedkit.stores.truncate import truncate_tables
from seedkit.stores.urls import redact
from seedkit.stores.violations import Constraints, describe_violation, read_constraints, violated_table

Progress = Callable[[str, int, int], None]
"""Called as ``progress(task, done, total)`` while seeding (``task`` e.g. ``"CustomerFactory x 200"``)."""

PROGRESS_STEPS = 20
"""A volume reports progress about this many times (each step is one bulk write)."""
MIN_PROGRESS_STEP = 50


@dataclass(frozen=True)
class SeedReport:
    """What a seeding run did."""

    profile: str
    seed: int
    database_url: str
    """The PostgreSQL URL, password redacted."""
    mongo: str
    embedded: bool
    schema: str
    """What was done about the schema (``alembic upgrade head (0001)``, ``at head (0001)``...)."""
    reset: bool
    rows: dict[str, int] = field(default_factory=dict)
    documents: dict[str, int] = field(default_factory=dict)
    elapsed: float = 0.0
    fingerprint: str = ""
    factories: list[dict[str, Any]] = field(default_factory=list)
    """Per factory volume, in order: ``factory``, ``count``, the bulk ``path`` it took (``row`` or
    ``orm``) and ``why`` (a first-root fallback's reason too), its ``evaluation`` (``compiled``
    or ``resolver``) and ``evaluation_why`` (:func:`seedkit.bulk.paths.volume_entry`). With
    ``--workers`` the partitions decide in their own processes: the entries are the decision
    made before the run (:func:`seedkit.bulk.paths.decide_call`), without fallbacks."""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class _Plan:
    """A profile resolved into things that can run: packs and factory classes."""

    settings: Settings
    profile: Profile
    seed: int
    packs: list[Pack]
    factories: list[tuple[Volume, type[Any]]]
    factory_modules: tuple[str, ...]
    tables: list[TableVolume] = field(default_factory=list)
    """Table volumes (generated from the reflected schema), after the factory volumes."""


# -- resolving ---------------------------------------------------------------------------------
def resolve_factory(name: str, settings: Settings) -> type[Any]:
    """A factory class: ``"pkg.mod:Name"``, or ``Name`` looked up in the configured factory modules."""
    if ":" in name:
        found = import_object(name, settings)
    else:
        modules = [import_module(module_name, settings) for module_name in settings.factory_modules]
        found = next((getattr(m, name) for m in modules if hasattr(m, name)), None)
        if found is None:
            searched = ", ".join(settings.factory_modules) or "no modules (set factories = [...])"
            known = sorted(
                {
                    attribute
                    for module in modules
                    for attribute, value in vars(module).items()
                    if isinstance(value, type)
                    and hasattr(value, "create_batch")
                    and not attribute.startswith("_")
                }
            )
            hint = difflib.get_close_matches(name, known, n=1)
            did_you_mean = f" (did you mean {hint[0]!r}?)" if hint else ""
            raise ConfigError(
                f"factory {name!r} not found in {searched}{did_you_mean}; "
                f"write it as 'package.module:{name}' or list its module in factories"
            )
    if not (isinstance(found, type) and hasattr(found, "create_batch")):
        raise ConfigError(f"{name!r} is not a factory class (it has no create_batch)")
    return found


def _plan(settings: Settings, profile: Profile, seed: int | None) -> _Plan:
    try:
        packs = (
            resolve_packs(
                list(profile.packs), list(settings.pack_paths), configured_in=settings.where("packs")
            )
            if profile.packs
            else []
        )
    except PackError as exc:
        if exc.file is not None:
            raise
        where = settings.source or "the built-in configuration"
        raise ConfigError(f"{where}: profile {profile.name!r}, packs: {exc}") from None
    if seed is not None:
        try:
            seed_number(seed)
        except ValueError as exc:
            raise ConfigError(f"the seed given instead of the profile's (--seed): {exc}") from None
    factories = []
    source = settings.source or BUILTIN_CONFIG
    for index, volume in enumerate(profile.volumes):
        at = f"{source}: profile {profile.name!r}, volumes[{index}]"
        try:
            factory_class = resolve_factory(volume.factory, settings)
            _check_fields(factory_class, volume.fields)
        except ConfigError as exc:
            raise ConfigError(f"{at}: {exc}") from None
        factories.append((volume, factory_class))
    tables = [TableVolume(t.table, t.count, t.columns) for t in profile.tables]
    return _Plan(
        settings,
        profile,
        profile.seed if seed is None else seed,
        packs,
        factories,
        settings.factory_modules,
        tables,
    )


VOLUME_KEYS = ("factory", "count")


def _check_fields(factory_class: type[Any], fields: dict[str, Any]) -> None:
    """Refuse, before anything is written, a volume's field the factory would refuse when called.

    A field is known when it is a declaration or parameter of the factory (``orders`` and
    ``orders__items`` alike) or, for a SQLAlchemy factory, an attribute the model's constructor
    takes. A Mongo factory takes any field (a document's keys are free), so only a near miss of
    ``count`` or ``factory`` is refused there.

    Raises:
        ConfigError: naming the field, with a "did you mean".
    """
    meta: Any = factory_class._meta
    declared = set(meta.declarations) | set(meta.parameters) | set(getattr(meta, "rename", None) or {})
    sql = isinstance(factory_class, type) and issubclass(factory_class, SQLAlchemyFactory)
    for name in fields:
        base = name.split("__", 1)[0]
        if base in declared:
            continue
        near = difflib.get_close_matches(name, VOLUME_KEYS, n=1, cutoff=0.75)
        if near:
            raise ConfigError(f"unknown key {name!r} (did you mean {near[0]!r}?)")
        if sql:
            try:
                factory_class._check_attributes(meta.model, {base: None})
            except UnknownAttributeError as exc:
                raise ConfigError(str(exc)) from None


def _plan_generation(plan: _Plan, conn: Connection) -> GenerationPlan | None:
    """The table volumes' generation plan, tried on a sample (reads only); None without table volumes."""
    if not plan.tables:
        return None
    profile = plan.profile
    generation = plan_tables(
        conn, plan.tables, seed=plan.seed, locale=profile.locale, where=f"profile {profile.name!r}"
    )
    try_sample(conn, generation, parse_instant(profile.clock_start))
    return generation


# -- the schema --------------------------------------------------------------------------------
def prepare_schema(
    bind: Engine | Connection, db: Database[Any], settings: Settings, profile: Profile | None
) -> str:
    """Migrate when the profile says so (and create Mongo indexes), else check the schema is at head.

    ``bind``: an engine, or a connection whose transaction Alembic joins (a ``migration_command``
    runs in its own process and commits on its own).
    """
    if profile is None or profile.migrate:
        done = migrations.migrate(bind, settings, profile)
        ensure_mongo_indexes(db, settings)
        return done
    if not migrations.has_alembic(settings):
        return "not checked (no Alembic migrations configured)"
    if isinstance(bind, Connection):
        migrations.check_at_head(bind, settings)
    else:
        with bind.connect() as conn:
            migrations.check_at_head(conn, settings)
    return f"at head ({migrations.head_revision(settings)})"


def ensure_mongo_indexes(db: Database[Any], settings: Settings) -> bool:
    """Call the project's Mongo index hook (``mongo_indexes = "pkg.mod:function"``), if configured."""
    if not settings.mongo_indexes:
        return False
    import_object(settings.mongo_indexes, settings)(db)
    return True


# -- seeding -----------------------------------------------------------------------------------
def existing_data(
    conn: Connection, db: Database[Any], keep: Sequence[str] = (), schemas: Sequence[str] | None = None
) -> dict[str, list[str]]:
    """The tables and collections holding data: ``{"tables": [...], "collections": [...]}``.

    The rows the migrations wrote (the baseline, :mod:`seedkit.stores.baseline`) and the
    tables in ``keep`` do not count; ``schemas``: the schemas looked at (default: every
    application schema).
    """
    tables = tables_beyond_baseline(conn, reflect_schema(conn, schemas), keep)
    collections = [name for name in live_collections(db) if db[name].find_one({}, {"_id": 1}) is not None]
    return {"tables": tables, "collections": collections}


def seed_profile(
    settings: Settings,
    profile: Profile | str,
    targets: Targets | None = None,
    *,
    database_url: str | None = None,
    mongo_url: str | None = None,
    seed: int | None = None,
    reset: bool = False,
    allow_unsafe: bool = False,
    progress: Progress | None = None,
    workers: int | None = None,
    partition_size: int | None = None,
    executor: str = "processes",
    scheduler: str | None = None,
    on_commit: Callable[[], None] | None = None,
    partition_progress: Callable[[PartitionProgress], None] | None = None,
) -> SeedReport:
    """Seed the targets with ``profile`` (see the module docstring); returns a :class:`SeedReport`.

    Without ``targets``, they are resolved from ``database_url``/``mongo_url``, the profile and the
    settings (starting the embedded PostgreSQL if no URL is set anywhere), after the profile,
    its packs and factories have been checked. Without ``reset`` the database must be empty:
    seeding is only reproducible from empty, and adding to a seeded database would collide on
    its deterministic keys. ``workers``: seed the volumes in partitions of ``partition_size``
    roots (default :data:`seedkit.bulk.DEFAULT_PARTITION_SIZE`) on that many processes (see the
    module docstring); ``partition_size`` shapes the data, so keep it fixed. ``executor``
    (``processes`` or ``dask``, with ``scheduler`` an address of a running Dask scheduler) says
    where the partitions run (:mod:`seedkit.bulk.executors`); a Dask cluster's workers are checked
    (modules, versions, database) before anything is written. ``on_commit`` is called once the
    seeding is committed (what remains, e.g. the fingerprint, only reads): the CLI then tells an
    interrupt that the stores hold the result. ``partition_progress``: with ``workers``, called
    after each partition ends (partitions done of all, rows and documents written so far), in
    place of ``progress`` for the partitioned volumes; without it ``progress`` gets the
    partitions done of all.
    """
    if workers is not None and workers < 1:
        raise ConfigError(f"workers must be at least 1, got {workers}")
    partition_size = DEFAULT_PARTITION_SIZE if partition_size is None else partition_size
    if partition_size < 1:
        raise ConfigError(f"partition size must be at least 1, got {partition_size}")
    started = time.perf_counter()
    unsafe_ok = allow_unsafe or settings.allow_unsafe
    # Every check runs before the first write: the profile, its packs and factories (no database),
    chosen = settings.profile(profile) if isinstance(profile, str) else profile
    if targets is None and (database_url or chosen.database_url or settings.database_url):
        # a configured URL is checked now; nothing is started or opened
        targets = resolve_targets(settings, chosen, database_url=database_url, mongo_url=mongo_url)
    plan = _plan(settings, chosen, seed)
    _check_packs(plan)
    if workers is not None:  # keys of many partitions must fit their columns
        specs = [VolumeSpec(cls, volume.count, volume.fields) for volume, cls in plan.factories]
        try:
            check_key_ranges(specs, partition_size, DEFAULT_INT_STRIDE)
        except FactoryError as exc:
            raise FactoryError(f"profile {chosen.name!r}: {exc}") from None
    # ... the production guard on the URL (before connecting: a missing database is refused too),
    targets = targets or resolve_targets(settings, chosen, database_url=database_url, mongo_url=mongo_url)
    if reset:
        guard_targets(targets, action="reset", allow_unsafe=unsafe_ok)
    with open_targets(targets) as (engine, db):
        with _schema_changes_named(engine):
            # ... the schema check (migrate = false), the emptiness check, then the first write.
            checked = None if chosen.migrate else prepare_schema(engine, db, settings, chosen)
            if not reset:
                with engine.connect() as conn, conn.begin():
                    _refuse_existing_data(conn, db, targets, settings)
            generation = None
            if checked is not None:  # the schema is there already: table volumes are checked now too
                with engine.connect() as conn, conn.begin():
                    generation = _plan_generation(plan, conn)
            if workers is not None:
                stages = [plan_partitions(volume.count, partition_size) for volume, _ in plan.factories]
                check_prepared_transactions(engine, max((len(p) for p in stages if len(p) > 1), default=0))
            if workers is not None:
                with open_executor(executor, workers, scheduler=scheduler) as runner:
                    runner.check(
                        sorted({factory_class.__module__ for _, factory_class in plan.factories}),
                        engine.url.render_as_string(hide_password=False),
                        targets.mongo_url,
                    )
                    done = _run_partitioned(
                        plan,
                        engine,
                        db,
                        targets,
                        checked,
                        reset,
                        unsafe_ok,
                        workers,
                        partition_size,
                        progress,
                        generation,
                        runner,
                        partition_progress,
                    )
                if on_commit is not None:
                    on_commit()
                with engine.connect() as conn:
                    result = fingerprint(conn, db, settings.schemas)
                decisions = [decide_call(cls, dict(volume.fields)) for volume, cls in plan.factories]
                return _report(plan, targets, done, reset, result, time.perf_counter() - started, decisions)
            schema = checked or _migrate_outside(engine, db, settings, chosen)
            # setval/nextval outlive a ROLLBACK: a failed run puts every sequence back
            with sequences_kept(engine), engine.connect() as conn:
                mongo_run = MongoRun(db, conn, reset=reset)
                try:
                    with conn.begin():
                        mongo_run.follow(conn, reset=reset)
                        if schema is None:  # Alembic: in the seeding's transaction, undone with it
                            schema = prepare_schema(conn, db, settings, chosen)
                            faults.point("seed.migrated")
                        if reset:
                            _empty(conn, mongo_run, targets, unsafe_ok, settings)
                            faults.point("seed.reset")
                        decisions = _run(plan, conn, db, progress, generation)
                        faults.point("seed.before-commit")
                        mongo.checkpoint(db)  # a kill after the COMMIT below finds the run's documents
                except sa.exc.DBAPIError as exc:  # e.g. a deferred constraint checked at COMMIT
                    mongo_run.rollback()
                    raise SeedkitError(f"PostgreSQL refused the seeding: {_reason(exc)}") from exc
                except BaseException:
                    mongo_run.rollback()
                    raise
                if on_commit is not None:
                    on_commit()
                faults.point("seed.committed")
                mongo_run.commit()
                result = fingerprint(conn, db, settings.schemas)  # of what was committed
        return _report(plan, targets, schema, reset, result, time.perf_counter() - started, decisions)


_SCHEMA_STATE = sa.text(
    "SELECT n.nspname || '.' || c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
    "WHERE c.relkind IN ('r', 'p') AND n.nspname <> 'information_schema' AND n.nspname NOT LIKE 'pg\\_%' "
    "AND n.nspname NOT LIKE 'seedkit\\_%' AND c.relname NOT LIKE '\\_seedkit%' ORDER BY 1"
)


def _schema_state(engine: Engine) -> tuple[str | None, frozenset[str]]:
    """The Alembic revision and the application's tables, read on a connection of their own."""
    with engine.connect() as conn:
        return migrations.current_revision(conn), frozenset(conn.execute(_SCHEMA_STATE).scalars())


@contextmanager
def _schema_changes_named(engine: Engine) -> Iterator[None]:
    """A failed or interrupted seeding says when the schema did not roll back with the data.

    Alembic runs in the seeding's transaction only when the project's env.py uses the connection
    seedkit hands it; a ``migration_command``, ``--workers`` (the migration commits before the
    partitions start) and the stock ``alembic init`` env.py (which opens its own connection)
    commit the migrations by themselves. Rather than telling each case apart, the revision and
    the tables are compared before and after: when they differ, the error (or the interrupt's
    line, through ``seedkit_state``) says that the data is as it was but the migrations stayed.
    """
    before = _schema_state(engine)
    try:
        yield
    except BaseException as exc:
        if not isinstance(exc, SeedkitError | KeyboardInterrupt):
            raise
        try:
            after = _schema_state(engine)
        except Exception:  # the database went away: nothing more can be said
            after = before
        if after != before:
            kept = _schema_kept(before, after)
            if isinstance(exc, KeyboardInterrupt):
                exc.seedkit_state = kept  # type: ignore[attr-defined]
            else:
                message = str(exc).replace(
                    "both stores are as they were", "the data in both stores is as it was"
                )
                exc.args = (f"{message}; {kept}",)
        raise


def _schema_kept(before: tuple[str | None, frozenset[str]], after: tuple[str | None, frozenset[str]]) -> str:
    """One clause naming what of the schema stayed committed after a failed seeding."""
    (old, old_tables), (new, new_tables) = before, after
    parts = []
    if old != new:
        parts.append(f"alembic_version {old or 'none'} -> {new or 'none'}")
    if new_tables != old_tables:
        parts.append(
            f"{len(new_tables - old_tables)} table(s) created, {len(old_tables - new_tables)} dropped"
        )
    return (
        f"but the migrations stayed committed ({', '.join(parts)}): they ran outside the seeding's "
        "transaction (a migration_command, --workers, or an env.py that opens its own connection; "
        "see docs/safety.md)"
    )


def _check_packs(plan: _Plan) -> None:
    """The packs' own problems (labels, references, factories), found without a database."""
    if not plan.packs:
        return
    problems = validate_packs(plan.packs, schema=None, factory_modules=plan.factory_modules)
    if problems:
        more = (
            f" (and {len(problems) - 1} more problem(s): run `seedkit packs validate`)"
            if len(problems) > 1
            else ""
        )
        first = problems[0]
        raise type(first)(
            first.reason + more, file=first.file, record=first.record, field=first.field, line=first.line
        )


def _migrate_outside(engine: Engine, db: Database[Any], settings: Settings, profile: Profile) -> str | None:
    """Run a ``migration_command`` (its own process, its own commits); None when Alembic runs inside."""
    if profile.migrate and profile.migration_command:
        return prepare_schema(engine, db, settings, profile)
    return None


def _run_partitioned(
    plan: _Plan,
    engine: Engine,
    db: Database[Any],
    targets: Targets,
    checked: str | None,
    reset: bool,
    allow_unsafe: bool,
    workers: int,
    partition_size: int,
    progress: Progress | None,
    generation: GenerationPlan | None = None,
    executor: PartitionExecutor | None = None,
    partition_progress: Callable[[PartitionProgress], None] | None = None,
) -> str:
    """The schema first (committed), then one all-or-nothing run: reset, packs, partitioned volumes.

    The run is a :class:`~seedkit.bulk.coordinator.Coordinator`: an undo snapshot of both stores
    is kept before its first write, each volume's partitions are prepared and committed together,
    and any failure or interrupt rolls the prepared partitions back and restores the undo.
    """
    collections = set(mongo.user_collections(db))
    try:
        profile = plan.profile
        schema = checked or _migrate_outside(engine, db, plan.settings, profile)
        if schema is None:  # the undo snapshot is of the migrated schema: the migration commits first
            with engine.connect() as conn, conn.begin():
                schema = prepare_schema(conn, db, plan.settings, profile)
        with (
            sequences_kept(engine),  # setval/nextval outlive a ROLLBACK: a failed run puts them back
            Coordinator(engine, targets.state_dir / JOURNAL_DIR, mongo=db) as run,
            deterministic(
                plan.seed, start=profile.clock_start, step=profile.clock_step, freeze=True
            ) as context,
        ):
            run.keep_undo()
            with engine.connect() as conn:
                mongo_run = MongoRun(db, conn, reset=reset)
                try:
                    with conn.begin():
                        mongo_run.follow(conn, reset=reset)
                        if reset:
                            _empty(conn, mongo_run, targets, allow_unsafe, plan.settings)
                        if plan.packs:
                            _apply_packs(plan, conn, db, context, progress)
                        mongo.checkpoint(db)
                except sa.exc.DBAPIError as exc:
                    mongo_run.rollback()
                    raise SeedkitError(f"PostgreSQL refused the seeding: {_reason(exc)}") from exc
                except BaseException:
                    mongo_run.rollback()
                    raise
                mongo_run.commit()
            faults.point("workers.stage")
            if plan.factories:
                _seed_factory_partitions(
                    plan, engine, db, targets, context, workers, partition_size, progress, run, executor,
                    partition_progress,
                )  # fmt: skip
            if plan.tables:
                with engine.connect() as conn:
                    try:
                        with conn.begin():
                            generation = generation or _plan_generation(plan, conn)
                            assert generation is not None
                            _generate_tables(
                                plan, conn, generation, context, progress, workers, partition_size
                            )
                    except SeedkitError as exc:
                        run.rollback()
                        raise SeedkitError(f"{exc}; nothing was kept: both stores are as they were") from exc
            faults.point("workers.before-commit")
            mongo.checkpoint(db)
            run.commit()
        if plan.factories or plan.tables:
            with engine.begin() as conn:
                advance_sequences(conn, reflect_schema(conn, plan.settings.schemas))  # the app's inserts work
        return schema
    except BaseException:
        # the schema step made Mongo collections (indexes) before the run's undo was taken
        drop_empty_collections_beyond(db, collections)
        mongo.checkpoint(db)  # a mongomock file was written at the run's checkpoints: write it as it is now
        raise


def _seed_factory_partitions(
    plan: _Plan,
    engine: Engine,
    db: Database[Any],
    targets: Targets,
    context: Deterministic,
    workers: int,
    partition_size: int,
    progress: Progress | None,
    run: Coordinator,
    executor: PartitionExecutor | None = None,
    partition_progress: Callable[[PartitionProgress], None] | None = None,
) -> None:
    """The factory volumes in partitions on ``workers`` processes (see :func:`seedkit.bulk.seed_partitioned`).

    Each partition is prepared under ``run``; a failure rolls the whole run back. With a Mongo
    server the partitions write their documents themselves.
    """
    profile = plan.profile
    volumes = [
        VolumeSpec(factory_class, volume.count, volume.fields) for volume, factory_class in plan.factories
    ]
    task = f"volumes ({workers} worker{'s' if workers > 1 else ''}, partitions of {partition_size})"
    with engine.connect() as conn:  # the schema is committed: read before the partitions write
        constraints = read_constraints(conn)
    report = partition_progress
    if report is None and progress is not None:
        total = sum(
            len(plan_partitions(v.count, partition_size)) for v in volumes if v.count > partition_size
        )
        progress(task, 0, total)

        def report(state: PartitionProgress) -> None:
            assert progress is not None
            progress(task, state.done, state.total)

    try:
        seed_partitioned(
            engine.url.render_as_string(hide_password=False),
            volumes,
            workers=workers,
            partition_size=partition_size,
            mongo=db,
            mongo_url=targets.mongo_url,
            context=context,
            coordinator=run,
            executor=executor or "processes",
            progress=report,
        )
    except Exception as exc:
        run.rollback()
        raise SeedkitError(
            f"profile {profile.name!r}: seeding the volumes with {workers} worker(s) failed: "
            f"{_reason(exc, constraints, [factory for _, factory in plan.factories], plan.factory_modules)}; "
            "nothing was kept: both stores are as they were"
        ) from exc


def _empty(
    conn: Connection, mongo_run: MongoRun, targets: Targets, allow_unsafe: bool, settings: Settings
) -> list[str]:
    """Truncate every table and set every Mongo collection aside (guarded; undone by a rollback)."""
    check_destructive(targets.database_url, action="reset", allow_unsafe=allow_unsafe)
    if targets.mongo_url is not None:
        check_mongo_destructive(mongo_run.db, action="reset", allow_unsafe=allow_unsafe)
    tables = truncate_tables(
        conn, allow_unsafe=allow_unsafe, keep=settings.keep_tables, schema=settings.schemas
    )
    mongo_run.clear()
    return [*tables, *mongo_run.set_aside]


def _refuse_existing_data(conn: Connection, db: Database[Any], targets: Targets, settings: Settings) -> None:
    found = existing_data(conn, db, settings.keep_tables, settings.schemas)
    if not any(found.values()):
        return
    shown = "; ".join(f"{kind} {_some(names)}" for kind, names in found.items() if names)
    raise SeedkitError(
        f"{redact(targets.database_url)} already holds data ({shown}); seeding starts from an empty "
        "database: pass --reset to replace the data (or run `seedkit reset` first)"
    )


def _some(names: list[str], limit: int = 4) -> str:
    return ", ".join(names[:limit]) + (f" and {len(names) - limit} more" if len(names) > limit else "")


def seed_stores(
    settings: Settings,
    profile: Profile,
    conn: Connection,
    mongo: Database[Any],
    *,
    seed: int | None = None,
    progress: Progress | None = None,
) -> None:
    """Apply ``profile``'s packs and volumes to stores that are already open.

    Runs inside ``conn``'s transaction (the caller commits or rolls back) and writes to
    ``mongo``; no migration, no emptiness check, no Mongo undo — :func:`seed_profile` adds those.
    """
    _run(_plan(settings, profile, seed), conn, mongo, progress)


def _run(
    plan: _Plan,
    conn: Connection,
    db: Database[Any],
    progress: Progress | None,
    generation: GenerationPlan | None = None,
) -> list[PathDecision]:
    """Packs, factory volumes (the bulk seeder), table volumes; the path each factory volume took."""
    profile = plan.profile
    decisions: list[PathDecision] = []
    with deterministic(plan.seed, start=profile.clock_start, step=profile.clock_step, freeze=True) as context:
        if plan.packs:
            _apply_packs(plan, conn, db, context, progress)
        # Read while the transaction can: a CHECK violation is worded with its columns from it.
        constraints = read_constraints(conn) if plan.factories or plan.tables else {}
        if plan.factories:
            # The bulk path: the factories' own rows, written by COPY chunk by chunk (flat memory).
            with BulkSeeder(conn, mongo=db) as seeder:
                for index, (volume, factory_class) in enumerate(plan.factories):
                    if index:
                        faults.point("seed.volumes")
                    decision = _create_volume(
                        profile,
                        index,
                        volume,
                        factory_class,
                        seeder,
                        progress,
                        constraints,
                        plan.factory_modules,
                    )
                    decisions.append(decision)
        if plan.tables:
            # Planned here when the schema was made in this transaction (Alembic runs inside it).
            generation = generation or _plan_generation(plan, conn)
            assert generation is not None
            _generate_tables(plan, conn, generation, context, progress, constraints=constraints)
        if plan.factories or plan.tables:
            # past the keys the volumes wrote: the application's inserts work
            advance_sequences(conn, reflect_schema(conn, plan.settings.schemas))
    return decisions


def _generate_tables(
    plan: _Plan,
    conn: Connection,
    generation: GenerationPlan,
    context: Deterministic,
    progress: Progress | None,
    workers: int = 1,
    partition_size: int = DEFAULT_PARTITION_SIZE,
    constraints: Constraints | None = None,
) -> None:
    """The table volumes, generated by the row engine into ``conn``'s transaction."""
    where = f"profile {plan.profile.name!r}, table volumes"
    try:
        generate(
            conn,
            generation,
            base=context.clock.start,
            workers=workers,
            partition_size=partition_size,
            progress=progress,
            check_sample=False,
        )
    except ConfigError as exc:
        raise ConfigError(f"{where}: {exc}") from exc
    except (sa.exc.SQLAlchemyError, psycopg.Error) as exc:
        raise SeedkitError(f"{where}: PostgreSQL refused the rows: {_reason(exc, constraints)}") from exc


def _apply_packs(
    plan: _Plan, conn: Connection, db: Database[Any], context: Deterministic, progress: Progress | None
) -> None:
    task = "packs " + ", ".join(p.name for p in plan.packs)
    if progress:
        progress(task, 0, 1)
    try:
        apply_packs(
            plan.packs,
            connection=conn,
            mongo=db,
            context=context,
            factory_modules=plan.factory_modules,
            schema=plan.settings.schemas,
        )
    except sa.exc.SQLAlchemyError as exc:
        raise SeedkitError(f"profile {plan.profile.name!r}: {task}: {_reason(exc)}") from exc
    if progress:
        progress(task, 1, 1)


def _create_volume(
    profile: Profile,
    index: int,
    volume: Volume,
    factory_class: type[Any],
    seeder: BulkSeeder,
    progress: Progress | None,
    constraints: Constraints | None = None,
    factory_modules: Sequence[str] = (),
) -> PathDecision:
    """Create one factory volume in steps (for progress); the path it took: the first step that
    left the row path (with its reason), else the last step's."""
    task = f"{factory_class.__name__} x {volume.count}"
    where = f"profile {profile.name!r}, volumes[{index}] ({task})"
    step = min(seeder.chunk_size, max(MIN_PROGRESS_STEP, volume.count // PROGRESS_STEPS))
    done = 0
    decision: PathDecision | None = None
    if progress:
        progress(task, 0, volume.count)
    try:
        while done < volume.count:
            size = min(step, volume.count - done)
            made = seeder.create(factory_class, size, **volume.fields)
            if decision is None or decision.row_path:
                decision = made
            done += size
            if progress:
                progress(task, done, volume.count)
        seeder.wait()  # this volume's rows are in: a database error is this volume's
    except RootError as exc:  # numbered within the create call: number it within the volume
        raise FactoryError(f"{where}: {exc.located(done)}") from exc
    except FactoryError as exc:
        raise FactoryError(f"{where}: {exc}") from exc
    except SeedkitError:
        raise
    except (TypeError, ValueError, LookupError, sa.exc.SQLAlchemyError, psycopg.Error) as exc:
        raise FactoryError(f"{where}: {_reason(exc, constraints, [factory_class], factory_modules)}") from exc
    return decision or decide_call(factory_class, dict(volume.fields))


def _reason(
    exc: BaseException,
    constraints: Constraints | None = None,
    factories: Sequence[type[Any]] = (),
    factory_modules: Sequence[str] = (),
) -> str:
    """One line for ``exc``: a constraint violation as :func:`describe_violation` words it (with
    the factory among ``factories`` and their related ones that makes the table's rows), else the
    first line of the database's message, or the declaration that raised and the exception's
    (see :func:`~seedkit.factories.failures.explain`), or the exception's."""
    violation = describe_violation(exc, constraints)
    if violation is not None:
        table = violated_table(exc)
        makers = [
            made.__name__ for root in factories if table and (made := factory_making(root, table=table))
        ]
        if table and not makers and factories:  # made in a hook: any factory of the table's model
            modules = {sys.modules.get(root.__module__) for root in factories} | {
                sys.modules.get(name) for name in factory_modules
            }
            makers = [" or ".join(factories_making(table, [m for m in modules if m is not None])[:3])]
        return f"{violation} (rows made by {makers[0]})" if makers and makers[0] else violation
    if isinstance(exc, sa.exc.DBAPIError) and exc.orig is not None:
        return str(exc.orig).strip().splitlines()[0]
    if failed_declaration(exc) is not None:  # a declaration's own error: name it
        return explain(exc)
    text = str(exc).strip().splitlines()
    return text[0] if text else describe_exception(exc)


def _report(
    plan: _Plan,
    targets: Targets,
    schema: str,
    was_reset: bool,
    result: Fingerprint,
    elapsed: float,
    decisions: Sequence[PathDecision] = (),
) -> SeedReport:
    rows = {key[3:]: part.count for key, part in result.parts.items() if key.startswith("pg:")}
    documents = {key[6:]: part.count for key, part in result.parts.items() if key.startswith("mongo:")}
    return SeedReport(
        profile=plan.profile.name,
        seed=plan.seed,
        database_url=redact(targets.database_url),
        mongo=targets.mongo_label,
        embedded=targets.embedded,
        schema=schema,
        reset=was_reset,
        rows=rows,
        documents=documents,
        elapsed=round(elapsed, 3),
        fingerprint=result.digest,
        factories=[
            {
                "factory": volume.factory,
                "count": volume.count,
                **volume_entry(factory_class, dict(volume.fields), decision),
            }
            for (volume, factory_class), decision in zip(plan.factories, decisions, strict=True)
        ],
    )


def reset_targets(settings: Settings, targets: Targets, *, allow_unsafe: bool = False) -> list[str]:
    """Empty every table (but the Alembic version) and every Mongo collection (keeping indexes).

    Guarded by :func:`seedkit.stores.safety.check_destructive`; returns the tables and collections emptied.
    """
    unsafe_ok = allow_unsafe or settings.allow_unsafe
    guard_targets(targets, action="reset", allow_unsafe=unsafe_ok)
    with open_targets(targets) as (engine, db), sequences_kept(engine), engine.connect() as conn:
        mongo_run = MongoRun(db, conn, reset=True)
        try:
            with conn.begin():
                mongo_run.follow(conn, reset=True)
                emptied = _empty(conn, mongo_run, targets, unsafe_ok, settings)
                faults.point("reset.truncated")
                mongo.checkpoint(db)
        except BaseException:
            mongo_run.rollback()
            raise
        mongo_run.commit()
    return emptied


__all__ = [
    "Progress",
    "SeedReport",
    "ensure_mongo_indexes",
    "existing_data",
    "prepare_schema",
    "reset_targets",
    "resolve_factory",
    "seed_profile",
    "seed_stores",
]
