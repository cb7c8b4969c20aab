"""Worker processes end when their coordinator is killed (``kill -9``), instead of running on
under PID 1 with their connections."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

COORDINATOR = """
import sys, time
sys.path.insert(0, {tests!r})
from seedkit.bulk.executors import ProcessExecutor
from test_worker_exit_with_parent import hold
for _ in ProcessExecutor(2).map(hold, [{first!r}, {second!r}]):
    pass
"""


def hold(path: str) -> None:
    """A partition that runs long: note this process's id, then wait."""
    Path(path).write_text(str(os.getpid()))
    time.sleep(120)


def alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().split(") ")[1][0] != "Z"  # a zombie has ended
    except FileNotFoundError:
        return False


def wait_for(condition: object, limit: float) -> bool:
    end = time.monotonic() + limit
    while time.monotonic() < end:
        if condition():  # type: ignore[operator]
            return True
        time.sleep(0.2)
    return bool(condition())  # type: ignore[operator]


def test_workers_exit_when_the_coordinator_is_killed(tmp_path: Path) -> None:
    first, second = tmp_path / "first.pid", tmp_path / "second.pid"
    script = COORDINATOR.format(tests=str(Path(__file__).parent), first=str(first), second=str(second))
    coordinator = subprocess.Popen([sys.executable, "-c", script])
    try:
        assert wait_for(lambda: first.exists() and second.exists(), 60), "the workers did not start"
        time.sleep(0.2)  # the files are written whole
        workers = [int(first.read_text()), int(second.read_text())]
        assert all(alive(pid) for pid in workers)
        coordinator.send_signal(signal.SIGKILL)
        coordinator.wait()

        # The workers hold for 120 s; they end long before (a poll every 0.5 s), or never would.
        assert wait_for(lambda: not any(alive(pid) for pid in workers), 30)
    finally:
        coordinator.kill()
        for path in (first, second):
            if path.exists() and alive(pid := int(path.read_text())):
                os.kill(pid, signal.SIGKILL)
