"""The Mongo lane's launcher (tests/mongo_wire/lane.py): what it does without a Python >= 3.13, and its time bound.

The lane itself (a mongoeco server and ``pytest -m mongo`` against it) is run by ``.ci/run``.
"""

from __future__ import annotations

import importlib.util
import os
import sys
import time
from pathlib import Path

import pytest

LANE = Path(__file__).resolve().parent / "mongo_wire" / "lane.py"
_spec = importlib.util.spec_from_file_location("mongo_wire_lane", LANE)
assert _spec is not None and _spec.loader is not None
lane = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(lane)


def test_without_a_python_313_one_line_says_the_lane_was_not_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    bare = tmp_path / "bin"
    bare.mkdir()
    broken = bare / "python3.13"  # on PATH, but it does not run (like pyenv's shim of an unselected version)
    broken.write_text("#!/bin/sh\nexit 1\n")
    broken.chmod(0o755)
    monkeypatch.setenv("PATH", str(bare))
    monkeypatch.setenv("PYENV_ROOT", str(tmp_path / "no-pyenv"))
    monkeypatch.setenv("SEEDKIT_WIRE_PYTHON", str(tmp_path / "missing"))
    monkeypatch.setattr(lane.sys, "executable", str(broken))  # whatever runs this suite does not count
    status = lane.main(["--directory", str(tmp_path / "wire"), "--", "false"])
    assert status == 0
    assert capsys.readouterr().out.splitlines() == [
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
    grandchild = int(marker.read_text())
    deadline = time.monotonic() + 10  # the group's signal reaches it at once; its exit may lag
    while running(grandchild) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not running(grandchild)  # the grandchild went with its process group


def running(pid: int) -> bool:
    """Whether ``pid`` is a live process (a zombie waiting for its reaper is not)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    return state not in ("Z", "X")
