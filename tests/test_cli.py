"""The `seedkit` command, run as a user runs it: a subprocess, in a scratch directory, on real PostgreSQL.

Each subprocess costs about a second of imports, so these tests are few and each checks a lot.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from conftest import create_database, drop_database

from seedkit.seeding.targets import Targets, open_targets
from seedkit.stores.embedded import EmbeddedPostgres
from seedkit.stores.fingerprint import Fingerprint, fingerprint
from seedkit.stores.safety import ENVIRONMENT_VARIABLES

REPO = Path(__file__).resolve().parent.parent
E2E_ROWS = {"organizations": 1, "users": 2, "products": 6, "orders": 1, "order_items": 2, "payments": 1}


def run_cli(
    *args: str, cwd: Path, extra_env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """``python -m seedkit.cli ARGS`` in ``cwd`` with no seedkit settings from the environment
    (but ``extra_env``)."""
    env = {
        k: v for k, v in os.environ.items() if not k.startswith("SEEDKIT_") and k not in ENVIRONMENT_VARIABLES
    }
    env["COLUMNS"] = "200"
    env.update(extra_env or {})
    return subprocess.run(
        [sys.executable, "-m", "seedkit.cli", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )


def stores_fingerprint(url: str, tmp_path: Path) -> Fingerprint:
    """The fingerprint of the database and of the mongomock state the CLI keeps in tmp_path/.seedkit."""
    targets = Targets(url, None, "seedkit", tmp_path / ".seedkit", embedded=False)
    with open_targets(targets) as (engine, db), engine.connect() as conn:
        return fingerprint(conn, db)


def assert_one_error_line(result: subprocess.CompletedProcess[str], pattern: str) -> None:
    assert result.returncode != 0, result.stdout
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: ")
    assert re.search(pattern, lines[0]), lines[0]
    assert "Traceback" not in result.stderr


def test_seed_json_report_matches_the_database_and_a_later_fingerprint(
    empty_db_url: str, tmp_path: Path
) -> None:
    seeded = run_cli("seed", "--profile", "e2e", "--database-url", empty_db_url, "--json", cwd=tmp_path)
    assert seeded.returncode == 0, seeded.stderr
    report = json.loads(seeded.stdout)  # stdout is the JSON report and nothing else
    assert report["rows"] == E2E_ROWS
    assert report["documents"] == {"audit_events": 2, "notifications": 1}
    assert report["schema"] == "alembic upgrade head (0001)" and report["embedded"] is False
    assert report["fingerprint"] == stores_fingerprint(empty_db_url, tmp_path).digest

    printed = run_cli("fingerprint", "--database-url", empty_db_url, "--json", cwd=tmp_path)
    assert printed.returncode == 0, printed.stderr
    assert json.loads(printed.stdout)["fingerprint"] == report["fingerprint"]
    assert json.loads(printed.stdout)["parts"]["pg:users"]["count"] == 2

    again = run_cli("seed", "--profile", "e2e", "--database-url", empty_db_url, "--reset", cwd=tmp_path)
    assert again.returncode == 0, again.stderr
    assert re.search(r"total\s+│\s+16", again.stdout)
    assert f"fingerprint: {report['fingerprint']}" in again.stdout


@pytest.fixture
def seeded_url(db_url: str, tmp_path: Path) -> str:
    """db_url seeded with e2e, in-process, with Mongo state where the CLI keeps it."""
    from seedkit.seeding.config import load_settings
    from seedkit.seeding.runner import seed_profile

    settings = load_settings(REPO / "factories" / "seedkit.toml")
    targets = Targets(db_url, None, "seedkit", tmp_path / ".seedkit", embedded=False)
    seed_profile(settings, "e2e", targets)
    return db_url


BROKEN_CONFIG = f"""
alembic = {{ script_location = "{REPO / "factories" / "migrations"}" }}
packs = ["{REPO / "factories" / "packs"}"]
factories = ["seedkit_reference.model_factories", "seedkit_reference.document_factories"]

[profiles.missing_pack]
packs = ["golden", "goldn"]

[profiles.strict]
migrate = false
packs = ["golden"]
"""


def test_unknown_profile_is_one_line_listing_the_known_ones(seeded_url: str, tmp_path: Path) -> None:
    before = stores_fingerprint(seeded_url, tmp_path)
    result = run_cli("seed", "--profile", "e2f", "--database-url", seeded_url, "--reset", cwd=tmp_path)
    assert_one_error_line(result, r"unknown profile 'e2f'.*known profiles: dev, e2e, load")
    assert stores_fingerprint(seeded_url, tmp_path) == before


def test_missing_pack_is_one_line_and_nothing_changes(seeded_url: str, tmp_path: Path) -> None:
    (tmp_path / "seedkit.toml").write_text(BROKEN_CONFIG)
    before = stores_fingerprint(seeded_url, tmp_path)
    result = run_cli("seed", "-p", "missing_pack", "--database-url", seeded_url, "--reset", cwd=tmp_path)
    assert_one_error_line(result, r"unknown pack 'goldn' \(known packs: .*golden")
    assert result.returncode == 2
    assert stores_fingerprint(seeded_url, tmp_path) == before


def test_schema_behind_head_is_refused_naming_both_revisions(empty_db_url: str, tmp_path: Path) -> None:
    (tmp_path / "seedkit.toml").write_text(BROKEN_CONFIG)
    engine = sa.create_engine(empty_db_url)
    with engine.begin() as conn:  # an app's own table, never migrated by Alembic
        conn.execute(sa.text("CREATE TABLE notes (id int PRIMARY KEY, body text)"))
        conn.execute(sa.text("INSERT INTO notes VALUES (1, 'keep me')"))
    engine.dispose()
    before = stores_fingerprint(empty_db_url, tmp_path)
    result = run_cli("seed", "-p", "strict", "--database-url", empty_db_url, cwd=tmp_path)
    assert_one_error_line(
        result, r"at revision none \(never migrated\) but the migrations' head is 0001.*seedkit migrate"
    )
    assert stores_fingerprint(empty_db_url, tmp_path) == before


@pytest.fixture
def scratch() -> Iterator[Path]:
    """A fresh directory for the no-configuration run; its embedded server is stopped whatever happens.

    Not pytest's tmp_path: run as root, the server runs as an unprivileged user that must traverse
    the directory's parents, and every pytest session start makes /tmp/pytest-of-<user> private again.
    """
    directory = Path(tempfile.mkdtemp(prefix="seedkit-cli-"))
    yield directory
    EmbeddedPostgres(directory / ".seedkit" / "postgres").stop()
    shutil.rmtree(directory, ignore_errors=True)


def test_no_configuration_seeds_the_embedded_postgres(
    scratch: Path, empty_db_url: str, tmp_path: Path
) -> None:
    seeded = run_cli("seed", "--profile", "e2e", cwd=scratch)
    assert seeded.returncode == 0, seeded.stderr
    url = re.search(r"PostgreSQL: (postgresql://\S+)", seeded.stdout)
    digest = re.search(r"fingerprint: ([0-9a-f]{64})", seeded.stdout)
    assert url and digest, seeded.stdout
    assert "seedkit db start" in seeded.stdout and "seedkit db stop" in seeded.stdout
    server = EmbeddedPostgres(scratch / ".seedkit" / "postgres")
    assert server.is_running()

    engine = sa.create_engine(url.group(1).replace("postgresql://", "postgresql+psycopg://"))
    with engine.connect() as conn:  # an app under test can connect with the printed URL
        assert conn.execute(sa.text("SELECT count(*) FROM users")).scalar() == 2
    engine.dispose()

    printed = run_cli("fingerprint", "--json", cwd=scratch)
    assert printed.returncode == 0, printed.stderr
    assert json.loads(printed.stdout)["fingerprint"] == digest.group(1)

    stopped = run_cli("db", "stop", cwd=scratch)
    assert stopped.returncode == 0, stopped.stderr
    assert not server.is_running()

    # A second fresh run, elsewhere, on another server: the same data, to the byte.
    elsewhere = run_cli("seed", "--profile", "e2e", "--database-url", empty_db_url, "--json", cwd=tmp_path)
    assert elsewhere.returncode == 0, elsewhere.stderr
    assert json.loads(elsewhere.stdout)["fingerprint"] == digest.group(1)


def test_unreachable_database_is_one_line_without_the_password(tmp_path: Path) -> None:
    closed_port = "postgresql://app:s3cret@127.0.0.1:9/shop_test"
    result = run_cli("fingerprint", "--database-url", closed_port, cwd=tmp_path)
    assert_one_error_line(
        result, r"cannot connect to PostgreSQL at postgresql://app:\*\*\*@127\.0\.0\.1:9/shop_test"
    )
    assert result.returncode == 3
    assert "s3cret" not in result.stderr


def test_migrate_then_reset(empty_db_url: str, tmp_path: Path) -> None:
    migrated = run_cli("migrate", "--database-url", empty_db_url, cwd=tmp_path)
    assert migrated.returncode == 0, migrated.stderr
    assert "now at revision 0001" in migrated.stdout

    from seedkit.seeding.config import load_settings
    from seedkit.seeding.runner import seed_profile

    targets = Targets(empty_db_url, None, "seedkit", tmp_path / ".seedkit", embedded=False)
    seed_profile(load_settings(REPO / "factories" / "seedkit.toml"), "e2e", targets)

    reset = run_cli("reset", "--database-url", empty_db_url, "--json", cwd=tmp_path)
    assert reset.returncode == 0, reset.stderr
    assert {"users", "orders", "audit_events"} <= set(json.loads(reset.stdout)["emptied"])
    after = stores_fingerprint(empty_db_url, tmp_path)
    assert after.parts and all(part.count == 0 for part in after.parts.values())


def test_packs_validate_reports_every_problem_with_its_place(tmp_path: Path) -> None:
    pack = tmp_path / "packs" / "shop"
    pack.mkdir(parents=True)
    (pack / "pack.yaml").write_text("description: broken on purpose\nfiles:\n  users.yaml: postgres\n")
    (pack / "users.yaml").write_text(
        "alice:\n  email: alice@example.com\n  organization_id: '@organizations.nowhere'\n"
    )
    (tmp_path / "seedkit.toml").write_text('packs = ["packs"]\n')
    listed = run_cli("packs", "list", "--json", cwd=tmp_path)
    assert listed.returncode == 0, listed.stderr
    assert json.loads(listed.stdout)["shop"]["records"] == {"pg:users": 1}

    checked = run_cli("packs", "validate", cwd=tmp_path)
    assert checked.returncode != 0
    assert checked.stdout == ""
    assert re.search(
        r"error: .*users.yaml:3, record 'alice', field 'organization_id': .*nowhere", checked.stderr
    )
    assert "1 problem(s) in shop" in checked.stderr

    # The files' own problems come first, even when the database asked for is unreachable.
    unreachable = run_cli(
        "packs", "validate", "--database-url", "postgresql://a:pw@127.0.0.1:9/x_test", cwd=tmp_path
    )
    assert unreachable.returncode == checked.returncode
    assert "nowhere" in unreachable.stderr and "cannot connect" not in unreachable.stderr


PARTITIONED_CONFIG = """
alembic = {{ script_location = "{factories}/migrations" }}
packs = ["{factories}/packs"]
factories = ["seedkit_reference.model_factories", "seedkit_reference.document_factories"]
mongo_database = "seedkit"

[profiles.small]
seed = 11
clock_start = "2025-01-01T00:00:00Z"
migrate = true
packs = ["golden"]
volumes = [
    {{ factory = "OrganizationFactory", count = 2 }},
    {{ factory = "ProductFactory", count = 12 }},
    {{ factory = "CustomerFactory", count = 300, orders = "0-2" }},
]
"""


def test_seed_with_workers_gives_the_same_data_for_any_number_of_workers(
    pg_server_url: str, tmp_path: Path
) -> None:
    config = PARTITIONED_CONFIG.format(factories=(REPO / "factories").as_posix())
    reports = {}
    for run, options in {"one": ["--workers", "1"], "two": ["--workers", "2"], "plain": []}.items():
        name = f"test_workers_{run}_{os.getpid()}"
        url = create_database(pg_server_url, name)
        cwd = tmp_path / run  # each run has its own configuration file and mongomock state beside it
        cwd.mkdir()
        (cwd / "seedkit.toml").write_text(config)
        try:
            seeded = run_cli(
                "seed", "--profile", "small", "--database-url", url,
                "--json", "--partition-size", "100", *options, cwd=cwd,
            )  # fmt: skip
            assert seeded.returncode == 0, seeded.stderr
            reports[run] = json.loads(seeded.stdout)
            assert reports[run]["fingerprint"] == stores_fingerprint(url, cwd).digest
            engine = sa.create_engine(url)
            with engine.connect() as conn:  # the golden pack is there, beside the volumes
                admin = sa.text("SELECT count(*) FROM users WHERE email = 'admin@acme.example'")
                assert conn.execute(admin).scalar_one() == 1
            engine.dispose()
        finally:
            drop_database(pg_server_url, name)
    assert reports["one"]["fingerprint"] == reports["two"]["fingerprint"]
    assert reports["one"]["rows"] == reports["two"]["rows"]
    assert reports["one"]["rows"]["users"] == reports["plain"]["rows"]["users"] > 300  # pack + volume
    # partitions have their own random streams: not the data of the unpartitioned run
    assert reports["one"]["fingerprint"] != reports["plain"]["fingerprint"]


def test_seed_with_workers_failing_in_a_partition_leaves_both_stores_as_they_were(
    empty_db_url: str, tmp_path: Path
) -> None:
    config = PARTITIONED_CONFIG.format(factories=(REPO / "factories").as_posix())
    (tmp_path / "seedkit.toml").write_text(config)
    seeded = run_cli("seed", "--profile", "small", "--database-url", empty_db_url, cwd=tmp_path)
    assert seeded.returncode == 0, seeded.stderr
    before = stores_fingerprint(empty_db_url, tmp_path)
    (tmp_path / "seedkit.toml").write_text(config.replace('orders = "0-2"', 'orders = "two"'))
    failed = run_cli(
        "seed", "--profile", "small", "--database-url", empty_db_url, "--workers", "2",
        "--partition-size", "100", "--reset", cwd=tmp_path,
    )  # fmt: skip
    assert_one_error_line(failed, r"profile 'small': seeding the volumes with 2 worker\(s\) failed: .*two")
    assert "both stores are as they were" in failed.stderr
    # the command undid its own run (nothing left for the next command's recovery): nothing is
    # left prepared, no undo kept, and the reset, packs, small volumes and partitions are undone
    engine = sa.create_engine(empty_db_url)
    with engine.connect() as conn:
        assert (
            conn.execute(
                sa.text("SELECT count(*) FROM pg_prepared_xacts WHERE database = current_database()")
            ).scalar_one()
            == 0
        )
    engine.dispose()
    assert not list((tmp_path / ".seedkit" / "runs").iterdir())
    assert stores_fingerprint(empty_db_url, tmp_path) == before
