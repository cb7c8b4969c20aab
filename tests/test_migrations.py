"""Alembic run in-process, the head check, a project's own migration command, and model/migration drift."""

from __future__ import annotations

import dataclasses
import shutil
import sys
from pathlib import Path

import pytest
import sqlalchemy as sa
from seedkit_reference.models import Base

from seedkit.errors import ConfigError, SchemaError
from seedkit.seeding import migrations
from seedkit.seeding.config import Profile, Settings

REPO = Path(__file__).resolve().parent.parent
REFERENCE_MIGRATIONS = REPO / "factories" / "migrations"

SECOND_REVISION = '''
"""add a nickname to users"""
import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("users", sa.Column("nickname", sa.String(40), nullable=True))


def downgrade() -> None:
    op.drop_column("users", "nickname")
'''


def reference_settings(tmp_path: Path, script_location: Path = REFERENCE_MIGRATIONS) -> Settings:
    return Settings(
        root=REPO / "factories",
        source=None,
        state_dir=tmp_path / ".seedkit",
        alembic_script_location=script_location,
    )


@pytest.fixture
def two_revisions(tmp_path: Path) -> Path:
    """A copy of the reference migrations with a second revision on top."""
    location = tmp_path / "migrations"
    shutil.copytree(REFERENCE_MIGRATIONS, location, ignore=shutil.ignore_patterns("__pycache__"))
    (location / "versions" / "0002_nickname.py").write_text(SECOND_REVISION)
    return location


def test_upgrade_brings_an_empty_database_to_head(empty_db_url: str, tmp_path: Path) -> None:
    settings = reference_settings(tmp_path)
    engine = sa.create_engine(empty_db_url)
    try:
        with engine.connect() as conn:
            assert migrations.current_revision(conn) is None
            with pytest.raises(SchemaError, match=r"none \(never migrated\).*head is 0001.*seedkit migrate"):
                migrations.check_at_head(conn, settings)
        migrations.upgrade(engine, settings)
        with engine.connect() as conn:
            assert migrations.current_revision(conn) == migrations.head_revision(settings) == "0001"
            migrations.check_at_head(conn, settings)
            assert {"organizations", "users", "orders", "order_items", "payments", "products"} <= set(
                sa.inspect(conn).get_table_names()
            )
    finally:
        engine.dispose()


def test_head_check_names_both_revisions_and_upgrade_reaches_the_new_head(
    engine: sa.Engine, tmp_path: Path, two_revisions: Path
) -> None:
    settings = reference_settings(tmp_path, two_revisions)
    with engine.connect() as conn, pytest.raises(SchemaError) as raised:
        migrations.check_at_head(conn, settings)
    message = str(raised.value)
    assert "at revision 0001" in message and "head is 0002" in message
    assert "seedkit migrate" in message and "migrate = true" in message

    migrations.upgrade(engine, settings)
    with engine.connect() as conn:
        assert migrations.current_revision(conn) == "0002"
        assert "nickname" in {c["name"] for c in sa.inspect(conn).get_columns("users")}


def test_upgrade_inside_a_callers_transaction_is_rolled_back_with_it(
    engine: sa.Engine, tmp_path: Path, two_revisions: Path
) -> None:
    settings = reference_settings(tmp_path, two_revisions)
    with engine.connect() as conn:
        transaction = conn.begin()
        migrations.upgrade(conn, settings)
        assert migrations.current_revision(conn) == "0002"
        transaction.rollback()
        assert migrations.current_revision(conn) == "0001"


def test_no_alembic_configuration_is_a_config_error(tmp_path: Path) -> None:
    settings = Settings(root=tmp_path, source=tmp_path / "seedkit.toml", state_dir=tmp_path)
    with pytest.raises(ConfigError, match="names no Alembic migrations"):
        migrations.head_revision(settings)


def test_migration_command_runs_against_the_target_database(empty_db_url: str, tmp_path: Path) -> None:
    """A project's own runner (here: the plain `alembic` command in a subprocess) gets the URL in its env."""
    settings = reference_settings(tmp_path)
    ini = REFERENCE_MIGRATIONS / "alembic.ini"
    record = tmp_path / "database_url.txt"
    recorder = tmp_path / "record.py"
    recorder.write_text(
        f"import os, pathlib\npathlib.Path({str(record)!r}).write_text(os.environ['DATABASE_URL'])\n"
    )
    command = f"{sys.executable} -m alembic -c {ini} upgrade head && {sys.executable} {recorder}"
    engine = sa.create_engine(empty_db_url)
    try:
        done = migrations.migrate(engine, settings, Profile(name="app", migration_command=command))
        assert "ran" in done
        with engine.connect() as conn:
            assert migrations.current_revision(conn) == "0001"
    finally:
        engine.dispose()
    assert record.read_text() == empty_db_url.replace("postgresql+psycopg://", "postgresql://")


def test_failing_migration_command_reports_its_stderr_tail(empty_db_url: str, tmp_path: Path) -> None:
    script = tmp_path / "migrate.py"
    script.write_text(
        "import sys\nprint('noise')\nsys.stderr.write('relation x is broken\\n')\nsys.exit(3)\n"
    )
    command = f"{sys.executable} {script}"
    with pytest.raises(migrations.MigrationError) as raised:
        migrations.run_migration_command(command, empty_db_url, cwd=tmp_path)
    assert "exited with status 3" in str(raised.value)
    assert "relation x is broken" in str(raised.value)
    assert raised.value.exit_code != 0


def test_migrations_match_the_models(engine: sa.Engine) -> None:
    """`alembic upgrade head` (the db_url template) creates exactly what seedkit_reference.models declares."""
    with engine.connect() as conn:
        assert migrations.schema_drift(conn, Base.metadata) == []


def test_drift_is_reported_when_the_models_change(engine: sa.Engine) -> None:
    changed = sa.MetaData(naming_convention=Base.metadata.naming_convention)
    for table in Base.metadata.tables.values():
        table.to_metadata(changed)
    changed.tables["users"].append_column(sa.Column("nickname", sa.String(40)))
    changed.tables["products"].c.name.type = sa.String(50)
    with engine.connect() as conn:
        drift = migrations.schema_drift(conn, changed)
    assert "table users: column nickname is only in the models" in drift
    assert (
        "table products: column name type is VARCHAR(200) in the database, VARCHAR(50) in the models" in drift
    )
    assert not any("(" in d.split(":")[0] or "Column(" in d for d in drift)  # no raw Alembic tuples


def test_models_in_a_second_schema_are_compared_in_that_schema(empty_db_url: str) -> None:
    """A model with ``schema="billing"`` matches its table there; drift in it names ``billing.<table>``."""
    models = sa.MetaData()
    sa.Table("accounts", models, sa.Column("id", sa.Integer, primary_key=True))
    invoices = sa.Table(
        "invoices",
        models,
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("account_id", sa.ForeignKey("accounts.id")),
        schema="billing",
    )
    engine = sa.create_engine(empty_db_url)
    try:
        with engine.begin() as conn:
            conn.execute(sa.text("CREATE SCHEMA billing"))
            conn.execute(sa.text("CREATE SCHEMA reporting"))  # not the models': never compared
            conn.execute(sa.text("CREATE TABLE reporting.daily (id int PRIMARY KEY)"))
            models.create_all(conn)
        with engine.connect() as conn:
            assert migrations.schema_drift(conn, models) == []
            invoices.append_column(sa.Column("memo", sa.Text))
            assert migrations.schema_drift(conn, models) == [
                "table billing.invoices: column memo is only in the models"
            ]
            assert sorted(migrations.schema_drift(conn, models, ["reporting"])) == [
                "table billing.invoices: column memo is only in the models",
                "table reporting.daily is only in the database",
            ]
    finally:
        engine.dispose()


def test_libpq_url_drops_the_driver() -> None:
    assert migrations.libpq_url("postgresql+psycopg://u:p@h:5/db") == "postgresql://u:p@h:5/db"
    assert migrations.libpq_url("postgresql://h/db") == "postgresql://h/db"


DRIFTED_MODELS = """
import sqlalchemy as sa
from seedkit_reference.models import Base

metadata = sa.MetaData(naming_convention=Base.metadata.naming_convention)
for table in Base.metadata.tables.values():
    table.to_metadata(metadata)
metadata.tables["orders"].append_column(sa.Column("coupon", sa.String(20)))
"""


def test_check_models_passes_at_head_and_names_the_drift(engine: sa.Engine, tmp_path: Path) -> None:
    (tmp_path / "drifted_models_module.py").write_text(DRIFTED_MODELS)
    matching = dataclasses.replace(reference_settings(tmp_path), models="seedkit_reference.models:Base")
    drifted = dataclasses.replace(matching, root=tmp_path, models="drifted_models_module:metadata")
    with engine.connect() as conn:
        assert (
            migrations.check_models(conn, matching) == "at head (0001), matches seedkit_reference.models:Base"
        )
        with pytest.raises(SchemaError, match=r"differs from drifted_models_module:metadata.*coupon"):
            migrations.check_models(conn, drifted)
