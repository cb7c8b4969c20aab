"""The Mongo lane's launcher (tests/mongo_wire/lane.py): what it does without a Python >= 3.13, and its time bound.

The lane itself (a mongoeco server and ``pytest -m mongo`` against it) is run by ``.ci/run``.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

LANE = Path(__file__).resolve().parent / "mongo_wire" / "lane.py"
sys.path.insert(0, str(LANE.parent))

import lane  # noqa: E402


def test_without_a_python_313_one_line_says_the_lane_was_not_run(tmp_path: Path) -> None:
    bare = tmp_path / "bin"
    bare.mkdir()
    (bare / "python3.13").write_text("#!/bin/sh\nexit 1\n")  # on PATH, but it does not run
    (bare / "python3.13").chmod(0o755)
    env = {
        "PATH": str(bare),
        "HOME": str(tmp_path),
        "PYENV_ROOT": str(tmp_path / "no-pyenv"),
        "SEEDKIT_WIRE_PYTHON": str(tmp_path / "missing"),
    }
    ran = subprocess.run(
        [sys.executable, str(LANE), "--directory", str(tmp_path / "wire"), "--", "false"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    if sys.version_info >= lane.MINIMUM:
        pytest.fail("this test needs seedkit's own interpreter to be older than the lane's minimum")
    assert ran.returncode == 0, ran.stderr
    assert ran.stdout.splitlines() == [
        "mongo wire lane: NOT RUN: no Python >= 3.13 found (set SEEDKIT_WIRE_PYTHON, or install one on "
        "PATH or with pyenv); the Mongo tests ran on mongomock only"
    ]
    assert not (tmp_path / "wire").exists()  # nothing was installed


def test_the_pyenv_versions_are_found_oldest_first(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("3.9.18", "3.13.0", "3.11.7", "3.13.0t-dev", "system"):
        (tmp_path / "versions" / name / "bin").mkdir(parents=True)
    monkeypatch.setenv("PYENV_ROOT", str(tmp_path))
    found = [Path(path).parent.parent.name for path in lane.pyenv_versions()]
    assert found == ["3.9.18", "3.11.7", "3.13.0"]


def test_a_command_that_runs_too_long_is_stopped_with_its_children(tmp_path: Path) -> None:
    marker = tmp_path / "child.pid"
    script = (
        "import subprocess, sys, time\n"
        "child = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(120)'])\n"
        f"open({str(marker)!r}, 'w').write(str(child.pid))\n"
        "time.sleep(120)\n"
    )
    status = lane.run_bounded([sys.executable, "-c", script], dict(os.environ), timeout=3)
    assert status == 124
    assert not running(int(marker.read_text()))  # the grandchild went with its process group


def running(pid: int) -> bool:
    """Whether ``pid`` is a live process (a zombie waiting for its reaper is not)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    return state not in ("Z", "X")
