"""The PostgreSQL server the pytest plugin creates its databases on.

A URL from the options, the ini file, the profile, ``SEEDKIT_DATABASE_URL`` or the seedkit
configuration names a server; its database is only used to create and drop the plugin's own
databases. Without any URL, ONE embedded PostgreSQL serves every pytest-xdist worker of the
run: the first worker starts it under a file lock in a directory all workers share (pytest's
base temporary directory), the others find it running, and the process that drives the run
(the xdist controller, or pytest itself without xdist) stops it at the end.
"""

from __future__ import annotations

import fcntl
import hashlib
import shlex
import sys
import tempfile
from pathlib import Path

from seedkit.stores.embedded import EmbeddedPostgres

LOCK_FILE = "embedded.lock"


def embedded_root(shared_dir: Path) -> Path:
    """Where the run's embedded server lives: a short path (Unix socket paths are limited to ~100
    bytes) derived from the shared directory, so every worker of the run computes the same one."""
    digest = hashlib.sha256(str(shared_dir.absolute()).encode()).hexdigest()[:12]
    return Path(tempfile.gettempdir()) / f"seedkit-pytest-pg-{digest}"


def start_shared_embedded(shared_dir: Path) -> EmbeddedPostgres:
    """Start the run's embedded server, or find it running (safe when workers race)."""
    shared_dir.mkdir(parents=True, exist_ok=True)
    with open(shared_dir / LOCK_FILE, "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            return EmbeddedPostgres(embedded_root(shared_dir), throwaway=True).start()
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def stop_embedded(root: str | Path) -> None:
    """Stop the embedded server in ``root`` and delete its files."""
    EmbeddedPostgres(root, throwaway=True).stop()


def stop_command(root: str | Path) -> str:
    """A shell command that stops (and deletes) the embedded server in ``root``."""
    code = f"from seedkit.pytest.server import stop_embedded; stop_embedded({str(Path(root).absolute())!r})"
    return f"{shlex.quote(sys.executable)} -c {shlex.quote(code)}"
