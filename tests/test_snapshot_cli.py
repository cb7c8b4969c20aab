"""``seedkit snapshot save|restore|list|delete``: real PostgreSQL, mongomock kept in the state dir."""

from __future__ import annotations

import hashlib
import json
import zipfile
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from isolation_support import seed_domain, stores_fingerprint
from typer.testing import CliRunner

from seedkit.cli.snapshot import snapshot_app
from seedkit.errors import SnapshotError, UnsafeTargetError
from seedkit.isolation import clear_collections, truncate_tables
from seedkit.stores.mongo import open_database
from seedkit.stores.safety import ENVIRONMENT_VARIABLES

runner = CliRunner()


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A directory without configuration: the built-in one applies, state in ./.seedkit."""
    monkeypatch.chdir(tmp_path)
    for variable in ("SEEDKIT_CONFIG", "SEEDKIT_DATABASE_URL", "SEEDKIT_MONGO_URL", *ENVIRONMENT_VARIABLES):
        monkeypatch.delenv(variable, raising=False)
    return tmp_path


def invoke(*args: str) -> Any:
    return runner.invoke(snapshot_app, list(args))


def both_fingerprint(engine: sa.Engine, state_dir: Path) -> Any:
    with open_database(None, "seedkit", state_dir) as mongo_db:
        return stores_fingerprint(engine, mongo_db)


def test_save_list_restore_delete(project: Path, engine: sa.Engine, db_url: str) -> None:
    state = project / ".seedkit"
    with open_database(None, "seedkit", state) as mongo_db:
        seed_domain(engine, mongo_db)
    seeded = both_fingerprint(engine, state)

    saved = invoke("save", "golden", "--database-url", db_url)
    assert saved.exit_code == 0, saved.output
    assert "saved snapshot 'golden'" in saved.output and "9 documents" in saved.output
    assert (project / "snapshots" / "golden.seedkit.zip").is_file()

    listed = json.loads(invoke("list", "--json").output)
    assert [(s["name"], s["revision"], s["documents"]) for s in listed] == [("golden", ["0001"], 9)]
    assert listed[0]["fingerprint"] == seeded.digest
    table = invoke("list")
    assert "golden" in table.output and "0001" in table.output

    with engine.begin() as conn:
        truncate_tables(conn)
    with open_database(None, "seedkit", state) as mongo_db:
        clear_collections(mongo_db)
    assert both_fingerprint(engine, state) != seeded

    restored = invoke("restore", "golden", "--database-url", db_url)
    assert restored.exit_code == 0, restored.output
    assert "restored snapshot 'golden'" in restored.output
    assert both_fingerprint(engine, state) == seeded

    assert invoke("delete", "golden").exit_code == 0
    assert json.loads(invoke("list", "--json").output) == []
    missing = invoke("delete", "golden")
    assert isinstance(missing.exception, SnapshotError) and "not found" in str(missing.exception)


def test_restore_is_guarded_and_the_override_works(
    project: Path, engine: sa.Engine, db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    seed_domain(engine)
    assert invoke("save", "s", "--database-url", db_url, "--dir", str(project / "snaps")).exit_code == 0
    with engine.begin() as conn:
        conn.execute(sa.text("DELETE FROM payments"))
    changed = stores_fingerprint(engine)
    monkeypatch.setenv("ENV", "production")
    refused = invoke("restore", "s", "--database-url", db_url, "--dir", str(project / "snaps"))
    assert isinstance(refused.exception, UnsafeTargetError)
    assert "ENV=production" in str(refused.exception) and "--allow-unsafe" in str(refused.exception)
    assert stores_fingerprint(engine) == changed
    allowed = invoke(
        "restore", "s", "--database-url", db_url, "--dir", str(project / "snaps"), "--allow-unsafe"
    )
    assert allowed.exit_code == 0, allowed.output
    assert stores_fingerprint(engine) != changed


def test_restore_verify_checks_the_fingerprint_before_commit(
    project: Path, engine: sa.Engine, db_url: str
) -> None:
    seed_domain(engine)
    assert invoke("save", "v", "--database-url", db_url).exit_code == 0
    path = project / "snapshots" / "v.seedkit.zip"
    with zipfile.ZipFile(path) as archive:
        contents = {info.filename: archive.read(info.filename) for info in archive.infolist()}
    manifest = json.loads(contents["manifest.json"])
    manifest["fingerprint"]["parts"]["pg:users"][1] = "0" * 64  # as if the data had been saved otherwise
    contents["manifest.json"] = json.dumps(manifest).encode()
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in contents.items():
            archive.writestr(name, data)
        archive.comment = f"sha256={hashlib.sha256(contents['manifest.json']).hexdigest()}".encode()
    with engine.begin() as conn:
        conn.execute(sa.text("DELETE FROM payments"))
    changed = stores_fingerprint(engine)

    verified = invoke("restore", "v", "--database-url", db_url, "--verify")
    assert isinstance(verified.exception, SnapshotError)
    assert "restored data does not match its fingerprint (pg:users)" in str(verified.exception)
    assert stores_fingerprint(engine) == changed
    assert invoke("restore", "v", "--database-url", db_url).exit_code == 0  # checksums and row counts hold
    assert stores_fingerprint(engine) != changed


@pytest.mark.parametrize(
    ("args", "refused"),
    [
        (
            ["snapshot", "restore", "s", "--database-url", "postgresql://postgres@127.0.0.1:1/helpdesk_prod"],
            "refusing to restore a snapshot into postgresql://postgres@127.0.0.1:1/helpdesk_prod",
        ),
        (
            ["snapshot", "restore", "s", "--database-url", "postgresql://postgres@127.0.0.1:1/x_test",
             "--mongo-url", "mongodb://db.example.com:27017"],
            "refusing to restore a snapshot into mongodb://db.example.com:27017/seedkit",
        ),
        (
            ["seed", "--profile", "e2e", "--reset", "--database-url", "postgresql://postgres@127.0.0.1:1/x_test",
             "--mongo-url", "mongodb://user:secret@db.example.com:27017,127.0.0.1:27018/?replicaSet=rs"],
            "refusing to reset mongodb://db.example.com:27017/seedkit",
        ),
    ],
)  # fmt: skip
def test_a_guarded_command_refuses_before_connecting(project: Path, args: list[str], refused: str) -> None:
    """Nothing listens on port 1: a command that connected before the guard judged the target
    fails with a connection error (exit code 3), not the guard's refusal (4)."""
    from test_cli import run_cli

    result = run_cli(*args, cwd=project)
    assert result.returncode == 4, result.stderr
    assert refused in result.stderr
    assert "cannot connect" not in result.stderr and "secret" not in result.stderr
