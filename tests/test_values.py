"""seedkit.values: fast pooled declarations, each drawing from its own deterministic stream."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import factory
import factory.fuzzy
import freezegun
import pytest
import sqlalchemy as sa
from conftest import connect_test_mongo
from seedkit_reference.models import Organization, User
from sqlalchemy.orm import Session

from seedkit import MongoFactory, SQLAlchemyFactory, values
from seedkit.bulk import BulkSeeder
from seedkit.bulk.paths import decide_call
from seedkit.core.declarations import Now, UUIDFor
from seedkit.core.determinism import current, deterministic
from seedkit.errors import FactoryError
from seedkit.factories.binding import bind
from seedkit.generate.pools import pool
from seedkit.stores.fingerprint import fingerprint

REPO = Path(__file__).resolve().parent.parent

# Defined the same way here and in the subprocesses of the cross-process test.
PEOPLE = """
import factory
from seedkit import values

class Tier:  # the default repr (an address): must not seed anything
    def __init__(self, name):
        self.name = name

    def __str__(self):
        return self.name


TIERS = [Tier("gold"), Tier("silver"), Tier("bronze")]


class PersonFactory(factory.DictFactory):
    first_name = values.FirstName()
    last_name = values.LastName()
    email = values.Email("first_name", "last_name", unique=True)
    name = values.Name(locale="fr_FR")
    company = values.Company()
    city = values.City()
    phone = values.PhoneNumber()
    bio = values.Paragraph()
    joined = values.DateTimeBetween("-2y", "now")
    born = values.DateBetween("-60y", "-18y")
    score = values.PyDecimal("0", "100", 3)
    level = values.PyInt(1, 9)
    plan = values.RandomElement({"free": 8, "pro": 2})
    tier = values.RandomElement(TIERS)
"""


def _people(seed: int, count: int) -> list[dict[str, Any]]:
    namespace: dict[str, Any] = {}
    exec(PEOPLE, namespace)
    with deterministic(seed=seed):
        return list(namespace["PersonFactory"].build_batch(count))


def _as_json(rows: list[dict[str, Any]]) -> str:
    return json.dumps(rows, default=str, sort_keys=True)


def _factory(base: type, name: str, fields: dict[str, Any], **meta: Any) -> type:
    """A factory class called ``name`` (so its streams are named ``<name>.<field>`` whatever the test)."""
    attrs: dict[str, Any] = dict(fields)
    if meta:
        attrs["Meta"] = type("Meta", (), meta)
    return type(name, (base,), attrs)


# -- determinism ---------------------------------------------------------------------------------
def test_same_seed_gives_the_same_values_in_separate_processes() -> None:
    script = (
        "import json, sys\n"
        f"from seedkit.core.determinism import deterministic\n{PEOPLE}\n"
        "with deterministic(seed=5):\n"
        "    rows = PersonFactory.build_batch(300)\n"
        "print(json.dumps(rows, default=str, sort_keys=True))\n"
    )
    outputs = []
    for hash_seed in ("1", "2"):  # str hashing differs between them: nothing may depend on it
        env = {**os.environ, "PYTHONHASHSEED": hash_seed}
        done = subprocess.run(
            [sys.executable, "-c", script], capture_output=True, text=True, env=env, cwd=REPO, check=True
        )
        outputs.append(done.stdout.strip())
    assert outputs[0] == outputs[1] == _as_json(_people(5, 300))
    assert _as_json(_people(6, 300)) != outputs[0]


def test_a_fields_values_do_not_depend_on_the_other_fields() -> None:
    name, joined, plan = values.Name(), values.DateTimeBetween("-1y", "now"), values.RandomElement("abc")
    wide = _factory(
        factory.DictFactory,
        "AccountFactory",
        {
            "a": factory.Faker("word"),
            "name": name,
            "email": values.Email(unique=True),
            "joined": joined,
            "plan": plan,
            "n": factory.Sequence(int),
        },
    )
    narrow = _factory(  # other fields removed, one added, the order changed
        factory.DictFactory,
        "AccountFactory",
        {
            "plan": values.RandomElement("abc"),
            "b": factory.fuzzy.FuzzyInteger(0, 10),
            "joined": values.DateTimeBetween("-1y", "now"),
            "name": values.Name(),
        },
    )
    with deterministic(seed=3):
        first = wide.build_batch(200)
    with deterministic(seed=3):
        second = narrow.build_batch(200)
    for field in ("name", "joined", "plan"):
        assert [row[field] for row in first] == [row[field] for row in second], field
    assert len({row["name"] for row in first}) > 100


def test_a_stream_is_named_by_the_declaring_factory_and_field() -> None:
    fields = {"name": values.Name(), "other": values.Name()}
    one = _factory(factory.DictFactory, "OneFactory", fields)
    two = _factory(factory.DictFactory, "TwoFactory", {"name": values.Name()})
    with deterministic(seed=1):
        rows = one.build_batch(50)
        elsewhere = [row["name"] for row in two.build_batch(50)]
    assert [r["name"] for r in rows] != [r["other"] for r in rows]
    assert [r["name"] for r in rows] != elsewhere


def test_a_subclass_continues_its_parents_stream_so_unique_values_stay_unique() -> None:
    parent = _factory(factory.DictFactory, "MemberFactory", {"email": values.Email(unique=True)})
    child = type("AdminFactory", (parent,), {})
    with deterministic(seed=2):
        emails = [parent.build()["email"] if i % 3 else child.build()["email"] for i in range(3000)]
    assert len(set(emails)) == 3000


def test_batch_draws_are_exactly_the_values_built_one_by_one() -> None:
    people = _factory(
        factory.DictFactory,
        "BatchFactory",
        {
            "first_name": values.FirstName(),
            "last_name": values.LastName(),
            "email": values.Email("first_name", "last_name", unique=True),
            "text": values.Text(120),
            "born": values.DateBetween("-60y", "-18y"),
            "id": values.Uuid4(cast_to=None),
        },
    )
    with deterministic(seed=9):
        built = people.build_batch(2500)
    with deterministic(seed=9):
        drawn: dict[str, list[Any]] = {}
        for field in ("first_name", "last_name", "text", "born", "id"):
            declaration = people._meta.declarations[field]
            chunks = [declaration.draw(size) for size in (1, 2, 13, 500, 0, 1984)]  # across block boundaries
            drawn[field] = [value for chunk in chunks for value in chunk]
        assert people._meta.declarations["email"].reads == ("first_name", "last_name")
        drawn["email"] = people._meta.declarations["email"].draw(
            2500, {"first_name": drawn["first_name"], "last_name": drawn["last_name"]}
        )
    for field, column in drawn.items():
        assert column == [row[field] for row in built], field


def test_a_declaration_passed_at_the_call_site_has_the_stream_of_its_factory_and_field() -> None:
    people = _factory(factory.DictFactory, "CallSiteFactory", {"n": factory.Sequence(int)})
    with deterministic(seed=4):
        passed = [people.build(city=values.City())["city"] for _ in range(40)]  # a new declaration per call
    with deterministic(seed=4):
        drawn = values.City().draw(40, factory=people, field="city")
    assert passed == drawn
    assert len(set(passed)) > 20
    with pytest.raises(FactoryError, match="no stream name; pass factory= and field="):
        values.City().draw(3)
    # A declaration of a class body keeps its stream whatever factory evaluates it (a subclass).
    declared = _factory(factory.DictFactory, "DeclaredFactory", {"city": values.City()})
    subclass = type("SubclassFactory", (declared,), {})
    with deterministic(seed=4):
        built = [subclass.build()["city"] for _ in range(40)]
    with deterministic(seed=4):
        assert declared._meta.declarations["city"].draw(40, factory=subclass, field="city") == built


def test_the_context_resets_the_streams_and_a_nested_one_leaves_them_alone() -> None:
    people = _factory(factory.DictFactory, "ResetFactory", {"name": values.Name()})
    with deterministic(seed=8) as context:
        first = [people.build()["name"] for _ in range(30)]
        with deterministic(seed=99):
            inner = [people.build()["name"] for _ in range(30)]
        rest = [people.build()["name"] for _ in range(30)]
        context.reset()
        again = [people.build()["name"] for _ in range(60)]
    assert again == first + rest
    assert inner != first
    assert current().value_streams is not context.value_streams


# -- kinds of values --------------------------------------------------------------------------------
def test_unique_emails_stay_unique_over_100k_and_between_partitions() -> None:
    free = values.Email(unique=True, stream="users.email")
    with deterministic(seed=1):
        emails = free.draw(100_000)
    assert len(set(emails)) == 100_000
    assert all(e.count("@") == 1 and e.endswith(tuple(pool("domain"))) for e in emails[:1000])

    same_names = values.Email("first", "last", unique=True, stream="users.email")
    with deterministic(seed=1):
        derived = same_names.draw(100_000, {"first": ["Ann"] * 100_000, "last": ["O'Neil"] * 100_000})
    assert len(set(derived)) == 100_000
    assert derived[0].startswith("ann.oneil")
    # Partitions: the same names and few numbers and domains, so only the index keeps them apart.
    with deterministic(seed=1, partition=1):
        other_partition = same_names.draw(100_000, {"first": ["Ann"] * 100_000, "last": ["O'Neil"] * 100_000})
    assert not set(derived) & set(other_partition)


def test_date_ranges_follow_the_injected_clock_not_the_wall_clock() -> None:
    stamps = _factory(
        factory.DictFactory,
        "StampFactory",
        {
            "at": Now(),  # reads tick the clock: the ranges must not move with them
            "recent": values.DateTimeBetween("-1w", "now"),
            "due": values.DateBetween("+1d", "+30d"),
            "local": values.DateTimeBetween("-1d", "+1d", tzinfo=None),
            "fixed": values.DateTimeBetween(datetime(2020, 1, 1, tzinfo=UTC), "now"),
        },
    )
    start = datetime(2031, 5, 6, 7, 8, 9, tzinfo=UTC)
    with freezegun.freeze_time("1999-01-01"), deterministic(seed=1, start=start, step="1h"):
        rows = stamps.build_batch(500)
    for row in rows:
        assert start - timedelta(weeks=1) <= row["recent"] < start
        assert row["recent"].tzinfo is UTC
        assert start.date() + timedelta(days=1) <= row["due"] <= start.date() + timedelta(days=30)
        assert row["local"].tzinfo is None
        assert (
            start.replace(tzinfo=None) - timedelta(days=1)
            <= row["local"]
            < start.replace(tzinfo=None) + timedelta(days=1)
        )
        assert datetime(2020, 1, 1, tzinfo=UTC) <= row["fixed"] < start
    assert len({row["recent"] for row in rows}) > 450
    later = start + timedelta(days=400)
    with deterministic(seed=1, start=later):
        moved = stamps.build_batch(500)
    assert [r["recent"] + timedelta(days=400) for r in rows] == [m["recent"] for m in moved]


def test_values_come_from_the_locales_pools_and_stay_in_their_ranges() -> None:
    fields = {
        "first": values.FirstName(locale="fr_FR"),
        "city": values.City(locale="de_DE"),
        "price": values.PyDecimal("1.00", "250.00"),
        "count": values.PyInt(1, 5),
        "ratio": values.PyFloat(0.5, 0.75),
        "plan": values.RandomElement(["free", "pro"], weights=[9, 1]),
        "flag": values.Boolean(chance_of_getting_true=10),
        "sentence": values.Sentence(nb_words=6),
        "text": values.Text(max_nb_chars=80),
        "uuid": values.Uuid4(),
    }
    kinds = _factory(factory.DictFactory, "KindsFactory", fields)
    with deterministic(seed=1):
        rows = kinds.build_batch(2000)
    assert {r["first"] for r in rows} <= set(pool("first_name", "fr_FR"))
    assert {r["city"] for r in rows} <= set(pool("city", "de_DE"))
    assert all(
        Decimal("1.00") <= r["price"] <= Decimal("250.00") and r["price"].as_tuple().exponent == -2
        for r in rows
    )
    assert {r["count"] for r in rows} == {1, 2, 3, 4, 5}
    assert all(0.5 <= r["ratio"] < 0.75 for r in rows)
    assert 1650 < sum(r["plan"] == "free" for r in rows) < 1950
    assert 120 < sum(r["flag"] for r in rows) < 280
    assert all(r["sentence"].endswith(".") and 3 <= len(r["sentence"].split()) <= 8 for r in rows)
    assert all(len(r["text"]) <= 80 and r["text"].endswith(".") for r in rows)
    assert all(uuid.UUID(r["uuid"]).version == 4 for r in rows)


def test_random_elements_may_be_any_objects_and_each_declaration_gives_its_own() -> None:
    class Shop:  # no stable repr: an element is never part of a stream's seed
        pass

    first, second = [Shop() for _ in range(3)], [Shop() for _ in range(3)]
    buyers = _factory(factory.DictFactory, "BuyerFactory", {"n": factory.Sequence(int)})
    with deterministic(seed=1):
        from_first = [buyers.build(shop=values.RandomElement(first))["shop"] for _ in range(30)]
        from_second = [buyers.build(shop=values.RandomElement(second))["shop"] for _ in range(30)]
    assert {id(shop) for shop in from_first} == {id(shop) for shop in first}
    assert {id(shop) for shop in from_second} == {id(shop) for shop in second}


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: values.Email(first="first_name"), "give both first= and last="),
        (lambda: values.DateTimeBetween("three days ago"), "is not a date bound"),
        (lambda: values.DateBetween("-1y", 3.5), "is not a date bound"),
        (lambda: values.PyInt(5, 1), "min_value is above max_value"),
        (lambda: values.PyDecimal("2", "1"), "min_value is above max_value"),
        (lambda: values.RandomElement([]), "no elements"),
        (lambda: values.RandomElement(["a", "b"], weights=[1]), "need as many weights"),
        (lambda: values.Boolean(150), "0-100"),
        (lambda: values.Sentence(0), "nb_words must be >= 1"),
    ],
)
def test_bad_parameters_fail_when_the_factory_is_defined(make: Any, message: str) -> None:
    with pytest.raises(FactoryError, match=message):
        make()


def test_an_empty_date_range_fails_naming_the_bounds() -> None:
    backwards = _factory(
        factory.DictFactory, "BackwardsFactory", {"at": values.DateTimeBetween("now", "-1d")}
    )
    with (
        deterministic(seed=1),
        pytest.raises(FactoryError, match=r"DateTimeBetween\('now', '-1d'\): the end"),
    ):
        backwards.build()


# -- both stores, both paths --------------------------------------------------------------------------
def _organizations() -> type:
    return _factory(
        SQLAlchemyFactory,
        "ValuesOrganizationFactory",
        {
            "id": UUIDFor("organizations"),
            "name": values.Company(),
            "slug": values.Word(unique=True),
            "created_at": values.DateTimeBetween("-1y", "now"),
        },
        model=Organization,
    )


def _users(organizations: type) -> type:
    return _factory(
        SQLAlchemyFactory,
        "ValuesUserFactory",
        {
            "id": values.Uuid4(cast_to=None),
            "organization": factory.SubFactory(organizations),
            "full_name": values.Name(),
            "email": values.Email(unique=True),
            "role": values.RandomElement({"member": 5, "admin": 1}),
            "created_at": values.DateTimeBetween("-30d", "now"),
        },
        model=User,
    )


def _notes() -> type:
    return _factory(
        MongoFactory,
        "ValuesNoteFactory",
        {
            "author": values.Name(),
            "body": values.Paragraph(),
            "at": values.DateTimeBetween("-1d", "now"),
            "amount": values.PyDecimal(1, 99),
        },
        collection="notes",
    )


@pytest.fixture
def second_mongo() -> Iterator[Any]:
    name = f"test_{uuid.uuid4().hex[:12]}"
    db = connect_test_mongo(name)
    yield db
    db.client.drop_database(name)
    db.client.close()


def _seed(url: str, mongo: Any, *, bulk: bool, seed: int = 11) -> Any:
    organizations = _organizations()
    users = _users(organizations)
    notes = _notes()
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            with conn.begin(), deterministic(seed=seed):
                if bulk:
                    # The SQL factories take the row path (no ORM objects), the Mongo one its own.
                    assert decide_call(users, {"full_name": values.Name()}).path == "row"
                    with BulkSeeder(conn, mongo, chunk_size=7) as seeder:
                        seeder.create(users, 40, full_name=values.Name())  # passed at the call site
                        if mongo is not None:
                            seeder.create(notes, 25)
                else:
                    with Session(bind=conn, autoflush=False) as session, bind(session=session, mongo=mongo):
                        for _ in range(40):
                            users.create(full_name=values.Name())
                        if mongo is not None:
                            notes.create_batch(25)
                        session.flush()
            return fingerprint(conn, mongo)
    finally:
        engine.dispose()


@pytest.mark.mongo
def test_bulk_and_per_object_paths_give_the_same_fingerprint(
    db_url: str, second_db: str, mongo_db: Any, second_mongo: Any
) -> None:
    expected = _seed(db_url, mongo_db, bulk=False)
    got = _seed(second_db, second_mongo, bulk=True)
    assert expected.parts["pg:users"].count == 40
    assert expected.parts["pg:organizations"].count == 40
    assert expected.parts["mongo:notes"].count == 25
    assert got.parts == expected.parts
    assert got.digest == expected.digest


def _seed_counting(url: str, *, bulk: bool) -> tuple[Any, Any]:
    """Users whose email builds an organization (an ORM object): the row path's trial row fails
    after drawing values, and the volume takes the ORM path."""
    organizations = _organizations()
    users = _users(organizations)
    counting = type(
        "CountingValuesUserFactory",
        (users,),
        {
            "email": factory.LazyAttribute(
                lambda o: (
                    f"{len(o.organization.users)}.{o.full_name}.{organizations.build().slug}@example.com"
                )
            )
        },
    )
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            with conn.begin(), deterministic(seed=11):
                if bulk:
                    with BulkSeeder(conn, chunk_size=7) as seeder:
                        seeder.create(counting, 12)
                    decision = seeder.paths[f"{counting.__module__}.{counting.__qualname__}"]
                else:
                    with Session(bind=conn, autoflush=False) as session, bind(session=session):
                        counting.create_batch(12)
                        session.flush()
                    decision = None
            return fingerprint(conn), decision
    finally:
        engine.dispose()


def test_a_row_path_trial_that_falls_back_to_the_orm_path_leaves_the_streams_as_they_were(
    db_url: str, second_db: str
) -> None:
    expected, _ = _seed_counting(db_url, bulk=False)
    got, decision = _seed_counting(second_db, bulk=True)
    assert decision.path == "orm"
    assert "ValuesOrganizationFactory.build() was called" in decision.reason
    assert got.parts["pg:users"].count == 12
    assert got.digest == expected.digest  # the trial row's values were given back to the streams


def test_a_different_seed_gives_different_rows(db_url: str, second_db: str) -> None:
    # Guards the test above: equal fingerprints must come from equal data.
    first = _seed(db_url, None, bulk=True, seed=11)
    second = _seed(second_db, None, bulk=True, seed=12)
    assert first.parts["pg:users"].count == second.parts["pg:users"].count
    assert first.parts["pg:users"].digest != second.parts["pg:users"].digest
