"""Every `$ seedkit ...` line of docs/cli.md runs, in order, in an empty directory with no configuration.

In-process (Typer's runner) to stay fast; tests/test_cli.py drives the real subprocess.
"""

from __future__ import annotations

import re
import shlex
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import create_database, drop_database
from typer.testing import CliRunner

from seedkit.cli import app
from seedkit.stores.embedded import EmbeddedPostgres

DOC = Path(__file__).resolve().parent.parent / "docs" / "cli.md"
PLACEHOLDER_URL = "postgresql://postgres@127.0.0.1:5432/shop_test"


def documented_commands() -> list[str]:
    blocks = re.findall(r"^```console\n(.*?)^```", DOC.read_text(), re.S | re.M)
    return [line[2:] for block in blocks for line in block.splitlines() if line.startswith("$ seedkit ")]


@pytest.fixture
def scratch(monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """An empty working directory (outside pytest's private tmp, see test_cli.py); its server is stopped."""
    directory = Path(tempfile.mkdtemp(prefix="seedkit-docs-"))
    for name in ("SEEDKIT_CONFIG", "SEEDKIT_DATABASE_URL", "SEEDKIT_MONGO_URL", "SEEDKIT_ALLOW_UNSAFE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(directory)
    yield directory
    EmbeddedPostgres(directory / ".seedkit" / "postgres").stop()
    shutil.rmtree(directory, ignore_errors=True)


@pytest.fixture
def shop_test_url(pg_server_url: str) -> Iterator[str]:
    name = f"shop_test_{uuid.uuid4().hex[:8]}"
    yield create_database(pg_server_url, name)
    drop_database(pg_server_url, name)


def test_every_documented_command_runs(scratch: Path, shop_test_url: str) -> None:
    commands = documented_commands()
    assert len(commands) >= 15
    assert {shlex.split(c)[1] for c in commands} >= {
        "seed",
        "fingerprint",
        "migrate",
        "reset",
        "profiles",
        "packs",
        "db",
    }
    runner = CliRunner()
    for command in commands:
        args = shlex.split(command.replace(PLACEHOLDER_URL, shop_test_url))[1:]
        result = runner.invoke(app, args, catch_exceptions=True)
        assert result.exit_code == 0 or (args[:2] == ["db", "status"] and result.exit_code == 1), (
            f"`{command}` failed ({result.exit_code}): {result.output} {result.exception!r}"
        )
    assert not EmbeddedPostgres(scratch / ".seedkit" / "postgres").is_running()  # the last command stops it


def test_configuration_examples_load(tmp_path: Path) -> None:
    """The TOML examples of docs/configuration.md are valid configurations (unknown keys would fail)."""
    from seedkit.seeding.config import load_settings

    text = (DOC.parent / "configuration.md").read_text()
    standalone, pyproject = re.findall(r"^```toml\n(.*?)^```", text, re.S | re.M)
    (tmp_path / "seedkit.toml").write_text(standalone)
    settings = load_settings(tmp_path / "seedkit.toml")
    assert sorted(settings.profiles) == ["demo", "django", "e2e"]
    assert settings.profiles["demo"].volumes[2].fields == {"orders": "0-5"}
    assert settings.profiles["django"].migration_command
    (tmp_path / "pyproject.toml").write_text(pyproject)
    assert load_settings(tmp_path / "pyproject.toml").profiles["e2e"].packs == ("golden",)


def test_the_documented_e2e_fingerprint_is_what_seeding_gives(scratch: Path, shop_test_url: str) -> None:
    """The fingerprint docs/cli.md shows for `seedkit seed --profile e2e` is the one it gives, here too."""
    documented = re.search(r"^fingerprint: ([0-9a-f]{64})$", DOC.read_text(), re.M)
    assert documented is not None
    result = CliRunner().invoke(app, ["seed", "--profile", "e2e", "--database-url", shop_test_url, "--json"])
    assert result.exit_code == 0, result.output
    assert f'"fingerprint": "{documented[1]}"' in result.output
