"""Partitions on a Dask cluster (issue: seeding beyond one machine): the same data as one worker.

A LocalCluster of two worker processes stands in for a real cluster: the partitions become Dask
tasks, each worker connects to the database itself, and the coordinator commits them all or none.
In the Mongo lane (``SEEDKIT_TEST_MONGO_URL``) the workers also write the documents themselves.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
import sqlalchemy as sa
from conftest import create_database, drop_database, suite_mongo_url
from test_cli import PARTITIONED_CONFIG, REPO, assert_one_error_line, run_cli

from seedkit.bulk.executors import open_executor
from seedkit.errors import ConfigError, SeedkitError
from seedkit.seeding.config import load_settings
from seedkit.seeding.targets import Targets, open_targets
from seedkit.stores.fingerprint import Fingerprint, fingerprint
from seedkit.stores.mongo import connect

pytestmark = pytest.mark.mongo  # the profile writes Mongo documents too


def _project(cwd: Path) -> list[str]:
    """A project in ``cwd`` on its own Mongo database; the options that point the CLI at the suite's Mongo.

    In the Mongo lane the workers write their documents into the server themselves; on mongomock
    (kept under ``cwd/.seedkit``) they hand them back to the command.
    """
    cwd.mkdir(exist_ok=True)
    name = f"test_dask_{uuid.uuid4().hex[:10]}"
    config = PARTITIONED_CONFIG.format(factories=(REPO / "factories").as_posix())
    (cwd / "seedkit.toml").write_text(
        config.replace('mongo_database = "seedkit"', f'mongo_database = "{name}"')
    )
    url = suite_mongo_url()
    return ["--mongo-url", url] if url else []


def _stores(url: str, cwd: Path) -> Fingerprint:
    """Both stores' fingerprint, read as the next command reads them (after its recovery)."""
    settings = load_settings(cwd / "seedkit.toml")
    targets = Targets(url, suite_mongo_url(), settings.mongo_database, cwd / ".seedkit", embedded=False)
    with open_targets(targets) as (engine, db), engine.connect() as conn:
        prepared = sa.text("SELECT count(*) FROM pg_prepared_xacts WHERE database = current_database()")
        assert conn.execute(prepared).scalar_one() == 0, "a prepared transaction was left behind"
        return fingerprint(conn, db)


def _drop_mongo(cwd: Path) -> None:
    url = suite_mongo_url()
    if url is not None:
        db = connect(url, load_settings(cwd / "seedkit.toml").mongo_database)
        db.client.drop_database(db.name)
        db.client.close()


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
        mongo = _project(cwd)
        try:
            reports[run] = _seed(url, cwd, *mongo, *options)
            assert reports[run]["fingerprint"] == _stores(url, cwd).digest
        finally:
            drop_database(pg_server_url, name)
            _drop_mongo(cwd)
    assert (
        reports["dask"]["fingerprint"] == reports["one"]["fingerprint"] == reports["processes"]["fingerprint"]
    )
    assert reports["dask"]["rows"] == reports["one"]["rows"]
    assert reports["dask"]["documents"] == reports["one"]["documents"] != {}


def test_a_worker_killed_mid_partition_leaves_the_database_as_before(
    empty_db_url: str, tmp_path: Path
) -> None:
    mongo = _project(tmp_path)
    try:
        _seed(empty_db_url, tmp_path, *mongo)
        before = _stores(empty_db_url, tmp_path)
        failed = run_cli(
            "seed", "--profile", "small", "--database-url", empty_db_url, *mongo, "--workers", "2", "--reset",
            "--partition-size", "100", "--executor", "dask", cwd=tmp_path,
            extra_env={"SEEDKIT_FAULT": "workers.prepared:SIGKILL"},  # every worker dies once prepared
        )  # fmt: skip
        assert_one_error_line(failed, r"profile 'small': seeding the volumes with 2 worker\(s\) failed: .*")
        assert "both stores are as they were" in failed.stderr
        assert _stores(empty_db_url, tmp_path) == before
    finally:
        _drop_mongo(tmp_path)


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


def test_a_worker_that_cannot_reach_the_mongo_server_is_refused(empty_db_url: str) -> None:
    """The workers write the documents themselves when there is a Mongo server: it must answer them."""
    with open_executor("dask", 1) as executor, pytest.raises(SeedkitError) as refused:
        executor.check([], empty_db_url, "mongodb://127.0.0.1:1/")
    message = str(refused.value)
    assert "cannot connect to MongoDB at mongodb://127.0.0.1:1/" in message
    assert "nothing was written" in message and "\n" not in message


def test_bad_executor_options_are_one_line() -> None:
    with pytest.raises(ConfigError, match="unknown executor 'spark'; known: processes, dask"):
        open_executor("spark", 2).__enter__()
    with pytest.raises(ConfigError, match="--scheduler goes with --executor dask"):
        open_executor("processes", 2, scheduler="tcp://127.0.0.1:8786").__enter__()


def _group_ended(group: int) -> bool:
    """True once no process of the process group ``group`` is left (bounded wait)."""
    for _ in range(600):
        try:
            os.killpg(group, 0)
        except ProcessLookupError:
            return True
        time.sleep(0.1)
    return False


@pytest.mark.parametrize(
    ("executor", "signal"),
    [("dask", "SIGTERM"), ("dask", "SIGINT"), ("dask", "SIGKILL"), ("processes", "SIGTERM")],
)
def test_a_stopped_coordinator_leaves_no_cluster_process_and_nothing_prepared(
    executor: str, signal: str, empty_db_url: str, tmp_path: Path
) -> None:
    """The coordinator is signalled once a first partition has ended while others still run."""
    mongo = _project(tmp_path)
    try:
        _seed(empty_db_url, tmp_path, *mongo)
        before = _stores(empty_db_url, tmp_path)
        env = {k: v for k, v in os.environ.items() if not k.startswith("SEEDKIT_")}
        env.update(COLUMNS="200", SEEDKIT_FAULT=f"workers.partition-ended:{signal}")
        command = [
            sys.executable, "-m", "seedkit.cli", "seed", "--profile", "small", "--database-url", empty_db_url,
            *mongo, "--reset", "--seed", "5", "--workers", "2", "--partition-size", "50", "--executor", executor,
        ]  # fmt: skip
        # Its own session: every process it starts (the cluster's workers too) is in its process group.
        child = subprocess.Popen(
            command, cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            text=True, start_new_session=True,
        )  # fmt: skip
        out, err = child.communicate(timeout=300)
        assert _group_ended(child.pid), "a process of the command outlived it"
        if signal == "SIGKILL":
            assert child.returncode == -9, err
        else:
            expected = {"SIGTERM": (143, "terminated"), "SIGINT": (130, "interrupted")}[signal]
            assert child.returncode == expected[0], err
            assert out == "" and "Traceback" not in err, err
            assert err.strip().splitlines()[-1] == (
                f"error: {expected[1]}; nothing was changed: both stores are as they were"
            ), err
        # What a killed coordinator left (prepared partitions, its undo) the next command resolves.
        assert _stores(empty_db_url, tmp_path) == before
    finally:
        _drop_mongo(tmp_path)
