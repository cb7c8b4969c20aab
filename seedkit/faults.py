"""Fault injection for the test suite: a named point in a command signals its own process.

``SEEDKIT_FAULT=<point>:<SIGNAL>`` (e.g. ``seed.reset:SIGKILL``) makes :func:`point` send
``SIGNAL`` to the current process when execution reaches ``<point>``; without the variable a
point does nothing (one dictionary lookup). ``tests/test_faults.py`` uses it to interrupt and
kill commands at known places and checks that both stores are as before or as after, never in
between. Named points are listed in :data:`POINTS`.
"""

from __future__ import annotations

import os
import signal

POINTS = (
    "cli.imports",  # the command's modules are being imported (seedkit.cli.application)
    "embedded.initdb",  # the embedded server's cluster made by initdb, not yet in place
    "seed.migrated",  # single process: Alembic ran inside the seeding's transaction
    "seed.reset",  # tables truncated, Mongo collections set aside
    "seed.volumes",  # between two volumes
    "seed.before-commit",  # everything written, PostgreSQL not yet committed
    "seed.committed",  # PostgreSQL committed, Mongo's backups not yet dropped
    "workers.stage",  # --workers: reset and packs committed (the undo is kept)
    "workers.prepared",  # a worker process: its partition prepared
    "workers.partition-ended",  # the coordinator: a partition's result arrived, others may still run
    "workers.before-commit",  # every partition prepared, none committed
    "reset.truncated",  # seedkit reset: tables truncated, Mongo set aside
    "restore.loaded",  # seedkit snapshot restore: PostgreSQL loaded, not committed
    "restore.committed",  # seedkit snapshot restore: PostgreSQL committed, Mongo's backups kept
)


def point(name: str) -> None:
    """Signal this process if ``SEEDKIT_FAULT`` names ``name`` (see the module docstring)."""
    wanted = os.environ.get("SEEDKIT_FAULT")
    if not wanted:
        return
    where, _, signame = wanted.partition(":")
    if where == name:
        os.kill(os.getpid(), signal.Signals[signame or "SIGKILL"])
