"""Packs on schemas other than the reference one: found by reflection, including cycles."""

from __future__ import annotations

import sys
import uuid
from collections.abc import Iterator
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import factory
import pytest
import sqlalchemy as sa
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship
from test_packs_support import state, write_pack

import seedkit
from seedkit.core.determinism import deterministic
from seedkit.core.ids import label_int, label_object_id, label_uuid
from seedkit.errors import PackError
from seedkit.packs import apply_packs, resolve_packs, validate_packs
from seedkit.stores.schema import reflect_schema


@pytest.fixture
def custom(empty_db_url: str) -> Iterator[sa.Engine]:
    eng = sa.create_engine(empty_db_url)
    yield eng
    eng.dispose()


def ddl(engine: sa.Engine, *statements: str) -> None:
    with engine.begin() as conn:
        for statement in statements:
            conn.execute(sa.text(statement))


def load(engine: sa.Engine, root: Path, name: str, mongo: Any = None) -> dict[str, int]:
    with deterministic(0, start="2025-06-01T12:00:00Z") as context, engine.connect() as conn:
        return apply_packs(resolve_packs([name], [root]), connection=conn, mongo=mongo, context=context)


def rows(engine: sa.Engine, query: str) -> list[Any]:
    with engine.connect() as conn:
        return list(conn.execute(sa.text(query)))


def test_self_reference_children_listed_before_parents_and_a_cycle_of_rows(
    tmp_path: Path, custom: sa.Engine
) -> None:
    ddl(
        custom,
        "CREATE TABLE employees (id int PRIMARY KEY, name text NOT NULL,"
        " manager_id int REFERENCES employees(id))",
    )
    write_pack(
        tmp_path,
        "staff",
        {
            "employees.yaml": """
                dev:
                  name: Dev
                  manager_id: "@employees.cto"
                cto:
                  name: CTO
                  manager_id: "@employees.ceo"
                ceo:
                  name: CEO
                left:
                  name: Left
                  manager_id: "@employees.right"
                right:
                  name: Right
                  manager_id: "@employees.left"
            """
        },
    )
    assert load(custom, tmp_path, "staff") == {"pg:employees": 5}
    managers = {r.name: r.manager_id for r in rows(custom, "SELECT name, manager_id FROM employees")}
    ids = {name: label_int("employees", name) for name in ("dev", "cto", "ceo", "left", "right")}
    assert managers == {
        "Dev": ids["cto"], "CTO": ids["ceo"], "CEO": None, "Left": ids["right"], "Right": ids["left"],
    }  # fmt: skip


def test_two_table_cycle_is_inserted_with_null_then_updated(tmp_path: Path, custom: sa.Engine) -> None:
    ddl(
        custom,
        "CREATE TABLE teams (id uuid PRIMARY KEY, name text NOT NULL, captain_id uuid)",
        "CREATE TABLE players (id uuid PRIMARY KEY, team_id uuid NOT NULL REFERENCES teams(id),"
        " name text NOT NULL)",
        "ALTER TABLE teams ADD CONSTRAINT teams_captain FOREIGN KEY (captain_id) REFERENCES players(id)",
    )
    write_pack(
        tmp_path,
        "league",
        {
            "players.yaml": """
                ann: {team_id: "@teams.reds", name: Ann}
                bob: {team_id: "@teams.reds", name: Bob}
            """,
            "teams.yaml": 'reds:\n  name: Reds\n  captain_id: "@players.ann"\n',
        },
    )
    assert load(custom, tmp_path, "league") == {"pg:players": 2, "pg:teams": 1}
    (team,) = rows(custom, "SELECT * FROM teams")
    assert team.id == label_uuid("teams", "reds") and team.captain_id == label_uuid("players", "ann")
    assert {r.team_id for r in rows(custom, "SELECT team_id FROM players")} == {team.id}


def test_not_null_cycle_is_a_clear_error(tmp_path: Path, custom: sa.Engine) -> None:
    ddl(
        custom,
        "CREATE TABLE a (id int PRIMARY KEY, b_id int NOT NULL)",
        "CREATE TABLE b (id int PRIMARY KEY, a_id int NOT NULL REFERENCES a(id))",
        "ALTER TABLE a ADD CONSTRAINT a_b FOREIGN KEY (b_id) REFERENCES b(id)",
    )
    write_pack(tmp_path, "loop", {"a.yaml": "x:\n  b_id: '@b.y'\n", "b.yaml": "y:\n  a_id: '@a.x'\n"})
    before = state(custom)
    with pytest.raises(PackError, match="no nullable key"):
        load(custom, tmp_path, "loop")
    assert state(custom) == before


@pytest.mark.mongo
def test_label_ids_follow_the_primary_key_type(tmp_path: Path, custom: sa.Engine, mongo_db: Any) -> None:
    ddl(
        custom,
        "CREATE TABLE countries (code text PRIMARY KEY, name text NOT NULL)",
        "CREATE TABLE cities (id bigserial PRIMARY KEY,"
        " country_code text NOT NULL REFERENCES countries(code),"
        " name text NOT NULL, founded date, population integer, capital boolean NOT NULL DEFAULT false,"
        " area numeric(8, 1), tags text[], info jsonb, updated_at timestamp NOT NULL)",
        "CREATE TABLE memberships (city_id bigint REFERENCES cities(id),"
        " country_code text REFERENCES countries(code),"
        " since timestamptz NOT NULL, PRIMARY KEY (city_id, country_code))",
    )
    write_pack(
        tmp_path,
        "geo",
        {
            "countries.csv": "_label,name\nfr,France\nde,Germany\n",
            "cities.csv": (
                "_label,country_code,name,founded,population,capital,area,tags,info,updated_at\n"
                "paris,@countries.fr,Paris,0250-01-01,2100000,true,105.4,"
                '"[""a"", ""b""]","{""twin"": ""@cities.berlin""}",-1d\n'
                "berlin,@countries.de,Berlin,1237-10-28,,,,,,2025-05-01T10:00:00+02:00\n"
            ),
            "memberships.yaml": 'm1:\n  city_id: "@cities.paris"\n  country_code: "@countries.fr"\n',
            "landmarks.yaml": """
                eiffel: {city: "@cities.paris", country: "@countries.fr", at: "@now", twin: "@landmarks.gate"}
                gate: {city: "@cities.berlin"}
            """,
        },
        mongo=("landmarks.yaml",),
    )
    counts = load(custom, tmp_path, "geo", mongo_db)
    assert counts == {"pg:countries": 2, "pg:cities": 2, "pg:memberships": 1, "mongo:landmarks": 2}
    cities = {r.name: r for r in rows(custom, "SELECT * FROM cities")}
    paris, berlin = cities["Paris"], cities["Berlin"]
    assert paris.id == label_int("cities", "paris") and paris.country_code == "fr"
    assert (paris.founded, paris.population, paris.capital, paris.area) == (
        date(250, 1, 1),
        2100000,
        True,
        Decimal("105.4"),
    )
    assert paris.tags == ["a", "b"] and paris.info == {"twin": label_int("cities", "berlin")}
    assert paris.updated_at == datetime(2025, 5, 31, 12, 0)  # timestamp without time zone: UTC wall time
    assert (
        berlin.updated_at == datetime(2025, 5, 1, 8, 0)
        and berlin.capital is False
        and berlin.population is None
    )
    (membership,) = rows(custom, "SELECT * FROM memberships")
    assert membership.city_id == paris.id and membership.since == datetime(2025, 6, 1, 12, tzinfo=UTC)
    eiffel = mongo_db.landmarks.find_one({"_id": label_object_id("landmarks", "eiffel")})
    assert eiffel["city"] == paris.id and eiffel["country"] == "fr"  # integer and text keys keep their type
    assert eiffel["twin"] == label_object_id("landmarks", "gate")  # Mongo to Mongo: the ObjectId


def test_records_of_a_composite_key_table_cannot_be_referred_to(tmp_path: Path, custom: sa.Engine) -> None:
    ddl(
        custom,
        "CREATE TABLE tags (a int, b int, PRIMARY KEY (a, b))",
        "CREATE TABLE notes (id uuid PRIMARY KEY, tag_a int)",
    )
    write_pack(
        tmp_path, "t", {"tags.yaml": "t1:\n  a: 1\n  b: 2\n", "notes.yaml": "n1:\n  tag_a: '@tags.t1'\n"}
    )
    with custom.connect() as conn:
        schema = reflect_schema(conn)
    (problem,) = validate_packs(resolve_packs(["t"], [tmp_path]), schema=schema)
    assert (problem.record, problem.field) == ("n1", "tag_a")
    assert "no single-column primary key" in problem.reason


def test_explicit_primary_keys_win_over_labels(tmp_path: Path, custom: sa.Engine) -> None:
    fixed = uuid.UUID("00000000-0000-4000-8000-000000000001")
    ddl(
        custom,
        "CREATE TABLE owners (id uuid PRIMARY KEY)",
        "CREATE TABLE pets (id int PRIMARY KEY, owner_id uuid REFERENCES owners(id))",
    )
    write_pack(
        tmp_path,
        "p",
        {"owners.yaml": f"o:\n  id: {fixed}\n", "pets.yaml": "rex:\n  id: 7\n  owner_id: '@owners.o'\n"},
    )
    load(custom, tmp_path, "p")
    assert [tuple(r) for r in rows(custom, "SELECT id, owner_id FROM pets")] == [(7, fixed)]


def test_validate_with_schema_finds_type_problems_without_writing(tmp_path: Path, custom: sa.Engine) -> None:
    ddl(custom, "CREATE TABLE t (id smallint PRIMARY KEY, n int NOT NULL, ok boolean, at date)")
    write_pack(
        tmp_path,
        "p",
        {"t.yaml": "a:\n  n: 3000000000\n  ok: maybe\n  at: '@now-1d'\nb:\n  id: 1\n  n: 1.5\n"},
    )
    with custom.connect() as conn:
        schema = reflect_schema(conn)
    problems = {
        (p.record, p.field): p.reason for p in validate_packs(resolve_packs(["p"], [tmp_path]), schema=schema)
    }
    assert problems == {
        ("a", "n"): "3000000000 is out of range for INTEGER",
        ("a", "ok"): "expected true or false, got text 'maybe'",
        ("a", "id"): problems[("a", "id")],
        ("b", "n"): "expected an integer, got number 1.5",
    }
    assert "out of range for SMALLINT; give 'id' explicitly" in problems[("a", "id")]


def test_a_reference_outside_foreign_keys_needs_no_insertion_order(tmp_path: Path, custom: sa.Engine) -> None:
    """``audit`` sorts before ``zebras`` and has no foreign key: the ID is just a value."""
    ddl(
        custom,
        "CREATE TABLE zebras (id uuid PRIMARY KEY)",
        "CREATE TABLE audit (id int PRIMARY KEY, about uuid NOT NULL)",
    )
    write_pack(tmp_path, "z", {"audit.yaml": "a1:\n  about: '@zebras.zed'\n", "zebras.yaml": "zed: {}\n"})
    assert load(custom, tmp_path, "z") == {"pg:audit": 1, "pg:zebras": 1}
    assert [r.about for r in rows(custom, "SELECT about FROM audit")] == [label_uuid("zebras", "zed")]


def test_a_bad_primary_key_is_reported_once(tmp_path: Path, custom: sa.Engine) -> None:
    ddl(custom, "CREATE TABLE owners (id uuid PRIMARY KEY)")
    write_pack(tmp_path, "p", {"owners.yaml": "o:\n  id: not-a-uuid\n"})
    with custom.connect() as conn:
        schema = reflect_schema(conn)
    problems = validate_packs(resolve_packs(["p"], [tmp_path]), schema=schema)
    assert [(p.record, p.field, p.reason) for p in problems] == [
        ("o", "id", "expected a UUID, got text 'not-a-uuid'")
    ]


class TaskBase(DeclarativeBase):
    pass


class Person(TaskBase):
    __tablename__ = "people"
    id: Mapped[int] = mapped_column(sa.Integer, primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(50))


class Task(TaskBase):
    __tablename__ = "tasks"
    id: Mapped[int] = mapped_column(sa.Integer, primary_key=True)
    title: Mapped[str] = mapped_column(sa.String(50))
    assignee_id: Mapped[int | None] = mapped_column(sa.ForeignKey("people.id"))  # nullable
    assignee: Mapped[Person | None] = relationship()


class PersonFactory(seedkit.SQLAlchemyFactory):
    class Meta:
        model = Person

    name = factory.Faker("first_name")


class TaskFactory(seedkit.SQLAlchemyFactory):
    class Meta:
        model = Task

    title = factory.Faker("sentence", nb_words=3)
    assignee = factory.SubFactory(PersonFactory)


def test_a_factory_record_whose_subfactory_parent_a_pack_cannot_write_is_refused(
    tmp_path: Path, custom: sa.Engine
) -> None:
    TaskBase.metadata.create_all(custom)
    write_pack(
        tmp_path,
        "work",
        {
            "people.yaml": "ann: {name: Ann}\n",
            "tasks.yaml": """
                given: {_factory: TaskFactory, assignee_id: "@people.ann"}
                orphan: {_factory: TaskFactory, title: Orphan}
            """,
        },
    )
    packs = resolve_packs(["work"], [tmp_path])
    with custom.connect() as conn:
        problems = validate_packs(packs, schema=reflect_schema(conn), factory_modules=[sys.modules[__name__]])
    assert [(p.record, p.field) for p in problems] == [("orphan", "assignee_id")]
    assert "TaskFactory builds 'assignee' (a SubFactory), which a pack does not write" in str(problems[0])
    with (
        pytest.raises(
            PackError, match=r"record 'orphan', field 'assignee_id': TaskFactory builds 'assignee'"
        ),
        deterministic(0) as context,
        custom.connect() as conn,
    ):
        apply_packs(
            packs, connection=conn, mongo=None, context=context, factory_modules=[sys.modules[__name__]]
        )
    assert rows(custom, "SELECT count(*) FROM tasks") == [(0,)]  # nothing written, not a NULL assignee


def test_validation_and_loading_agree_on_what_a_factory_leaves_empty(
    tmp_path: Path, custom: sa.Engine
) -> None:
    ddl(custom, "CREATE TABLE notes (id int PRIMARY KEY, body text NOT NULL, author text NOT NULL)")
    write_pack(tmp_path, "notes", {"notes.yaml": "first: {_factory: NoteFactory}\n"})
    packs = resolve_packs(["notes"], [tmp_path])
    with custom.connect() as conn:
        problems = validate_packs(packs, schema=reflect_schema(conn), factory_modules=[sys.modules[__name__]])
    assert [(p.record, p.field) for p in problems] == [("first", "author")]
    with pytest.raises(PackError) as loading, deterministic(0) as context, custom.connect() as conn:
        apply_packs(
            packs, connection=conn, mongo=None, context=context, factory_modules=[sys.modules[__name__]]
        )
    assert str(loading.value) == str(problems[0])


class NoteFactory(factory.DictFactory):
    body = factory.Faker("sentence")  # builds no author


@pytest.mark.mongo
def test_a_load_that_fails_after_moving_a_sequence_puts_it_back(
    tmp_path: Path, custom: sa.Engine, mongo_db: Any
) -> None:
    """``setval`` outlives a ROLLBACK: the sequence the labels moved goes back with the rows."""
    ddl(custom, "CREATE TABLE tags (id serial PRIMARY KEY, name text NOT NULL)")
    ddl(custom, "INSERT INTO tags (name) VALUES ('existing')")
    mongo_db["events"].insert_one({"_id": "taken"})
    write_pack(
        tmp_path,
        "tagged",
        {"tags.yaml": "red:\n  name: Red\n", "events.yaml": "taken:\n  _id: taken\n  kind: clash\n"},
        mongo=("events.yaml",),
    )
    before = rows(custom, "SELECT last_value, is_called FROM tags_id_seq")
    with pytest.raises(PackError, match="taken"):
        load(custom, tmp_path, "tagged", mongo=mongo_db)
    assert rows(custom, "SELECT name FROM tags") == [("existing",)]
    assert rows(custom, "SELECT last_value, is_called FROM tags_id_seq") == before
    with custom.begin() as conn:  # the application's next insert takes the next key, as before the load
        assert conn.execute(sa.text("INSERT INTO tags (name) VALUES ('n') RETURNING id")).scalar() == 2
