"""`seedkit seed --workers N`: a progress bar of partitions ended and rows written, at a terminal only."""

from __future__ import annotations

import os
import pty
import re
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from test_cli import PARTITIONED_CONFIG, REPO, run_cli

pytestmark = pytest.mark.mongo  # the profile writes Mongo documents too (mongomock here)

BAR = re.compile(r"partitions\s.*?(\d+)/6\s+([\d,]+) rows")
"""The partitions bar: ended of 6, and the rows written so far."""


def _on_a_terminal(command: list[str], cwd: Path) -> tuple[int, str, str]:
    """Run ``command`` with stderr on a pseudo-terminal; its exit code, stdout and what the terminal showed."""
    leader, follower = pty.openpty()
    env = {k: v for k, v in os.environ.items() if not k.startswith("SEEDKIT_")}
    env.update(COLUMNS="200", TERM="xterm")
    shown: list[bytes] = []

    def read() -> None:
        while True:
            try:
                chunk = os.read(leader, 65536)
            except OSError:  # the terminal closed with the command
                return
            if not chunk:
                return
            shown.append(chunk)

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        done = subprocess.run(
            command,
            cwd=cwd,
            env=env,
            stdout=subprocess.PIPE,
            stderr=follower,
            text=True,
            timeout=300,
            check=False,
        )
    finally:
        os.close(follower)
    reader.join(timeout=30)
    os.close(leader)
    # Without the terminal's control sequences (colours, cursor moves): the text it showed.
    text = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", b"".join(shown).decode(errors="replace"))
    return done.returncode, done.stdout, text


@pytest.mark.parametrize("executor", ["processes", "dask"])
def test_the_bar_counts_partitions_and_rows_at_a_terminal_and_nothing_is_printed_elsewhere(
    executor: str, empty_db_url: str, tmp_path: Path
) -> None:
    (tmp_path / "seedkit.toml").write_text(
        PARTITIONED_CONFIG.format(factories=(REPO / "factories").as_posix())
    )
    options = ["--workers", "2", "--partition-size", "50", "--executor", executor]
    plain = run_cli("seed", "--profile", "small", "--database-url", empty_db_url, *options, cwd=tmp_path)
    assert plain.returncode == 0, plain.stderr
    assert plain.stderr == ""  # not a terminal: no bar, no note
    assert "fingerprint: " in plain.stdout and not BAR.search(plain.stdout)

    command = [
        sys.executable,
        "-m",
        "seedkit.cli",
        "seed",
        "--profile",
        "small",
        "--database-url",
        empty_db_url,
    ]
    code, out, shown = _on_a_terminal([*command, "--reset", *options], tmp_path)
    assert code == 0, shown
    assert "fingerprint: " in out and not BAR.search(out)  # the bar goes to the terminal (stderr) only
    # 300 customers in partitions of 50: the bar ends at 6 of 6, with the rows written so far.
    ended = BAR.findall(shown)
    assert ended, shown[-2000:]
    assert ended[-1][0] == "6"
    rows = [int(count.replace(",", "")) for _, count in ended]
    assert rows == sorted(rows) and rows[-1] > 300
