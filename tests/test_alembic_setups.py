"""Alembic as users set it up: the stock `alembic init` environment, a developer's URL in alembic.ini,
an env.py that migrates another database, a failing revision, an env.py that cannot import."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from conftest import create_database, drop_database

from seedkit.seeding import migrations
from seedkit.seeding.config import Settings

REVISION = '''
"""{doc}"""
from alembic import op

revision = "{revision}"
down_revision = {down!r}
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("{sql}")


def downgrade() -> None:
    pass
'''


def stock_project(root: Path, *, ini_url: str | None = None) -> Settings:
    """What `alembic init alembic` makes, with revisions 0001 (a table) and 0002 (a column)."""
    root.mkdir(parents=True, exist_ok=True)
    ini = root / "alembic.ini"
    command.init(Config(str(ini)), str(root / "alembic"))
    if ini_url is not None:  # a developer's own database, as many alembic.ini files carry
        text = ini.read_text().replace("driver://user:pass@localhost/dbname", ini_url.replace("%", "%%"))
        ini.write_text(text)
    write_revision(root, "0001", None, "CREATE TABLE notes (id int PRIMARY KEY)")
    write_revision(root, "0002", "0001", "ALTER TABLE notes ADD COLUMN body text")
    return Settings(root=root, source=root / "seedkit.toml", state_dir=root / ".seedkit", alembic_ini=ini)


def write_revision(root: Path, revision: str, down: str | None, sql: str) -> Path:
    path = root / "alembic" / "versions" / f"{revision}_step.py"
    path.write_text(REVISION.format(doc=f"step {revision}", revision=revision, down=down, sql=sql))
    return path


def table_names(url: str) -> list[str]:
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            return sorted(sa.inspect(conn).get_table_names())
    finally:
        engine.dispose()


@pytest.fixture
def developer_db(pg_server_url: str) -> Iterator[str]:
    name = f"app_dev_{uuid.uuid4().hex[:8]}"
    yield create_database(pg_server_url, name)
    drop_database(pg_server_url, name)


def test_the_stock_env_with_its_placeholder_url_migrates_the_target(
    empty_db_url: str, tmp_path: Path
) -> None:
    settings = stock_project(tmp_path / "app")  # alembic.ini keeps driver://user:pass@localhost/dbname
    engine = sa.create_engine(empty_db_url)
    try:
        migrations.upgrade(engine, settings)
        with engine.connect() as conn:
            assert migrations.current_revision(conn) == "0002"
    finally:
        engine.dispose()
    assert table_names(empty_db_url) == ["alembic_version", "notes"]


def test_a_developers_url_in_alembic_ini_is_never_migrated(
    empty_db_url: str, developer_db: str, tmp_path: Path
) -> None:
    settings = stock_project(tmp_path / "app", ini_url=developer_db)
    engine = sa.create_engine(empty_db_url)
    try:
        migrations.migrate(engine, settings)
    finally:
        engine.dispose()
    assert table_names(empty_db_url) == ["alembic_version", "notes"]
    assert table_names(developer_db) == []


def test_an_env_py_that_migrates_another_database_is_an_error(
    empty_db_url: str, developer_db: str, tmp_path: Path
) -> None:
    settings = stock_project(tmp_path / "app")
    env_py = settings.root / "alembic" / "env.py"
    text = env_py.read_text()
    text = text.replace(
        "config.get_section(config.config_ini_section, {}),",
        f"{{'sqlalchemy.url': {developer_db!r}}},",
    )
    env_py.write_text(text)
    engine = sa.create_engine(empty_db_url)
    try:
        with pytest.raises(
            migrations.MigrationError,
            match=r"is at revision none, not 0002: env.py migrated another database",
        ):
            migrations.upgrade(engine, settings)
    finally:
        engine.dispose()
    assert table_names(empty_db_url) == []


def test_a_failing_revision_is_named_with_its_file(empty_db_url: str, tmp_path: Path) -> None:
    settings = stock_project(tmp_path / "app")
    failing = write_revision(settings.root, "0002", "0001", "SELECT 1/0")
    write_revision(settings.root, "0003", "0002", "ALTER TABLE notes ADD COLUMN body text")
    engine = sa.create_engine(empty_db_url)
    try:
        with pytest.raises(migrations.MigrationError) as raised:
            migrations.upgrade(engine, settings)
    finally:
        engine.dispose()
    message = str(raised.value)
    assert f"failed in revision 0002 ({failing})" in message
    assert "division by zero" in message
    assert "\n" not in message


def test_an_env_py_that_cannot_import_its_models_is_one_line(empty_db_url: str, tmp_path: Path) -> None:
    settings = stock_project(tmp_path / "elsewhere")
    env_py = settings.root / "alembic" / "env.py"
    env_py.write_text("from myapp_not_installed.models import Base\n" + env_py.read_text())
    engine = sa.create_engine(empty_db_url)
    try:
        with pytest.raises(migrations.MigrationError) as raised:
            migrations.upgrade(engine, settings)
    finally:
        engine.dispose()
    message = str(raised.value)
    assert (
        f"in {env_py}" in message and "ModuleNotFoundError: No module named 'myapp_not_installed'" in message
    )
    assert table_names(empty_db_url) == []


COOKBOOK_ONLINE = """def run_migrations_online() -> None:
    connection = config.attributes.get("connection")  # Alembic's cookbook: share the caller's connection
    if connection is not None:
        context.configure(connection=connection, target_metadata=target_metadata)
        with context.begin_transaction():
            context.run_migrations()
        return
    connectable = engine_from_config("""


@pytest.mark.parametrize("env", ["stock", "cookbook"])
def test_what_a_failed_seeding_leaves_depends_on_whether_env_py_shares_the_connection(
    empty_db_url: str, tmp_path: Path, env: str
) -> None:
    """docs/safety.md: the stock env.py opens its own connection, so its migration commits on its own
    and a seeding that fails afterwards leaves the database migrated (without data); an env.py that
    uses config.attributes["connection"] migrates inside the seeding's transaction, undone with it."""
    settings = stock_project(tmp_path / "app")
    if env == "cookbook":
        env_py = settings.root / "alembic" / "env.py"
        text = env_py.read_text()
        assert "def run_migrations_online() -> None:" in text
        start = text.index("def run_migrations_online() -> None:")
        opening = text.index("    connectable = engine_from_config(", start)
        env_py.write_text(
            text[:start] + COOKBOOK_ONLINE + text[opening + len("    connectable = engine_from_config(") :]
        )
    engine = sa.create_engine(empty_db_url)
    try:
        with engine.connect() as conn:
            seeding = conn.begin()  # what seedkit seed does: migrate, then seed, in one transaction
            migrations.migrate(conn, settings)
            seeding.rollback()  # the seeding failed after the migration
    finally:
        engine.dispose()
    expected = ["alembic_version", "notes"] if env == "stock" else []
    assert table_names(empty_db_url) == expected


def test_a_failed_seed_says_when_the_stock_env_py_left_the_schema_migrated(
    empty_db_url: str, tmp_path: Path
) -> None:
    """The stock env.py commits its migration by itself: the error must not claim both stores are as they
    were; it says the data is, and names the revision that stayed. With the cookbook env.py nothing stays."""
    from seedkit.errors import SeedkitError
    from seedkit.seeding.config import load_settings
    from seedkit.seeding.runner import seed_profile

    root = tmp_path / "app"
    stock_project(root)
    write_revision(root, "0003", "0002", "ALTER TABLE notes ADD CONSTRAINT positive CHECK (id > 0)")
    (root / "packs" / "notes").mkdir(parents=True)
    (root / "packs" / "notes" / "pack.yaml").write_text("name: notes\nfiles: {notes.yaml: postgres}\n")
    (root / "packs" / "notes" / "notes.yaml").write_text("bad:\n  id: -1\n  body: refused by the CHECK\n")
    (root / "seedkit.toml").write_text(
        'factories = []\npacks = "packs"\nalembic = { ini = "alembic.ini" }\n'
        '[profiles.demo]\npacks = ["notes"]\n'
    )
    settings = load_settings(root / "seedkit.toml")
    with pytest.raises(SeedkitError) as failed:
        seed_profile(settings, "demo", database_url=empty_db_url)
    message = str(failed.value)
    assert "both stores are as they were" not in message
    assert "but the migrations stayed committed (alembic_version none -> 0003, 2 table(s) created" in message
    assert table_names(empty_db_url) == ["alembic_version", "notes"]
