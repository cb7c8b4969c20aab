"""All or nothing across processes: two-phase commit of partitions, an undo snapshot, orphan recovery.

PostgreSQL shows no transaction's rows to another transaction before it commits, so work done
on several connections (worker processes, or Dask workers) cannot be one transaction. The
:class:`Coordinator` makes it behave as one, in two layers:

- **Two-phase commit within a stage.** Each partition's transaction ends with
  ``PREPARE TRANSACTION '<gid>'`` (:func:`prepare_transaction`, run by the participant) instead
  of ``COMMIT``: its rows are on disk, locked and invisible, and survive the participant's
  process. The coordinator then commits every prepared transaction of the stage
  (``COMMIT PREPARED``) or rolls all of them back (``ROLLBACK PREPARED``). This is how parallel
  loaders make a multi-connection load safe (PostgreSQL's ``PREPARE TRANSACTION`` docs; the
  X/Open XA protocol). The server needs ``max_prepared_transactions`` of at least the number
  of partitions in flight (the embedded server is started with 64).
- **An undo snapshot across stages.** A stage must commit before the next stage's partitions
  can reference its rows (foreign keys are checked against committed rows), and a ``--reset``
  must commit before partitions can write into the emptied tables. So before its first write
  the coordinator saves a portable snapshot of both stores (:mod:`seedkit.snapshots`) under its
  journal directory; rolling back restores it. Deleting the journal entry is the commit point.

Participants: every participant holds the run's advisory lock (shared) while it works, and
starts only while the coordinator is *open* (it holds a second advisory lock, the run's "open"
key, until it begins to roll back). A rollback first closes the run and then takes the run's
lock exclusively, which waits until every participant has ended (prepared, failed or died):
nothing of the run is written after the rollback resolves the prepared transactions and
restores the undo, whichever executor ran the participants, even a Dask task that started late
or a partition still running on a remote worker.

Orphans: a coordinator killed with ``kill -9`` leaves prepared transactions (they hold their
locks until resolved) and a journal entry. Every coordinator holds a session-level advisory lock
named by its run id; :func:`recover` (called by every seedkit command that opens a target) finds
runs whose lock is free, rolls back their prepared transactions (global ids start with
:data:`GID_PREFIX`) and restores their undo snapshot. A participant that would start after its
coordinator died finds the run closed and writes nothing. Which executor runs the participants
does not matter: they only need the database URL, the gid, :func:`join_run` and
:func:`prepare_transaction`.
"""

from __future__ import annotations

import contextlib
import json
import os
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from pymongo.database import Database
from sqlalchemy.engine import Connection, Engine

from seedkit.errors import SeedkitError
from seedkit.stores.postgres_admin import advisory_key

GID_PREFIX = "seedkit_2pc_"
"""Global transaction ids of seedkit's prepared transactions: ``seedkit_2pc_<run>_<partition>``."""
JOURNAL_DIR = "runs"
"""Under the state directory: one ``<run>.json`` (and ``<run>.seedkit.zip``, the undo) per open run."""


class PreparedTransactionsUnavailable(SeedkitError):
    """The server does not allow enough prepared transactions for a parallel run."""


@dataclass
class Recovery:
    """What :func:`recover` did: runs rolled back and prepared transactions resolved."""

    runs: list[str] = field(default_factory=list)
    rolled_back: list[str] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.runs or self.rolled_back)


def prepare_transaction(conn: Connection, gid: str) -> None:
    """End ``conn``'s open transaction with ``PREPARE TRANSACTION gid`` (instead of COMMIT).

    Run by a participant (any process, any executor). Afterwards the connection has no
    transaction; the prepared one belongs to the server until the coordinator resolves it.
    """
    if not gid.startswith(GID_PREFIX):
        raise ValueError(f"{gid!r} is not a seedkit global transaction id")
    conn.exec_driver_sql(f"PREPARE TRANSACTION '{gid}'")
    # SQLAlchemy still believes a transaction is open; the server has none: forget it.
    transaction = conn.get_transaction()
    if transaction is not None:
        transaction.close()


class RunClosed(SeedkitError):
    """A participant would start after its run's coordinator began to roll back, or died."""


def join_run(conn: Connection, gid: str) -> None:
    """Hold the run's advisory lock (shared) for ``conn``'s session: the run is alive while it works.

    A participant calls it before its transaction begins; the lock goes when its connection
    closes, after :func:`prepare_transaction`. Recovery leaves a run alone while its
    coordinator or any participant still holds the lock, and a rollback waits for it.

    Raises:
        RunClosed: the coordinator no longer holds the run open (it is rolling back, or it died):
            the participant must write nothing. The lock is released again.
    """
    run = _run_of(gid)
    conn.execute(sa.text("SELECT pg_advisory_lock_shared(:k)"), {"k": advisory_key(run)})
    # The coordinator holds the open key exclusively: a shared try succeeds only once it is gone.
    closed = conn.execute(sa.text("SELECT pg_try_advisory_lock_shared(:k)"), {"k": _open_key(run)}).scalar()
    if closed:
        conn.execute(sa.text("SELECT pg_advisory_unlock_shared(:k)"), {"k": _open_key(run)})
        conn.execute(sa.text("SELECT pg_advisory_unlock_shared(:k)"), {"k": advisory_key(run)})
        conn.commit()
        raise RunClosed(f"run {run} is closed (its coordinator rolled back or died): {gid} not started")
    conn.commit()


def _open_key(run: str) -> int:
    return advisory_key(f"{run}:open")


def check_prepared_transactions(engine: Engine, needed: int) -> None:
    """Raise :class:`PreparedTransactionsUnavailable` unless ``needed`` prepared transactions fit."""
    with engine.connect() as conn:
        allowed = int(conn.exec_driver_sql("SHOW max_prepared_transactions").scalar_one())
    if allowed < needed:
        raise PreparedTransactionsUnavailable(
            f"parallel seeding prepares up to {needed} transactions at once but the server allows "
            f"max_prepared_transactions = {allowed}: set it to {max(needed, 16)} or more in "
            "postgresql.conf and restart the server (the embedded one: `seedkit db stop`, then "
            "`seedkit db start`), or seed without --workers"
        )


def _database_id(engine: Engine) -> str:
    url = engine.url
    return f"{url.host or 'localhost'}:{url.port or 5432}/{url.database}"


class Coordinator:
    """One all-or-nothing run on ``engine``'s database (and, optionally, a Mongo database).

    Use as a context manager; leaving it with an exception (or KeyboardInterrupt) rolls back,
    :meth:`commit` makes the run's work permanent. ``journal`` is a directory (the state
    directory's ``runs/``) where the undo snapshot and the run's record are kept.
    """

    def __init__(self, engine: Engine, journal: Path, *, mongo: Database[Any] | None = None) -> None:
        self.engine = engine
        self.mongo = mongo
        self.journal = journal
        self.run = uuid.uuid4().hex[:12]
        self.prepared: list[str] = []
        self._lock: Connection | None = None
        self._done = False

    # -- life cycle ------------------------------------------------------------------------
    def __enter__(self) -> Coordinator:
        self._lock = self.engine.connect()
        self._lock.execute(sa.text("SELECT pg_advisory_lock_shared(:k)"), {"k": advisory_key(self.run)})
        self._lock.execute(sa.text("SELECT pg_advisory_lock(:k)"), {"k": _open_key(self.run)})
        self._lock.commit()
        return self

    def _close_run(self) -> None:
        """No participant starts from now on, and every running one has ended when this returns.

        Releases the open key (participants that join later find the run closed), then takes the
        run's lock exclusively on the coordinator's own session, which PostgreSQL grants once no
        other session holds it shared: every participant has prepared, failed or died. A remote
        Dask worker still generating its partition is waited for (Ctrl-C stops the wait; the
        next command then finishes the rollback).
        """
        if self._lock is None:
            return
        self._lock.execute(sa.text("SELECT pg_advisory_unlock(:k)"), {"k": _open_key(self.run)})
        self._lock.execute(sa.text("SELECT pg_advisory_lock(:k)"), {"k": advisory_key(self.run)})
        self._lock.commit()

    def __exit__(self, kind: type[BaseException] | None, *exc: object) -> None:
        try:
            if kind is not None and not self._done:
                self.rollback()
        finally:
            if self._lock is not None:
                # Release the run's lock and its open key now: a closed socket ends the server's
                # session only a moment later, and a participant asking in that moment would
                # still find the run open. Then end the session (a pooled connection would keep
                # its advisory locks).
                with contextlib.suppress(sa.exc.DBAPIError):
                    self._lock.execute(sa.text("SELECT pg_advisory_unlock_all()"))
                self._lock.invalidate()
                self._lock.close()
                self._lock = None

    @property
    def record(self) -> Path:
        return self.journal / f"{self.run}.json"

    @property
    def undo_name(self) -> str:
        return f"undo-{self.run}"

    def keep_undo(self) -> None:
        """Record the run and save the undo snapshot of both stores; call before the first write."""
        from seedkit.snapshots.api import save

        self.journal.mkdir(parents=True, exist_ok=True)
        _write_json(self.record, {"run": self.run, "database": _database_id(self.engine), "pid": os.getpid()})
        save(self.undo_name, directory=self.journal, engine=self.engine, mongo=self.mongo, overwrite=True)

    # -- two-phase commit --------------------------------------------------------------------
    def gid(self, partition: int) -> str:
        """The global transaction id partition ``partition`` prepares under."""
        return f"{GID_PREFIX}{self.run}_{partition}"

    def prepared_by(self, gid: str) -> None:
        """Note that a participant prepared ``gid`` (so that it is resolved whatever happens)."""
        self.prepared.append(gid)

    def commit_stage(self) -> None:
        """``COMMIT PREPARED`` every partition prepared so far (the next stage can see their rows)."""
        with self.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            for gid in self.prepared:
                conn.exec_driver_sql(f"COMMIT PREPARED '{gid}'")
        self.prepared.clear()

    def commit(self) -> None:
        """Commit the run: the last stage's partitions, then drop the undo (the commit point)."""
        from seedkit.snapshots.archive import snapshot_path

        self.commit_stage()
        self.record.unlink(missing_ok=True)  # from here on, recovery has nothing to undo
        snapshot_path(self.journal, self.undo_name).unlink(missing_ok=True)
        self._done = True

    def rollback(self) -> None:
        """Wait until no participant runs, roll back every prepared partition of the run and put
        both stores back from the undo."""
        self._close_run()
        _resolve(self.engine, self.run)
        self.prepared.clear()
        _restore_undo(self.engine, self.mongo, self.journal, self.run)
        self._done = True


# -- recovery ----------------------------------------------------------------------------------
def _write_json(path: Path, data: dict[str, Any]) -> None:
    partial = path.with_name(path.name + ".partial")
    partial.write_text(json.dumps(data))
    with open(partial, "rb") as handle:
        os.fsync(handle.fileno())
    partial.replace(path)


def _resolve(engine: Engine, run: str | None) -> list[str]:
    """``ROLLBACK PREPARED`` the prepared transactions of ``run`` (or of every dead run)."""
    prefix = f"{GID_PREFIX}{run}_" if run else GID_PREFIX
    done = []
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        gids = conn.execute(
            sa.text(
                "SELECT gid FROM pg_prepared_xacts "
                "WHERE database = current_database() AND starts_with(gid, :p) ORDER BY gid"
            ),
            {"p": prefix},
        ).scalars()
        for gid in list(gids):
            if run is None and not _is_orphan(conn, _run_of(gid)):
                continue
            conn.exec_driver_sql(f"ROLLBACK PREPARED '{gid}'")
            done.append(gid)
    return done


def _run_of(gid: str) -> str:
    return gid[len(GID_PREFIX) :].split("_", 1)[0]


def _is_orphan(conn: Connection, run: str) -> bool:
    """True when no session holds ``run``'s advisory lock (its coordinator is gone)."""
    key = advisory_key(run)
    if not conn.execute(sa.text("SELECT pg_try_advisory_lock(:k)"), {"k": key}).scalar():
        return False
    conn.execute(sa.text("SELECT pg_advisory_unlock(:k)"), {"k": key})
    return True


def _restore_undo(engine: Engine, mongo: Database[Any] | None, journal: Path, run: str) -> None:
    from seedkit.snapshots.api import restore
    from seedkit.snapshots.archive import snapshot_path

    undo = snapshot_path(journal, f"undo-{run}")
    if undo.is_file():
        # Putting back what this very run found: the guard judged the target when the run began.
        restore(f"undo-{run}", directory=journal, engine=engine, mongo=mongo, allow_unsafe=True)
        if mongo is not None:
            _drop_collections_the_run_made(mongo, undo)
        undo.unlink()
    (journal / f"{run}.json").unlink(missing_ok=True)


def _drop_collections_the_run_made(mongo: Database[Any], undo: Path) -> None:
    """Drop the empty collections that were not there when the run began (its undo does not list them).

    A restore puts back the collections the undo snapshot holds; a collection the run created
    (with its indexes) before it failed is not among them and is left empty: dropping it is what
    makes Mongo exactly as before. A collection holding documents is never dropped here.
    """
    from seedkit.snapshots.archive import open_snapshot

    with open_snapshot(undo) as snapshot:
        part = snapshot.manifest.get("mongo") or {}
        before = {str(c["name"]) for c in part.get("collections", [])}
    drop_empty_collections_beyond(mongo, before)


def drop_empty_collections_beyond(mongo: Database[Any], before: set[str]) -> None:
    """Drop the collections not in ``before`` that hold no document (made, with their indexes,
    by a run that then failed); a collection holding documents is never dropped."""
    from seedkit.stores.mongo import user_collections

    for name in user_collections(mongo):
        if name not in before and mongo[name].estimated_document_count() == 0:
            mongo.drop_collection(name)


def recover(engine: Engine, mongo: Database[Any] | None, state_dir: Path) -> Recovery:
    """Resolve what killed runs left on ``engine``'s database: prepared transactions and undo.

    A run is dead when no session holds its advisory lock. Its prepared transactions are rolled
    back (they would otherwise hold their locks forever), then, if its journal under
    ``state_dir`` names this database, its undo snapshot is restored. Returns what was done.
    """
    found = Recovery()
    try:
        found.rolled_back = _resolve(engine, None)
    except sa.exc.DBAPIError:  # e.g. a role that may not read pg_prepared_xacts: nothing of ours
        return found
    journal = state_dir / JOURNAL_DIR
    if not journal.is_dir():
        return found
    here = _database_id(engine)
    for record in sorted(journal.glob("*.json")):
        try:
            data = json.loads(record.read_text())
        except (OSError, ValueError):
            continue
        if data.get("database") != here:
            continue
        run = str(data.get("run"))
        with engine.connect() as conn:
            orphan = _is_orphan(conn, run)
            conn.commit()
        if orphan:
            _restore_undo(engine, mongo, journal, run)
            found.runs.append(run)
    return found


__all__ = [
    "GID_PREFIX",
    "JOURNAL_DIR",
    "Coordinator",
    "PreparedTransactionsUnavailable",
    "Recovery",
    "RunClosed",
    "check_prepared_transactions",
    "join_run",
    "prepare_transaction",
    "recover",
]
