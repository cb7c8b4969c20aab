"""The embedded PostgreSQL: a persistent data directory keeps data and port across restarts."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import pytest
import sqlalchemy as sa

from seedkit.errors import DatabaseUnavailable
from seedkit.stores.embedded import EmbeddedPostgres, binaries_dir


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
