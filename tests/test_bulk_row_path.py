"""The row path: factories evaluated into rows (no ORM) write what the per-object path writes."""

from __future__ import annotations

import json
import sys
import uuid
from collections.abc import Callable
from contextlib import nullcontext
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import factory
import factory.fuzzy
import pytest
import sqlalchemy as sa
from seedkit_reference.models import Order, Organization, Payment, User
from sqlalchemy import String
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column, validates

from seedkit import SQLAlchemyFactory
from seedkit.bulk import BulkSeeder, row_builder
from seedkit.bulk.paths import decide, decide_call
from seedkit.bulk.row_builder import RowBuildStep
from seedkit.core.determinism import deterministic
from seedkit.factories.binding import bind
from seedkit.stores.fingerprint import fingerprint

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # the repository's benchmarks package
from benchmarks import ordinary

Seed = Callable[[Callable[..., Any]], None]
"""A graph to seed: called with ``create(factory_class, count, **fields)``."""

START = datetime(2025, 1, 1, tzinfo=UTC)


def per_object(url: str, seed: Seed) -> Any:
    """The reference: ``create_batch`` through a SQLAlchemy session."""
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            with (
                conn.begin(),
                deterministic(seed=5),
                Session(bind=conn, autoflush=False) as session,
                bind(session=session),
            ):
                seed(lambda factory_class, count, **fields: factory_class.create_batch(count, **fields))
                session.flush()
            return fingerprint(conn)
    finally:
        engine.dispose()


def bulk(url: str, seed: Seed, *, chunk_size: int = 7, row_path: bool = True) -> tuple[Any, BulkSeeder]:
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            with (
                conn.begin(),
                deterministic(seed=5),
                BulkSeeder(conn, chunk_size=chunk_size, row_path=row_path) as seeder,
            ):
                seed(seeder.create)
            return fingerprint(conn), seeder
    finally:
        engine.dispose()


def seed_ordinary(create: Callable[..., Any]) -> None:
    """benchmarks/ordinary.py's graph: pools passed at the call site, users with an order each."""
    orgs = create(ordinary.OrganizationFactory, 5)
    catalog = create(ordinary.ProductFactory, 12, organization=factory.Iterator(orgs))
    create(
        ordinary.UserFactory,
        30,
        organization=factory.Iterator(orgs),
        order__items__product=factory.Iterator(catalog),
    )


def test_the_ordinary_graph_takes_the_row_path_and_writes_the_per_object_rows(
    db_url: str, second_db: str
) -> None:
    expected = per_object(db_url, seed_ordinary)

    def pooled(create: Callable[..., Any]) -> None:
        # the pools are ORM objects made in the seeder's session, as benchmarks/ordinary.py does
        seeder: BulkSeeder = create.__self__  # type: ignore[attr-defined]
        with seeder.bound():
            orgs = ordinary.OrganizationFactory.create_batch(5)
            catalog = ordinary.ProductFactory.create_batch(12, organization=factory.Iterator(orgs))
        seeder.create(
            ordinary.UserFactory,
            30,
            organization=factory.Iterator(orgs),
            order__items__product=factory.Iterator(catalog),
        )

    got, seeder = bulk(second_db, pooled)

    assert seeder.paths["benchmarks.ordinary.UserFactory"].path == "row"
    assert expected.parts["pg:users"].count == 30
    assert expected.parts["pg:order_items"].count == 60
    assert got.parts == expected.parts
    assert got.digest == expected.digest


def test_every_volume_on_the_row_path_gives_the_per_object_rows(db_url: str, second_db: str) -> None:
    expected = per_object(db_url, _seed_all_on_rows)
    got, seeder = bulk(second_db, _seed_all_on_rows, chunk_size=4)

    assert {name.rsplit(".", 1)[1]: d.path for name, d in seeder.paths.items()} == {
        "OrganizationFactory": "row",
        "ProductFactory": "row",
        "UserFactory": "row",
    }
    assert got.parts == expected.parts
    assert got.digest == expected.digest


def _seed_all_on_rows(create: Callable[..., Any]) -> None:
    create(ordinary.OrganizationFactory, 3)
    create(ordinary.ProductFactory, 9)  # each with its own organization (a SubFactory parent)
    create(ordinary.UserFactory, 10)  # organization, order, items (each a product), payment


# -- a graph with traits, Maybe, Params, exclude, rename, SelfAttribute, RelatedFactory ----------
class TraitOrganizationFactory(SQLAlchemyFactory):
    class Meta:
        model = Organization

    id = factory.LazyFunction(lambda: uuid.UUID(int=factory.random.randgen.getrandbits(128), version=4))
    name = factory.Faker("company")
    slug = factory.Sequence(lambda n: f"t-org-{n}")
    created_at = factory.Faker("date_time_between", start_date=START, end_date=START + timedelta(days=9))


class TraitUserFactory(SQLAlchemyFactory):
    class Meta:
        model = User
        exclude = ("domain",)
        rename = {"name": "full_name"}

    class Params:
        domain = factory.Faker("domain_name")
        vip = factory.Trait(
            role="customer", email=factory.LazyAttribute(lambda o: f"vip.{o.slug_}@{o.domain}")
        )

    id = factory.Sequence(lambda n: uuid.UUID(int=n + 1))
    organization = factory.SubFactory(TraitOrganizationFactory, name=factory.Faker("catch_phrase"))
    name = factory.Faker("name")
    slug_ = factory.LazyAttribute(lambda o: o.name.lower().replace(" ", "."))
    email = factory.LazyAttribute(lambda o: f"{o.slug_}.{o.organization.slug}@{o.domain}")
    role = factory.Maybe(
        factory.LazyFunction(lambda: factory.random.randgen.random() < 0.5),
        yes_declaration="admin",
        no_declaration=factory.fuzzy.FuzzyChoice(["member", "customer"]),
    )
    created_at = factory.SelfAttribute("organization.created_at")
    orders = factory.Maybe(
        "vip",
        yes_declaration=factory.RelatedFactoryList(f"{__name__}.TraitOrderFactory", "user", size=2),
        no_declaration=factory.RelatedFactory(f"{__name__}.TraitOrderFactory", "user"),
    )

    @classmethod
    def _adjust_kwargs(cls, **kwargs: Any) -> dict[str, Any]:
        kwargs.pop("slug_", None)
        return kwargs


class TraitOrderFactory(SQLAlchemyFactory):
    class Meta:
        model = Order

    id = factory.Faker("uuid4", cast_to=None)
    user = factory.SubFactory(TraitUserFactory)
    status = factory.Iterator(["pending", "paid", "shipped"])
    currency = factory.Faker("currency_code")
    subtotal = factory.fuzzy.FuzzyDecimal(5, 500)
    total = factory.LazyAttribute(lambda o: o.subtotal + 1)
    created_at = factory.LazyAttribute(lambda o: o.user.created_at + timedelta(hours=1))
    updated_at = factory.SelfAttribute("created_at")
    paid = factory.RelatedFactory(
        f"{__name__}.TraitPaymentFactory", "order", amount=factory.SelfAttribute("..total")
    )


class TraitPaymentFactory(SQLAlchemyFactory):
    class Meta:
        model = Payment

    id = factory.Faker("uuid4", cast_to=None)
    order = factory.SubFactory(TraitOrderFactory)
    amount = factory.LazyAttribute(lambda o: o.order.total)
    status = factory.fuzzy.FuzzyChoice(["authorized", "captured"])
    provider = factory.Dict({"name": factory.Faker("word")})
    paid_at = None

    @classmethod
    def _adjust_kwargs(cls, **kwargs: Any) -> dict[str, Any]:
        kwargs["provider"] = kwargs["provider"]["name"]
        return kwargs


def _seed_traits(create: Callable[..., Any]) -> None:
    create(TraitUserFactory, 9)
    create(TraitUserFactory, 6, vip=True)
    create(TraitOrderFactory, 4, user__vip=True, status="cancelled")


def test_traits_maybe_params_and_related_factories_give_the_per_object_rows(
    db_url: str, second_db: str
) -> None:
    expected = per_object(db_url, _seed_traits)
    got, seeder = bulk(second_db, _seed_traits, chunk_size=5)

    assert {d.path for d in seeder.paths.values()} == {"row"}
    assert expected.parts["pg:users"].count == 9 + 6 + 4
    assert expected.parts["pg:orders"].count == 9 + 6 * 2 + 4 * (1 + 2)  # an order per call, vip users two
    assert got.parts == expected.parts
    assert got.digest == expected.digest


def test_the_fingerprint_comparison_sees_a_different_resolution_order(
    db_url: str, second_db: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Guards the tests above: evaluate declarations in reverse order and the rows differ. The
    # resolver is what evaluates them with the compiled evaluator off (its own guard is in
    # test_bulk_compiled_hooks.py).
    expected = per_object(db_url, _seed_traits)
    resolve = RowBuildStep.resolve

    def reversed_resolve(self: RowBuildStep, declarations: dict[str, Any]) -> None:
        resolve(self, dict(reversed(declarations.items())))

    monkeypatch.setattr(RowBuildStep, "resolve", reversed_resolve)
    monkeypatch.setattr(row_builder._FactoryRows, "compiled_plan", lambda self, meta, extras: "off")
    row_builder._FACTORY_ROWS.clear()
    try:
        got, seeder = bulk(second_db, _seed_traits, chunk_size=5)
    finally:
        row_builder._FACTORY_ROWS.clear()  # plans made with the evaluator off

    assert {d.path for d in seeder.paths.values()} == {"row"}
    assert got.parts["pg:users"].count == expected.parts["pg:users"].count
    assert got.parts["pg:users"].digest != expected.parts["pg:users"].digest


# -- factories that need the ORM -----------------------------------------------------------------
class CountingUserFactory(ordinary.UserFactory):
    """Reads a collection: how many users its organization already has (back-populated on the ORM path)."""

    email = factory.LazyAttribute(
        lambda o: f"member{len(o.organization.users)}.{o.full_name[:3]}@example.com"
    )


class HookedUserFactory(ordinary.UserFactory):
    @factory.post_generation
    def greet(self, create: bool, extracted: Any, **kwargs: Any) -> None:
        self.role = "admin"


class PasswordUserFactory(ordinary.UserFactory):
    secret = factory.PostGenerationMethodCall("set_role", "admin")


def _seed_orm_readers(create: Callable[..., Any]) -> None:
    orgs = [OrgsHolder.org]
    create(CountingUserFactory, 8, organization=factory.Iterator(orgs), order=None)
    create(HookedUserFactory, 3, organization=factory.Iterator(orgs), order=None)


class OrgsHolder:
    org: Any = None


def test_a_factory_that_reads_orm_state_keeps_the_orm_path_and_says_why(db_url: str, second_db: str) -> None:
    def with_org(create: Callable[..., Any]) -> None:
        seeder = getattr(create, "__self__", None)
        if isinstance(seeder, BulkSeeder):
            with seeder.bound():
                OrgsHolder.org = ordinary.OrganizationFactory.create()
        else:
            OrgsHolder.org = ordinary.OrganizationFactory.create()
        _seed_orm_readers(create)

    expected = per_object(db_url, with_org)
    got, seeder = bulk(second_db, with_org)

    counting = seeder.paths[f"{__name__}.CountingUserFactory"]
    assert counting.path == "orm"
    assert "Organization.users was read" in counting.reason
    # a hook that sets a column of its record takes the row path (issue #11), with the same rows
    assert seeder.paths[f"{__name__}.HookedUserFactory"].path == "row"
    assert expected.parts["pg:users"].count == 11
    assert got.digest == expected.digest  # the trial row was undone: same emails, same IDs


def test_static_decisions_name_the_reason() -> None:
    from seedkit_reference.model_factories import CustomerFactory, OrganizationFactory

    assert decide(ordinary.UserFactory).path == "row"
    assert decide(ordinary.OrderFactory).path == "row"
    # ReuseOrCreate picks from the seeder's pool of records; what a hook does is checked as rows are built
    assert decide(CustomerFactory).path == "row"
    assert decide(OrganizationFactory).path == "row"
    assert decide(HookedUserFactory).path == "row"
    method_call = decide(PasswordUserFactory)
    assert method_call.path == "orm"
    assert method_call.reason == (
        "secret: the post-generation hook PostGenerationMethodCall calls set_role() of the object"
    )
    assert decide(TraitUserFactory).path == "row"
    # a value passed at the call site that needs the ORM decides the volume
    call = decide_call(ordinary.UserFactory, {"order": factory.SubFactory(PasswordUserFactory)})
    assert call.path == "orm" and "order=" in call.reason
    assert decide_call(ordinary.UserFactory, {"organization_id": uuid.uuid4()}).path == "orm"


class LateReaderFactory(ordinary.UserFactory):
    """Its fifth user reads a collection of an ORM object: a root the first-row trial cannot see."""

    class Params:
        n = factory.Sequence(int)
        reads = factory.LazyAttribute(lambda o: o.n % 5 == 4)

    email = factory.LazyAttribute(lambda o: f"{len(o.organization.users) if o.reads else 'u'}.{o.n}@x.org")


def test_a_later_root_that_needs_the_orm_undoes_its_chunk_and_the_rest_takes_the_orm_path(
    db_url: str, second_db: str
) -> None:
    def seed(create: Callable[..., Any]) -> None:
        seeder = getattr(create, "__self__", None)
        with seeder.bound() if isinstance(seeder, BulkSeeder) else nullcontext():
            org = ordinary.OrganizationFactory.create()
        create(LateReaderFactory, 8, organization=factory.Iterator([org]), order=None)

    expected = per_object(db_url, seed)
    got, seeder = bulk(second_db, seed, chunk_size=3)

    decision = seeder.paths[f"{__name__}.LateReaderFactory"]
    assert decision.path == "orm"
    assert decision.reason.startswith("root 5 of 8 needed the ORM: Organization.users was read")
    assert decision.reason.endswith("roots 1-3 took the row path, the rest the ORM path")
    assert got.parts["pg:users"].count == 8
    assert got.digest == expected.digest  # roots 4 and 5 were undone and made again on the ORM path


def _seed_reference_pool(create: Callable[..., Any]) -> None:
    from seedkit_reference.model_factories import CustomerFactory, OrganizationFactory, ProductFactory

    create(OrganizationFactory, 3)
    create(ProductFactory, 10)  # ReuseOrCreate(OrganizationFactory): picks from the session's pool
    create(CustomerFactory, 6, orders=1)


def test_rows_of_a_pooled_model_join_the_pool_a_later_reuse_or_create_draws_from(
    db_url: str, second_db: str
) -> None:
    expected = per_object(db_url, _seed_reference_pool)
    got, seeder = bulk(second_db, _seed_reference_pool, chunk_size=2)

    paths = {name.rsplit(".", 1)[1]: d.path for name, d in seeder.paths.items()}
    assert paths == {"OrganizationFactory": "row", "ProductFactory": "row", "CustomerFactory": "row"}
    assert expected.parts["pg:organizations"].count == 3  # products and customers reused them
    assert got.parts == expected.parts
    assert got.digest == expected.digest


def test_plan_says_which_path_each_factory_volume_takes(db_url: str, tmp_path: Path) -> None:
    from test_cli import run_cli

    shown = run_cli("plan", "--profile", "dev", "--database-url", db_url, "--json", cwd=tmp_path)

    assert shown.returncode == 0, shown.stderr
    factories = {entry["factory"]: entry for entry in json.loads(shown.stdout)["factories"]}
    assert factories["OrganizationFactory"]["path"] == "row"
    assert factories["CustomerFactory"]["path"] == "row"
    assert factories["ProductFactory"]["path"] == "row"
    assert factories["ProductFactory"]["count"] == 100


def test_the_row_path_parses_each_factory_once_per_set_of_keyword_names(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Issue #11, "parse once": pools passed at the call site and records passed to related
    # factories are values; the parse of each factory is reused for every root.
    from factory.base import BaseFactory

    from seedkit.bulk import row_builder
    from seedkit.bulk.row_builder import build_root, no_session
    from seedkit.factories import builder
    from seedkit.factories.builder import lean_builds

    parses: list[tuple[str, tuple[str, ...]]] = []
    real = builder.parse_declarations
    owners = {id(f._meta.pre_declarations): f.__name__ for f in _factories(BaseFactory)}

    def spy(decls: dict[str, Any], base_pre: Any = None, base_post: Any = None) -> Any:
        parses.append((owners.get(id(base_pre), "?"), tuple(decls)))
        return real(decls, base_pre=base_pre, base_post=base_post)

    monkeypatch.setattr(builder, "parse_declarations", spy)
    builder._PLANS.clear()
    row_builder._FACTORY_ROWS.clear()  # the compiled plans, made from the parse
    records: list[Any] = []
    with deterministic(seed=5):
        orgs = ordinary.OrganizationFactory.build_batch(3)
        products = ordinary.ProductFactory.build_batch(4, organization=factory.Iterator(orgs))
        parses.clear()
        fields = {"organization": factory.Iterator(orgs), "order__items__product": factory.Iterator(products)}
        with no_session(), lean_builds():
            for _ in range(25):
                build_root(ordinary.UserFactory, fields, records)

    assert len(records) == 25 * 5  # a user, an order, two items, a payment per root
    assert sorted(parses) == sorted(
        [
            ("UserFactory", ("organization", "order__items__product")),
            ("OrderFactory", ("items__product", "user")),
            ("OrderItemFactory", ("product", "order")),
            ("PaymentFactory", ("order",)),
        ]
    )


def _factories(base: type) -> list[type]:
    found, stack = [], [base]
    while stack:
        cls = stack.pop()
        found.append(cls)
        stack.extend(cls.__subclasses__())
    return found


class _OwnBase(DeclarativeBase):
    pass


class _Checked(_OwnBase):
    __tablename__ = "checked"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(20))

    @validates("name")
    def _name(self, key: str, value: str) -> str:
        return value.strip()


class _Listened(_OwnBase):
    __tablename__ = "listened"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(20))


class _Plain(_OwnBase):
    __tablename__ = "plain"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(20))


def _upper(target: Any, value: str, oldvalue: Any, initiator: Any) -> str:
    return value.upper()


sa.event.listen(_Listened.name, "set", _upper, retval=True)


def test_models_with_validators_or_attribute_events_keep_the_orm_path() -> None:
    def factory_of(model: type) -> type:
        return type(
            f"{model.__name__}Factory",
            (SQLAlchemyFactory,),
            {"Meta": type("Meta", (), {"model": model}), "id": factory.Sequence(int), "name": "x"},
        )

    checked, listened, plain = (decide(factory_of(m)) for m in (_Checked, _Listened, _Plain))
    assert checked.path == "orm" and "is not plain" in checked.reason
    assert listened.path == "orm" and "attribute events listen to _Listened.name" in listened.reason
    assert plain.path == "row"


# -- collections are filled only once read (CollectionTracker.followed) -----------------------------
# Most one-to-many collections (order.items) are never read while rows are built; the seeder follows
# one from its first read on: that read undoes its chunk, built again with the collection filled.


class LateItemsPaymentFactory(ordinary.PaymentFactory):
    """Every fifth payment reads its order's items: the first read comes after the first chunk."""

    class Params:
        n = factory.Sequence(int)
        reads = factory.LazyAttribute(lambda o: o.n % 5 == 4)

    provider = factory.LazyAttribute(lambda o: f"items-{len(o.order.items)}" if o.reads else "stripe")


class LateItemsOrderFactory(ordinary.OrderFactory):
    payment = factory.RelatedFactory(LateItemsPaymentFactory, "order")


class LateItemsUserFactory(ordinary.UserFactory):
    order = factory.RelatedFactory(LateItemsOrderFactory, "user")


def _seed(user_factory: type) -> Callable[[Callable[..., Any]], None]:
    def seed(create: Callable[..., Any]) -> None:
        seeder = getattr(create, "__self__", None)
        if isinstance(seeder, BulkSeeder):  # pools made in the seeder's session, as in benchmarks/ordinary.py
            with seeder.bound():
                orgs = ordinary.OrganizationFactory.create_batch(3)
                catalog = ordinary.ProductFactory.create_batch(6, organization=factory.Iterator(orgs))
        else:
            orgs = ordinary.OrganizationFactory.create_batch(3)
            catalog = ordinary.ProductFactory.create_batch(6, organization=factory.Iterator(orgs))
        create(
            user_factory,
            12,
            organization=factory.Iterator(orgs),
            order__items__product=factory.Iterator(catalog),
        )

    return seed


def test_a_collection_first_read_in_a_later_chunk_is_followed_and_its_chunk_built_again(
    db_url: str, second_db: str
) -> None:
    seed = _seed(LateItemsUserFactory)
    expected = per_object(db_url, seed)
    got, seeder = bulk(second_db, seed, chunk_size=3)  # the first read is in root 5: the second chunk

    assert seeder.paths[f"{__name__}.LateItemsUserFactory"].path == "row"
    followed = {f"{cls._seedkit_model.__name__}.{key}" for cls, key in seeder._collections.followed}
    assert followed == {"Order.items"}
    assert expected.parts["pg:payments"].count == 12
    assert got.parts == expected.parts  # the payments that read order.items say 2, as per object
    assert got.digest == expected.digest


def test_collections_nothing_reads_are_not_filled(db_url: str, second_db: str) -> None:
    seed = _seed(ordinary.UserFactory)
    expected = per_object(db_url, seed)
    got, seeder = bulk(second_db, seed, chunk_size=3)

    assert seeder.paths["benchmarks.ordinary.UserFactory"].path == "row"
    assert seeder._collections.followed == {}
    assert got.digest == expected.digest
