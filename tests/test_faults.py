"""Fault injection: SIGINT and SIGKILL at named points of `seed` (single and --workers 2),
`reset` and `snapshot restore`. After each fault (and the recovery the next command runs),
the fingerprint of both stores equals the one before the command, or, for a fault after the
command's commit, the one after: never something in between.

Each test injects a planned list of faults, prints how many, and asserts that every planned
fault was injected (the command died at the point, by that signal). The points are
`seedkit.faults.POINTS`; `SEEDKIT_FAULT=<point>:<SIGNAL>` arms one.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import sqlalchemy as sa
from test_cli import PARTITIONED_CONFIG, REPO

from seedkit.faults import POINTS
from seedkit.seeding.config import load_settings
from seedkit.seeding.runner import seed_profile
from seedkit.seeding.targets import Targets, open_targets
from seedkit.snapshots.api import save
from seedkit.stores.fingerprint import fingerprint
from seedkit.stores.safety import ENVIRONMENT_VARIABLES

Fault = tuple[str, str, str]  # point, signal, what the stores must equal afterwards: "before" or "after"


def run(cwd: Path, *args: str, fault: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {
        k: v for k, v in os.environ.items() if not k.startswith("SEEDKIT_") and k not in ENVIRONMENT_VARIABLES
    }
    if fault:
        env["SEEDKIT_FAULT"] = fault
    return subprocess.run(
        [sys.executable, "-m", "seedkit.cli", *args],
        cwd=cwd, env=env, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip


def targets(url: str, cwd: Path) -> Targets:
    return Targets(url, None, "seedkit", cwd / ".seedkit", embedded=False)


def digest(url: str, cwd: Path) -> str:
    """Both stores' fingerprint, read as the next command reads them (after its recovery)."""
    with open_targets(targets(url, cwd)) as (engine, db), engine.connect() as conn:
        left = conn.execute(
            sa.text("SELECT count(*) FROM pg_prepared_xacts WHERE database = current_database()")
        ).scalar_one()
        assert left == 0, "a prepared transaction survived the recovery"
        return fingerprint(conn, db).digest


def inject(cwd: Path, url: str, command: list[str], faults: list[Fault], before: str, after: str) -> int:
    """Run ``command`` once per fault; check the stores; return how many faults were injected."""
    injected = 0
    for point, signal, expected in faults:
        assert point in POINTS
        result = run(cwd, *command, fault=f"{point}:{signal}")
        if signal == "SIGKILL":
            # the coordinator killed, or (workers.prepared) a worker: then the coordinator reports it
            assert result.returncode in (-9, 2), (point, result.returncode, result.stderr)
            if point != "workers.prepared":
                assert result.returncode == -9, (point, result.stderr)
        else:
            assert result.returncode == 130, (point, result.returncode, result.stderr)
            lines = result.stderr.strip().splitlines()
            assert lines[-1].startswith("error: interrupted; "), result.stderr
            assert "Traceback" not in result.stderr, result.stderr
            if expected == "before":
                assert lines[-1].endswith("both stores are as they were"), result.stderr
        injected += 1
        found = digest(url, cwd)
        assert found == (before if expected == "before" else after), (point, signal, expected)
    return injected


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "seedkit.toml").write_text(
        PARTITIONED_CONFIG.format(factories=(REPO / "factories").as_posix())
    )
    return tmp_path


def seeded(project: Path, url: str, *, seed: int | None = None, reset: bool = False) -> str:
    """Seed in-process (the set-up costs no command start) and return the fingerprint."""
    settings = load_settings(project / "seedkit.toml")
    return seed_profile(settings, "small", targets(url, project), seed=seed, reset=reset).fingerprint


SEED_FAULTS: list[Fault] = [
    ("seed.reset", "SIGINT", "before"),
    ("seed.reset", "SIGKILL", "before"),
    ("seed.volumes", "SIGKILL", "before"),
    ("seed.before-commit", "SIGINT", "before"),
    ("seed.committed", "SIGKILL", "after"),
]


def test_faults_in_seed(project: Path, empty_db_url: str) -> None:
    after = seeded(project, empty_db_url, seed=5)
    before = seeded(project, empty_db_url, reset=True)
    command = ["seed", "--profile", "small", "--database-url", empty_db_url, "--reset", "--seed", "5"]
    injected = inject(project, empty_db_url, command, SEED_FAULTS, before, after)
    print(f"faults injected into seed: {injected}")
    assert injected == len(SEED_FAULTS) == 5


WORKER_FAULTS: list[Fault] = [
    ("workers.stage", "SIGKILL", "before"),
    ("workers.prepared", "SIGKILL", "before"),
    ("workers.before-commit", "SIGKILL", "before"),
    ("workers.before-commit", "SIGINT", "before"),
]


def test_faults_in_seed_with_two_workers(project: Path, empty_db_url: str) -> None:
    before = seeded(project, empty_db_url)
    command = [
        "seed", "--profile", "small", "--database-url", empty_db_url, "--reset", "--seed", "5",
        "--workers", "2", "--partition-size", "100",
    ]  # fmt: skip
    injected = inject(project, empty_db_url, command, WORKER_FAULTS, before, "")
    print(f"faults injected into seed --workers 2: {injected}")
    assert injected == len(WORKER_FAULTS) == 4


RESET_AND_RESTORE_FAULTS: list[Fault] = [
    ("reset.truncated", "SIGINT", "before"),
    ("reset.truncated", "SIGKILL", "before"),
    ("restore.loaded", "SIGINT", "before"),
    ("restore.loaded", "SIGKILL", "before"),
    ("restore.committed", "SIGKILL", "after"),
]


def test_faults_in_reset_and_snapshot_restore(project: Path, empty_db_url: str) -> None:
    saved = seeded(project, empty_db_url)
    with open_targets(targets(empty_db_url, project)) as (engine, db):
        save("golden", directory=load_settings(project / "seedkit.toml").snapshots, engine=engine, mongo=db)
    other = seeded(project, empty_db_url, reset=True, seed=5)
    reset = ["reset", "--database-url", empty_db_url]
    restore = ["snapshot", "restore", "golden", "--database-url", empty_db_url]
    injected = inject(project, empty_db_url, reset, RESET_AND_RESTORE_FAULTS[:2], other, "")
    injected += inject(project, empty_db_url, restore, RESET_AND_RESTORE_FAULTS[2:], other, saved)
    print(f"faults injected into reset and snapshot restore: {injected}")
    assert injected == len(RESET_AND_RESTORE_FAULTS) == 5


def test_a_kill_or_interrupt_after_the_commit_leaves_both_stores_with_the_result(
    tmp_path: Path, pg_server_url: str
) -> None:
    """Mongo without a server (mongomock, kept in a file) was written only when the command
    ended: a kill after PostgreSQL's commit left new rows beside old documents, and an interrupt
    there said "nothing was changed". The run now writes the file before its commit."""
    from conftest import create_database, drop_database

    results = {}
    for name, fault in (
        ("clean", None),
        ("killed", "seed.committed:SIGKILL"),
        ("interrupted", "seed.committed:SIGINT"),
    ):
        project = tmp_path / name
        project.mkdir()
        (project / "seedkit.toml").write_text(
            PARTITIONED_CONFIG.format(factories=(REPO / "factories").as_posix())
        )
        database = f"test_faults_after_{name}_{os.getpid()}"
        url = create_database(pg_server_url, database)
        try:
            seeded(project, url)
            with open_targets(targets(url, project)) as (_, db):  # documents the reset must take away
                db["leftovers"].insert_one({"_id": 1})
            command = ["seed", "--profile", "small", "--database-url", url, "--reset", "--seed", "5"]
            result = run(project, *command, fault=fault)
            if fault is None:
                assert result.returncode == 0, result.stderr
            elif fault.endswith("SIGKILL"):
                assert result.returncode == -9, result.stderr
            else:
                assert result.returncode == 130, result.stderr
                assert (
                    result.stderr.strip()
                    .splitlines()[-1]
                    .startswith(
                        "error: interrupted; the seeding was already committed: both stores hold its result"
                    )
                ), result.stderr
            results[name] = digest(url, project)
        finally:
            drop_database(pg_server_url, database)
    assert results["killed"] == results["clean"]
    assert results["interrupted"] == results["clean"]
