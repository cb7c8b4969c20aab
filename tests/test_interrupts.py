"""Ctrl-C while a command starts up (its modules importing, the embedded server's initdb) is one
line and exit code 130, as later in a command; an interrupted initdb leaves nothing half made."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from test_cli import run_cli

from seedkit.stores.embedded import EmbeddedPostgres


@pytest.fixture
def scratch() -> Iterator[Path]:
    """An empty project directory (outside pytest's private tmp, see test_cli.py); its server is stopped."""
    directory = Path(tempfile.mkdtemp(prefix="seedkit-interrupts-"))
    yield directory
    EmbeddedPostgres(directory / ".seedkit" / "postgres").stop()
    shutil.rmtree(directory, ignore_errors=True)


@pytest.mark.parametrize("point", ["cli.imports", "embedded.initdb"])
def test_ctrl_c_during_start_up_is_one_line_and_exit_130(scratch: Path, point: str) -> None:
    interrupted = run_cli("db", "start", cwd=scratch, extra_env={"SEEDKIT_FAULT": f"{point}:SIGINT"})
    assert interrupted.returncode == 130
    assert interrupted.stderr == "error: interrupted; the command was stopped\n"
    assert interrupted.stdout == ""
    server = EmbeddedPostgres(scratch / ".seedkit" / "postgres")
    assert not server.is_running()
    started = run_cli("db", "start", cwd=scratch)  # the next start is not hindered by what was left
    assert started.returncode == 0, started.stderr
    assert server.is_running()
