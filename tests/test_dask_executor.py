"""Partitions on a Dask cluster (issue: seeding beyond one machine): the same data as one worker.

A LocalCluster of two worker processes stands in for a real cluster: the partitions become Dask
tasks, each worker connects to the database itself, and the coordinator commits them all or none.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
import sqlalchemy as sa
from conftest import create_database, drop_database
from test_cli import PARTITIONED_CONFIG, REPO, assert_one_error_line, run_cli, stores_fingerprint

from seedkit.bulk.executors import open_executor
from seedkit.errors import ConfigError, SeedkitError

pytestmark = pytest.mark.mongo  # the profile writes Mongo documents too


def _seed(url: str, cwd: Path, *options: str) -> dict[str, object]:
    done = run_cli(
        "seed", "--profile", "small", "--database-url", url, "--json", "--partition-size", "100",
        *options, cwd=cwd,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    result: dict[str, object] = json.loads(done.stdout)
    return result


def test_dask_gives_the_same_fingerprint_as_one_worker_and_the_process_pool(
    pg_server_url: str, tmp_path: Path
) -> None:
    config = PARTITIONED_CONFIG.format(factories=(REPO / "factories").as_posix())
    reports = {}
    runs = {
        "one": ["--workers", "1"],
        "processes": ["--workers", "2"],
        "dask": ["--workers", "2", "--executor", "dask"],
    }
    for run, options in runs.items():
        name = f"test_dask_{run}_{os.getpid()}"
        url = create_database(pg_server_url, name)
        cwd = tmp_path / run
        cwd.mkdir()
        (cwd / "seedkit.toml").write_text(config)
        try:
            reports[run] = _seed(url, cwd, *options)
            assert reports[run]["fingerprint"] == stores_fingerprint(url, cwd).digest
        finally:
            drop_database(pg_server_url, name)
    assert (
        reports["dask"]["fingerprint"] == reports["one"]["fingerprint"] == reports["processes"]["fingerprint"]
    )
    assert reports["dask"]["rows"] == reports["one"]["rows"]


def test_a_worker_killed_mid_partition_leaves_the_database_as_before(
    empty_db_url: str, tmp_path: Path
) -> None:
    config = PARTITIONED_CONFIG.format(factories=(REPO / "factories").as_posix())
    (tmp_path / "seedkit.toml").write_text(config)
    _seed(empty_db_url, tmp_path)
    before = stores_fingerprint(empty_db_url, tmp_path)
    failed = run_cli(
        "seed", "--profile", "small", "--database-url", empty_db_url, "--workers", "2", "--reset",
        "--partition-size", "100", "--executor", "dask", cwd=tmp_path,
        extra_env={"SEEDKIT_FAULT": "workers.prepared:SIGKILL"},  # every worker dies once prepared
    )  # fmt: skip
    assert_one_error_line(failed, r"profile 'small': seeding the volumes with 2 worker\(s\) failed: .*")
    assert "both stores are as they were" in failed.stderr
    engine = sa.create_engine(empty_db_url)
    with engine.connect() as conn:
        prepared = sa.text("SELECT count(*) FROM pg_prepared_xacts WHERE database = current_database()")
        assert conn.execute(prepared).scalar_one() == 0
    engine.dispose()
    assert stores_fingerprint(empty_db_url, tmp_path) == before


def test_a_factory_module_missing_on_the_workers_is_refused_before_anything_is_written(
    empty_db_url: str,
) -> None:
    with open_executor("dask", 2) as executor, pytest.raises(SeedkitError) as refused:
        executor.check(["no_such_project.factories"], empty_db_url)
    message = str(refused.value)
    assert "cannot import factory module 'no_such_project.factories'" in message
    assert "nothing was written" in message and "\n" not in message


def test_a_worker_that_cannot_reach_the_database_is_refused() -> None:
    with open_executor("dask", 1) as executor, pytest.raises(SeedkitError, match="cannot reach"):
        executor.check([], "postgresql+psycopg://nobody@127.0.0.1:1/nowhere_test")


def test_bad_executor_options_are_one_line() -> None:
    with pytest.raises(ConfigError, match="unknown executor 'spark'; known: processes, dask"):
        open_executor("spark", 2).__enter__()
    with pytest.raises(ConfigError, match="--scheduler goes with --executor dask"):
        open_executor("processes", 2, scheduler="tcp://127.0.0.1:8786").__enter__()
