"""The Mongo lane: run a command (by default ``pytest -m mongo``) against a MongoDB wire-protocol server.

Usage, from the repository root (``.ci/run`` does the same after the main lane)::

    python tests/mongo_wire/lane.py                          # python -m pytest -m mongo
    python tests/mongo_wire/lane.py -- python -m pytest -m mongo -n 2 tests/test_profiles.py

No ``mongod`` can be installed on the machines seedkit is built on, so the server is mongoeco's
(``server.py`` beside this file), which needs Python >= 3.13 while seedkit supports 3.11+. This
script therefore finds such an interpreter (``SEEDKIT_WIRE_PYTHON``, then ``python3.13``... on
PATH, then pyenv's installed versions), makes a virtual environment for the server (kept in
``.seedkit/mongo-wire/`` and reused while ``requirements.txt`` is unchanged), starts the server
on 127.0.0.1 on a free port, runs the command with ``SEEDKIT_TEST_MONGO_URL`` pointing at it,
and stops the server at the end. The command is stopped after ``--timeout`` seconds; the server
stops by itself when this script's process ends, however it ends.

Exit status: the command's; 124 when it ran out of time; 2 when the server could not be
started. When no Python >= 3.13 is found, one line says that the lane was not run, and the exit
status is 0 (the main lane, on mongomock, is unaffected).

Only the standard library is used: this runs before anything but seedkit is installed.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import os
import re
import selectors
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
REQUIREMENTS = HERE / "requirements.txt"
SERVER = HERE / "server.py"
MINIMUM = (3, 13)
PREFIX = "mongo wire lane:"
START_TIMEOUT = 60.0
PIP_TIMEOUT = 600.0


def say(message: str) -> None:
    print(f"{PREFIX} {message}", flush=True)


def python_version(executable: str) -> tuple[int, int] | None:
    """(major, minor) of the interpreter at ``executable``, or None when it does not run."""
    try:
        out = subprocess.run(
            [executable, "-c", "import sys; print(*sys.version_info[:2])"],
            capture_output=True,
            text=True,
            timeout=30,
            check=True,
        ).stdout.split()
        return int(out[0]), int(out[1])
    except (OSError, subprocess.SubprocessError, ValueError, IndexError):
        return None


def pyenv_versions() -> Iterator[str]:
    """The interpreters pyenv has installed, oldest version first (whether or not one is selected)."""
    root = os.environ.get("PYENV_ROOT")
    if not root and shutil.which("pyenv"):
        try:
            root = subprocess.run(
                ["pyenv", "root"], capture_output=True, text=True, timeout=30, check=True
            ).stdout.strip()
        except (OSError, subprocess.SubprocessError):
            root = None
    versions = Path(root or Path.home() / ".pyenv") / "versions"
    if not versions.is_dir():
        return

    def key(path: Path) -> tuple[int, ...]:
        return tuple(int(n) for n in re.findall(r"\d+", path.name)[:3])

    for version in sorted(versions.iterdir(), key=key):
        if re.fullmatch(r"\d+\.\d+\.\d+", version.name):
            yield str(version / "bin" / "python3")


def candidates() -> Iterator[str]:
    """Where a Python >= 3.13 may be, in the order they are tried."""
    chosen = os.environ.get("SEEDKIT_WIRE_PYTHON")
    if chosen:
        yield chosen
    for minor in range(MINIMUM[1], MINIMUM[1] + 8):
        found = shutil.which(f"python3.{minor}")
        if found:
            yield found
    yield sys.executable
    yield from pyenv_versions()


def find_python() -> tuple[str, tuple[int, int]] | None:
    """The first candidate interpreter whose version is at least :data:`MINIMUM`."""
    for executable in candidates():
        version = python_version(executable)
        if version is not None and version >= MINIMUM:
            return executable, version
    return None


def server_environment(python: str, directory: Path) -> Path:
    """A virtual environment with ``requirements.txt`` installed; its python. Reused while unchanged."""
    wanted = hashlib.sha256(REQUIREMENTS.read_bytes() + python.encode()).hexdigest()
    venv = directory / "venv"
    stamp = directory / "installed.sha256"
    venv_python = venv / "bin" / "python"
    if stamp.exists() and stamp.read_text() == wanted and venv_python.exists():
        return venv_python
    shutil.rmtree(venv, ignore_errors=True)
    stamp.unlink(missing_ok=True)
    subprocess.run([python, "-m", "venv", str(venv)], check=True, timeout=PIP_TIMEOUT)
    subprocess.run(
        [str(venv_python), "-m", "pip", "install", "-q", "-r", str(REQUIREMENTS)],
        check=True,
        timeout=PIP_TIMEOUT,
    )
    stamp.write_text(wanted)
    return venv_python


def server_version(venv_python: Path) -> str:
    """``mongoeco X.Y.Z``, as installed in the server's environment."""
    code = "import importlib.metadata as m; print(m.version('mongoeco'))"
    try:
        out = subprocess.run([str(venv_python), "-c", code], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.SubprocessError):
        return "mongoeco"
    return f"mongoeco {out.stdout.strip()}"


def start_server(venv_python: Path, lifetime: float) -> tuple[subprocess.Popen[bytes], str]:
    """Start ``server.py``; return the process and the URL it printed. Raises RuntimeError."""
    server = subprocess.Popen(
        [str(venv_python), str(SERVER), "--lifetime", str(lifetime)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
    )
    assert server.stdout is not None
    selector = selectors.DefaultSelector()
    selector.register(server.stdout, selectors.EVENT_READ)
    ready = selector.select(timeout=START_TIMEOUT)
    selector.close()
    line = server.stdout.readline().decode().strip() if ready else ""
    if not line.startswith("mongodb://"):
        stop_server(server)
        raise RuntimeError(
            f"the server printed no URL within {START_TIMEOUT:.0f}s (exit {server.returncode})"
        )
    return server, line


def stop_server(server: subprocess.Popen[bytes]) -> None:
    """Close the server's standard input (it stops by itself), then make sure it has stopped."""
    if server.stdin is not None:
        server.stdin.close()
    try:
        server.wait(timeout=15)
    except subprocess.TimeoutExpired:
        server.kill()
        server.wait()


def run_bounded(command: Sequence[str], env: dict[str, str], timeout: float) -> int:
    """Run ``command`` in its own process group; stop the whole group after ``timeout`` seconds."""
    process = subprocess.Popen(command, env=env, start_new_session=True)
    try:
        return process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        say(f"stopped: the command ran longer than {timeout:.0f}s")
        return 124
    except KeyboardInterrupt:
        return 130
    finally:
        if process.poll() is None:
            for sig, grace in ((signal.SIGTERM, 10.0), (signal.SIGKILL, 5.0)):
                try:
                    os.killpg(process.pid, sig)
                    process.wait(timeout=grace)
                    break
                except ProcessLookupError:
                    break
                except subprocess.TimeoutExpired:
                    continue
        with contextlib.suppress(ProcessLookupError):  # what of the group outlived its leader
            os.killpg(process.pid, signal.SIGKILL)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="Run a command against a MongoDB wire-protocol server (mongoeco), "
        "with SEEDKIT_TEST_MONGO_URL pointing at it."
    )
    parser.add_argument("--timeout", type=float, default=600.0, help="seconds the command may run (600)")
    parser.add_argument(
        "--directory",
        type=Path,
        default=REPO / ".seedkit" / "mongo-wire",
        help="where the server's virtual environment is kept (.seedkit/mongo-wire)",
    )
    parser.add_argument("command", nargs="*", help="the command (default: python -m pytest -m mongo)")
    args = parser.parse_args(argv)
    command = args.command or [sys.executable, "-m", "pytest", "-m", "mongo"]

    found = find_python()
    if found is None:
        say(
            f"NOT RUN: no Python >= {MINIMUM[0]}.{MINIMUM[1]} found (set SEEDKIT_WIRE_PYTHON, "
            "or install one on PATH or with pyenv); the Mongo tests ran on mongomock only"
        )
        return 0
    python, version = found
    try:
        venv_python = server_environment(python, args.directory)
    except (OSError, subprocess.SubprocessError) as exc:
        say(f"could not install {REQUIREMENTS.name} for Python {version[0]}.{version[1]} ({python}): {exc}")
        return 2
    try:
        server, url = start_server(venv_python, lifetime=args.timeout + 120)
    except (OSError, RuntimeError) as exc:
        say(f"could not start the server: {exc}")
        return 2
    started = time.monotonic()
    try:
        say(
            f"{' '.join(command)} against {url} ({server_version(venv_python)}, Python {version[0]}.{version[1]})"
        )
        env = {**os.environ, "SEEDKIT_TEST_MONGO_URL": url}
        status = run_bounded(command, env, args.timeout)
    finally:
        stop_server(server)
    say(f"exit {status} after {time.monotonic() - started:.0f}s; server stopped")
    return status


if __name__ == "__main__":
    sys.exit(main())
