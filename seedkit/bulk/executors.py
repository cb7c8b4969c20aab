"""Where partitions run: a local pool of processes, or a Dask cluster (one machine or many).

Partitions are independent by construction (each has its own random stream, ID and sequence
ranges, and reads the database through an exported snapshot) and the result does not depend on
which process runs which one: the partition size comes from the profile, never from the number
of workers, as in TPC's ``dbgen -C N -S k``. An executor only has to run
``fn(job)`` for every job somewhere and hand the results back in job order. Rather than grow a
scheduler of our own, seedkit uses the standard library's :class:`ProcessPoolExecutor` on one
machine and Dask's distributed scheduler across machines (``pip install "seedkit[dask]"``).

What a Dask worker needs is checked before anything is written (:meth:`DaskExecutor.check`): the
same versions of seedkit and of the libraries that generate the data, the factory modules
importable, and the database reachable from the worker.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import logging
import multiprocessing
import os
import threading
import time
from collections.abc import Callable, Generator, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from contextlib import contextmanager
from typing import Any, Protocol

from seedkit.errors import ConfigError, SeedkitError

EXECUTORS = ("processes", "dask")
"""Names accepted by ``seedkit seed --executor``."""
VERSIONED = ("seedkit", "factory-boy", "faker", "sqlalchemy", "psycopg")
"""Distributions whose versions must be the same on every worker: they shape or write the data."""
MISSING_DASK = "--executor dask needs Dask's distributed scheduler: pip install 'seedkit[dask]'"


class PartitionExecutor(Protocol):
    """Runs partition jobs; yields each result as its job ends."""

    def map(self, fn: Callable[[Any], Any], jobs: Sequence[Any]) -> Generator[tuple[int, Any]]:
        """``fn(job)`` for every job; yields ``(index of the job, result)`` as each job ends, in
        any order. Raises the first failure; closing the iterator early ends the jobs as
        :meth:`stop` does."""
        ...

    def check(self, modules: Sequence[str], url: str, mongo_url: str | None = None) -> None: ...

    def stop(self) -> None:
        """After a failed ``map`` or an interrupt: cancel queued jobs and end running ones where
        the executor can (a remote Dask worker cannot be stopped: the coordinator's rollback
        waits for it). The executor takes no more jobs."""


class SerialExecutor:
    """Every job in this process, one after the other (``--workers 1``)."""

    def map(self, fn: Callable[[Any], Any], jobs: Sequence[Any]) -> Generator[tuple[int, Any]]:
        for index, job in enumerate(jobs):
            yield index, fn(job)

    def check(self, modules: Sequence[str], url: str, mongo_url: str | None = None) -> None:
        """Nothing to check: this process imported the factories already."""

    def stop(self) -> None:
        """Nothing runs elsewhere."""


class ProcessExecutor:
    """A local pool of ``workers`` processes (spawned: the parent holds connections and threads).

    The pool lives for one :meth:`map` call: between volumes, and at the run's commit, no worker
    process is alive (one outliving a killed coordinator would hold its pipes and connections).
    """

    def __init__(self, workers: int) -> None:
        self.workers = workers

    def map(self, fn: Callable[[Any], Any], jobs: Sequence[Any]) -> Generator[tuple[int, Any]]:
        pool = ProcessPoolExecutor(
            max_workers=self.workers,
            mp_context=multiprocessing.get_context("spawn"),
            initializer=exit_with_parent,
            initargs=(os.getpid(),),
        )
        try:
            futures = {pool.submit(fn, job): index for index, job in enumerate(jobs)}
            for future in as_completed(futures):
                yield futures[future], future.result()
        except BaseException:
            # A failure, an interrupt, or the caller closing the iterator: cancel the queued
            # partitions and wait for the running ones (a broken pool's processes are terminated).
            pool.shutdown(wait=True, cancel_futures=True)
            raise
        pool.shutdown(wait=True)

    def check(self, modules: Sequence[str], url: str, mongo_url: str | None = None) -> None:
        """Nothing to check: spawned processes start from this one's environment and ``sys.path``."""

    def stop(self) -> None:
        """Nothing left running: :meth:`map` ends its pool before it returns or raises."""


PARENT_POLL = 0.5
"""Seconds between a worker's checks that its coordinator is still alive."""


def exit_with_parent(parent: int) -> None:
    """Run in each worker process as it starts: end it as soon as process ``parent`` is gone.

    A coordinator killed with ``SIGKILL`` cannot shut its pool down, and spawned workers would
    run on under PID 1 (holding database connections and, through them, the
    ``resource_tracker``). A daemon thread polls ``os.getppid()`` every :data:`PARENT_POLL`
    seconds and ends the process (``os._exit``) once the parent differs: the orphan was
    re-parented. Polling works on every platform, unlike Linux's ``PR_SET_PDEATHSIG``; the
    partition's open transaction dies with the connection, and a prepared one is rolled back by
    the next seedkit command (see :mod:`seedkit.bulk.coordinator`).
    """

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(PARENT_POLL)
        os._exit(1)

    threading.Thread(target=watch, name="seedkit-exit-with-parent", daemon=True).start()


def probe_worker(modules: Sequence[str], url: str, mongo_url: str | None = None) -> dict[str, Any]:
    """What a worker has: library versions, which of ``modules`` fail to import, and whether ``url``
    (and ``mongo_url``, the Mongo server partitions write their documents to) answer.

    Runs on each Dask worker (``Client.run``); returns plain data, never raises.
    """
    import sqlalchemy as sa

    versions = {}
    for name in VERSIONED:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            versions[name] = "missing"
    missing = {}
    for module in modules:
        try:
            importlib.import_module(module)
        except Exception as exc:  # any import failure is the finding
            missing[module] = f"{type(exc).__name__}: {exc}"
    database = None
    try:
        engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
        try:
            with engine.connect() as conn:
                conn.exec_driver_sql("SELECT 1")
        finally:
            engine.dispose()
    except Exception as exc:
        database = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]
    mongo = None
    if mongo_url is not None:
        from seedkit.stores.mongo import connect

        try:
            connect(mongo_url, "admin").client.close()
        except Exception as exc:
            mongo = str(exc).strip().splitlines()[0]
    return {"versions": versions, "missing": missing, "database": database, "mongo": mongo}


class DaskExecutor:
    """Partitions as Dask tasks, gathered in order, on a scheduler at ``scheduler`` or a LocalCluster.

    Args:
        workers: worker processes of the LocalCluster started when no ``scheduler`` is given
            (one thread each: partitions are CPU-bound Python).
        scheduler: address of a running Dask scheduler (``tcp://host:8786``); its workers must
            have seedkit, the project's factory modules and a route to the database.

    Raises:
        ConfigError: Dask is not installed, or the scheduler cannot be reached.
    """

    def __init__(self, workers: int, scheduler: str | None = None) -> None:
        try:
            import dask
            from distributed import Client, LocalCluster
        except ImportError:
            raise ConfigError(MISSING_DASK) from None
        self.cluster: Any = None
        self.client: Any = None
        # The scheduler of a local cluster runs in this process: its logging would print a
        # worker's death as several lines; the command's own error line says it once.
        self._logger = logging.getLogger("distributed")
        self._level = self._logger.level
        self._logger.setLevel(logging.CRITICAL)
        try:
            if scheduler is None:
                # A failed task fails the run at once: a partition re-run elsewhere could meet its
                # own prepared transaction. The coordinator then rolls every partition back.
                with dask.config.set({"distributed.scheduler.allowed-failures": 0}):
                    self.cluster = LocalCluster(
                        n_workers=workers,
                        threads_per_worker=1,
                        processes=True,
                        dashboard_address=":0",  # a free port: clusters of parallel runs never clash on 8787
                        silence_logs=logging.CRITICAL,
                    )
                    self.client = Client(self.cluster)
            else:
                self.client = Client(scheduler, timeout="10s")
        except OSError as exc:
            self.close()
            raise ConfigError(f"cannot reach the Dask scheduler at {scheduler}: {exc}") from None
        self.scheduler = scheduler or "a local cluster"

    def check(self, modules: Sequence[str], url: str, mongo_url: str | None = None) -> None:
        """Refuse, in one line, a worker that lacks a module, runs other versions, or cannot reach
        ``url`` or, when given, the Mongo server at ``mongo_url`` (the workers write documents there)."""
        from seedkit.stores.urls import redact

        here = probe_worker([], "")["versions"]
        found = self.client.run(probe_worker, list(modules), url, mongo_url)
        if not found:
            raise SeedkitError(f"the Dask scheduler at {self.scheduler} has no workers")
        for address, report in sorted(found.items()):
            for module, problem in sorted(report["missing"].items()):
                raise SeedkitError(
                    f"Dask worker {address} cannot import factory module {module!r} ({problem}): "
                    "install the project on the workers; nothing was written"
                )
            differing = {k: v for k, v in report["versions"].items() if v != here.get(k)}
            if differing:
                name, version = sorted(differing.items())[0]
                raise SeedkitError(
                    f"Dask worker {address} has {name} {version}, this process {here.get(name)}: the data "
                    "would differ; install the same versions on the workers; nothing was written"
                )
            if report["database"] is not None:
                raise SeedkitError(
                    f"Dask worker {address} cannot reach {redact(url)}: {report['database']}; nothing was written"
                )
            if report.get("mongo") is not None:
                raise SeedkitError(f"Dask worker {address}: {report['mongo']}; nothing was written")

    def map(self, fn: Callable[[Any], Any], jobs: Sequence[Any]) -> Generator[tuple[int, Any]]:
        from distributed import as_completed as completed

        futures = self.client.map(fn, list(jobs), pure=False)
        self._futures = futures
        index = {future.key: i for i, future in enumerate(futures)}
        try:
            for future, result in completed(futures, with_results=True):
                yield index[future.key], result
        except Exception as exc:
            raise SeedkitError(
                f"a partition failed on the Dask cluster: {type(exc).__name__}: {exc}"
            ) from exc

    def stop(self) -> None:
        """Cancel the partitions not started; on a local cluster also end the running ones.

        Closing the LocalCluster ends its worker processes (a partition cut off mid-way never
        prepared, so the server rolls it back). On a cluster of your own, running tasks cannot be
        stopped from here: the coordinator's rollback waits for them (see
        :mod:`seedkit.bulk.coordinator`).
        """
        futures = getattr(self, "_futures", None)
        if futures:
            self.client.cancel(futures)
        if self.cluster is not None:
            self.close()

    def close(self) -> None:
        """Close the client and, when this executor started it, the LocalCluster and its workers."""
        client = getattr(self, "client", None)
        if client is not None:
            client.close()
            self.client = None
        if self.cluster is not None:
            self.cluster.close()
            self.cluster = None
        self._logger.setLevel(self._level)


@contextmanager
def open_executor(name: str, workers: int, *, scheduler: str | None = None) -> Iterator[PartitionExecutor]:
    """The executor called ``name`` (:data:`EXECUTORS`) with ``workers`` workers, closed after the block.

    Raises:
        ConfigError: an unknown name, fewer than one worker, a scheduler without ``dask``, or
            Dask missing.
    """
    if name not in EXECUTORS:
        raise ConfigError(f"unknown executor {name!r}; known: {', '.join(EXECUTORS)}")
    if workers < 1:
        raise ConfigError(f"workers must be at least 1, got {workers}")
    if scheduler is not None and name != "dask":
        raise ConfigError("--scheduler goes with --executor dask")
    executor: Any
    if name == "dask":
        executor = DaskExecutor(workers, scheduler)
    elif workers == 1:
        executor = SerialExecutor()
    else:
        executor = ProcessExecutor(workers)
    try:
        yield executor
    finally:  # every exit path, an interrupt or SIGTERM (see seedkit.cli) included
        if isinstance(executor, DaskExecutor):
            executor.close()
