"""Who can connect to the embedded server: only with the password kept in an owner-only file."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator

import psycopg
import pytest
import sqlalchemy as sa
from sqlalchemy.engine import make_url

from seedkit.stores.embedded import EmbeddedPostgres
from seedkit.stores.urls import redact


@pytest.fixture(scope="module")
def server() -> Iterator[EmbeddedPostgres]:
    started = EmbeddedPostgres.temporary().start()
    try:
        yield started
    finally:
        started.stop()


def connect(**kwargs: object) -> psycopg.Connection:
    # no password from the environment or a ~/.pgpass file: only what is passed here
    return psycopg.connect(
        user="postgres", dbname="postgres", passfile=os.devnull, connect_timeout=10, **kwargs
    )


@pytest.fixture(autouse=True)
def no_password_in_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PGPASSWORD", raising=False)


def test_a_connection_without_the_password_is_refused(server: EmbeddedPostgres) -> None:
    with pytest.raises(psycopg.OperationalError, match="password"):
        connect(host="127.0.0.1", port=server.port)
    with pytest.raises(psycopg.OperationalError, match="password authentication failed"):
        connect(host="127.0.0.1", port=server.port, password="guess")
    with pytest.raises(psycopg.OperationalError, match="password"):
        connect(host=str(server.socket_dir), port=server.port)  # the Unix socket too


def test_the_url_carries_the_password_and_messages_hide_it(server: EmbeddedPostgres) -> None:
    url = server.url("postgres")
    password = make_url(url).password
    assert password and len(password) >= 24
    assert password == server.password_file.read_text().strip()
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            assert conn.execute(sa.text("SELECT current_user")).scalar_one() == "postgres"
    finally:
        engine.dispose()
    assert password not in redact(url) and "***" in redact(url)


def test_the_secret_and_the_socket_are_the_owners_only(server: EmbeddedPostgres) -> None:
    for secret in (server.password_file, server.passfile):
        assert stat.S_IMODE(secret.stat().st_mode) == 0o600
        assert secret.stat().st_uid == os.geteuid()
    assert stat.S_IMODE(server.socket_dir.stat().st_mode) == 0o700


def test_a_trust_cluster_of_an_older_seedkit_gets_a_password(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    old = EmbeddedPostgres.temporary().start()
    try:
        hba = old.data_dir / "pg_hba.conf"
        old.throwaway = False
        old.stop()
        lines = [
            line.replace("scram-sha-256", "trust") if not line.lstrip().startswith("#") else line
            for line in hba.read_text().splitlines()
        ]
        hba.write_text("\n".join(lines) + "\n")
        old.password_file.unlink()
        old.start()
        assert old.password_file.exists()
        with pytest.raises(psycopg.OperationalError, match="password"):
            connect(host="127.0.0.1", port=old.port)
        engine = sa.create_engine(old.url())
        with engine.connect() as conn:
            assert conn.execute(sa.text("SELECT 1")).scalar_one() == 1
        engine.dispose()
    finally:
        old.throwaway = True
        old.stop()


def test_the_psql_url_the_plugin_prints_connects_through_the_passfile(server: EmbeddedPostgres) -> None:
    from seedkit.pytest.run import psql_url

    url = psql_url(server.url("postgres"), server.passfile)
    assert make_url(url).password is None and f"passfile={server.passfile}" in url
    with psycopg.connect(url, connect_timeout=10) as conn:
        assert conn.execute("SELECT current_user").fetchone() == ("postgres",)
