"""What `seedkit plan` and `seedkit seed --json` say of each factory volume (issue #11): the bulk
path (row or ORM) and why, whether the row path runs the factory's compiled plan or factory_boy's
resolver and why, and a first-root fallback's reason after seeding; and session flush listeners,
which bulk seeding would not run, refused in one line."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path
from typing import Any

import factory
import pytest
import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column, sessionmaker
from test_cli import run_cli

from seedkit.bulk import BulkSeeder
from seedkit.core.determinism import deterministic
from seedkit.errors import FactoryError
from seedkit.factories.alchemy import SQLAlchemyFactory

PROJECT = {
    "seedkit.toml": """
        factories = ["shop.factories"]

        [profiles.mixed]
        migrate = false
        volumes = [
            { factory = "AccountFactory", count = 2 },
            { factory = "ReprLedgerFactory", count = 3 },
            { factory = "TraitLedgerFactory", count = 2 },
        ]
    """,
    "shop/__init__.py": "",
    "shop/models.py": """
        import sqlalchemy as sa
        from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

        class Base(DeclarativeBase):
            pass

        class Account(Base):
            __tablename__ = "accounts"
            id: Mapped[int] = mapped_column(primary_key=True)
            name: Mapped[str] = mapped_column(sa.String(40))

        class Ledger(Base):
            __tablename__ = "ledgers"
            id: Mapped[int] = mapped_column(primary_key=True)
            account_id: Mapped[int] = mapped_column(sa.ForeignKey("accounts.id"))
            account: Mapped[Account] = relationship()
            code: Mapped[str] = mapped_column(sa.String(40))
    """,
    "shop/factories.py": """
        import factory
        import seedkit
        from shop.models import Account, Ledger

        class AccountFactory(seedkit.SQLAlchemyFactory):
            class Meta:
                model = Account
            name = factory.Sequence(lambda n: f"account {n}")

        class ReprLedgerFactory(seedkit.SQLAlchemyFactory):
            class Meta:
                model = Ledger
            account = factory.SubFactory(AccountFactory)
            # object's default repr: the row path refuses it at the first root
            code = factory.LazyAttribute(lambda o: f"{o.account.id}-{repr(o.account)[:1]}")

        class TraitLedgerFactory(ReprLedgerFactory):
            code = factory.Sequence(lambda n: f"t{n}")
            class Params:
                closed = factory.Trait(code="closed")
    """,
}

SCHEMA = """
    CREATE TABLE accounts (id serial PRIMARY KEY, name varchar(40) NOT NULL);
    CREATE TABLE ledgers (id serial PRIMARY KEY, account_id integer NOT NULL REFERENCES accounts (id),
                          code varchar(40) NOT NULL);
"""


def _project(root: Path) -> Path:
    for name, text in PROJECT.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text))
    return root


def test_plan_says_each_volumes_path_and_whether_its_plan_is_compiled(db_url: str, tmp_path: Path) -> None:
    shown = run_cli("plan", "--profile", "dev", "--database-url", db_url, "--json", cwd=tmp_path)

    assert shown.returncode == 0, shown.stderr
    factories = {entry["factory"]: entry for entry in json.loads(shown.stdout)["factories"]}
    organizations = factories["OrganizationFactory"]
    assert (organizations["path"], organizations["evaluation"]) == ("row", "compiled")
    products = factories["ProductFactory"]  # ReuseOrCreate: compiled through its own evaluate_pre
    assert (products["path"], products["evaluation"]) == ("row", "compiled")

    table = run_cli("plan", "--profile", "dev", "--database-url", db_url, cwd=tmp_path)
    assert table.returncode == 0, table.stderr
    assert "evaluation" in table.stdout and "compiled" in table.stdout


def test_seed_json_says_each_volumes_path_evaluation_and_a_first_root_fallback(
    empty_db_url: str, tmp_path: Path
) -> None:
    project = _project(tmp_path)
    engine = sa.create_engine(empty_db_url)
    with engine.begin() as conn:
        conn.exec_driver_sql(SCHEMA)
    engine.dispose()

    planned = run_cli("plan", "--profile", "mixed", "--database-url", empty_db_url, "--json", cwd=project)
    assert planned.returncode == 0, planned.stderr
    before = {entry["factory"]: entry for entry in json.loads(planned.stdout)["factories"]}
    assert before["ReprLedgerFactory"]["path"] == "row"  # only building a row shows the repr read

    seeded = run_cli("seed", "--profile", "mixed", "--database-url", empty_db_url, "--json", cwd=project)

    assert seeded.returncode == 0, seeded.stderr
    report = json.loads(seeded.stdout)
    entries = {entry["factory"]: entry for entry in report["factories"]}
    assert [entry["factory"] for entry in report["factories"]] == [
        "AccountFactory",
        "ReprLedgerFactory",
        "TraitLedgerFactory",
    ]
    accounts = entries["AccountFactory"]
    assert (accounts["count"], accounts["path"], accounts["evaluation"]) == (2, "row", "compiled")
    ledgers = entries["ReprLedgerFactory"]
    assert (ledgers["path"], ledgers["evaluation"]) == ("orm", "resolver")
    assert ledgers["why"].startswith("its first row needed the ORM: Account's repr() was read")
    traits = entries["TraitLedgerFactory"]
    assert (traits["path"], traits["evaluation"]) == ("row", "compiled")  # traits compile
    assert report["rows"] == {"accounts": 2 + 3 + 2, "ledgers": 3 + 2}


# -- session flush events: bulk never flushes, so a volume that would run them is refused ---------
class _Base(DeclarativeBase):
    pass


class Note(_Base):
    __tablename__ = "notes"
    id: Mapped[int] = mapped_column(primary_key=True)
    text: Mapped[str] = mapped_column(sa.String(40))


class NoteFactory(SQLAlchemyFactory):
    class Meta:
        model = Note

    id = factory.Sequence(lambda n: n + 1)
    text = factory.Sequence(lambda n: f"note {n}")


def audit_flush(session: Session, context: Any, instances: Any) -> None:
    session.info.setdefault("audited", 0)


NOTES_SESSIONS = sessionmaker()


class OwnSessionNoteFactory(NoteFactory):
    class Meta:
        sqlalchemy_session_factory = NOTES_SESSIONS


@pytest.mark.parametrize("where", ["Session", "the factory's sessionmaker"])
@pytest.mark.parametrize("row_path", [True, False], ids=["row path", "orm path"])
def test_a_session_flush_listener_is_never_skipped_silently(
    empty_db_url: str, where: str, row_path: bool
) -> None:
    target: Any = Session if where == "Session" else NOTES_SESSIONS
    factory_class = NoteFactory if where == "Session" else OwnSessionNoteFactory
    engine = sa.create_engine(empty_db_url)
    _Base.metadata.create_all(engine)
    event.listen(target, "before_flush", audit_flush)
    try:
        with engine.connect() as conn, conn.begin(), deterministic(seed=1):
            with pytest.raises(FactoryError) as caught, BulkSeeder(conn, row_path=row_path) as seeder:
                seeder.create(factory_class, 3)
            assert conn.execute(sa.text("SELECT count(*) FROM notes")).scalar() == 0
    finally:
        event.remove(target, "before_flush", audit_flush)
    message = str(caught.value)
    assert "\n" not in message
    assert factory_class.__name__ in message
    assert f"before_flush: {__name__}.audit_flush" in message

    with engine.connect() as conn, conn.begin(), deterministic(seed=1):  # without it: seeded
        with BulkSeeder(conn, row_path=row_path) as seeder:
            seeder.create(factory_class, 3)
        assert conn.execute(sa.text("SELECT count(*) FROM notes")).scalar() == 3
    engine.dispose()
