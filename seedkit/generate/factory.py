"""A seedkit factory for any reflected table: ``UserFactory = factory_for("users")``.

For tests on an application whose models seedkit cannot import (another SQLAlchemy version, no
models at all): the table is reflected, mapped to a plain class, and given one declaration per
column, made from the same value providers as table volumes (:mod:`seedkit.generate.plan`):

- a column with a provider gets a ``factory.LazyAttributeSequence`` that asks the provider for
  one value, from factory_boy's random (seeded by ``seedkit.deterministic``) and the factory's
  sequence number (so unique columns stay unique);
- a NOT NULL foreign key creates its parent with ``factory_for(parent)`` (like a SubFactory); a
  nullable one is NULL; pass a parent's key to choose it (``UserFactory(team_id=team.id)``);
- identity and serial columns, and columns with another default the engine cannot generate,
  are left to the database; generated columns are never written.

The factory persists through the session bound with ``seedkit.bind`` like every seedkit
factory. Reflection needs a connection: the bound session's, or ``bind=`` an engine or
connection.
"""

from __future__ import annotations

import re
from typing import Any

import factory
import factory.random
import sqlalchemy as sa
from psycopg.types.json import Json, Jsonb
from psycopg.types.range import Range
from sqlalchemy.dialects.postgresql import Range as PgRange
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.orm import registry

from seedkit.core.determinism import current
from seedkit.errors import ConfigError
from seedkit.factories.alchemy import SQLAlchemyFactory
from seedkit.factories.binding import bound_session
from seedkit.generate.catalog import Table, read_catalog
from seedkit.generate.checks import read_checks
from seedkit.generate.choose import choose
from seedkit.generate.plan import TableVolume, build_plan
from seedkit.generate.providers import Batch, Provider, Serial
from seedkit.generate.references import Combination, ParentKeys, SelfParent

_FACTORIES: dict[tuple[str, str], type[SQLAlchemyFactory]] = {}


def factory_for(
    table: str,
    *,
    bind: Engine | Connection | None = None,
    locale: str = "en_US",
    **overrides: Any,
) -> type[SQLAlchemyFactory]:
    """A :class:`~seedkit.SQLAlchemyFactory` subclass for ``table`` (``"users"``, ``"billing.invoices"``).

    ``overrides`` are column overrides as for :class:`~seedkit.generate.plan.TableVolume`
    (constants, choice lists, providers, ``f(rng)``); the factory's own keyword arguments still
    win at call time. The same table (on the same database) gives the same class.

    Raises:
        ConfigError: no connection to reflect with, an unknown table ("did you mean"), a column
            that cannot be generated, or a bad override.
    """
    connection_source = bind if bind is not None else _bound_bind()
    key = (str(_url(connection_source)), table)
    if key in _FACTORIES and not overrides:
        return _FACTORIES[key]
    if isinstance(connection_source, Engine):
        with connection_source.connect() as conn:
            made = _make(conn, table, locale, overrides, connection_source)
    else:
        made = _make(connection_source, table, locale, overrides, connection_source)
    if not overrides:
        _FACTORIES[key] = made
    return made


def _bound_bind() -> Engine | Connection:
    session = bound_session()
    if session is None:
        raise ConfigError(
            "factory_for needs a database to reflect: bind a session (with seedkit.bind(session=...)) "
            "or pass bind=engine"
        )
    found = session.get_bind()
    assert isinstance(found, Engine | Connection)
    return found


def _url(source: Engine | Connection) -> Any:
    return source.engine.url if isinstance(source, Connection) else source.url


def _make(
    conn: Connection, name: str, locale: str, overrides: dict[str, Any], source: Engine | Connection
) -> type[SQLAlchemyFactory]:
    catalog = read_catalog(conn)
    table = catalog.table(name)
    plan = build_plan(
        catalog,
        [TableVolume(table.qualified, 1, overrides)],
        locale=locale,
        where=f"factory_for({name!r})",
    ).tables[0]
    reflected = sa.Table(table.name, sa.MetaData(), schema=table.schema, autoload_with=conn)
    model = type(_class_name(table.name), (), {"__doc__": f"A row of {table.qualified} (reflected)."})
    registry().map_imperatively(model, reflected)  # a registry each: no name clashes across databases
    rules = read_checks(table)
    fk_columns = {c for fk in table.foreign_keys for c in fk.columns}
    declarations: dict[str, Any] = {}
    params: dict[str, Any] = {}
    for step in plan.steps:
        provider = step.provider
        for column_name in step.columns:
            column = table.columns[column_name]
            if column_name in fk_columns and step.source != "override":
                continue
            if column.serial and step.source != "override":
                continue  # identity and serial: the database numbers the row
            single = provider
            if isinstance(provider, ParentKeys | SelfParent | Combination) or len(step.columns) > 1:
                chosen, _why = choose(column, rules.columns.get(column_name), locale)
                if chosen is None:
                    continue
                single = chosen
            if isinstance(single, Serial):
                single = Serial(single.start, single.step, _current_max(conn, table, column_name))
            declarations[column_name] = factory.LazyAttributeSequence(_declaration(single))
    for fk in table.foreign_keys:
        if any(c in declarations for c in fk.columns):
            continue
        nullable = all(not table.columns[c].not_null for c in fk.columns)
        if nullable or fk.referred_table == table.qualified:
            if not nullable:
                raise ConfigError(
                    f"factory_for({name!r}): NOT NULL self-reference {fk.name}; pass its columns when creating"
                )
            for column_name in fk.columns:
                declarations[column_name] = None
            continue
        parent = f"parent_{fk.name}"  # a parameter (factory_boy ignores names starting with _)
        params[parent] = factory.LazyFunction(_parent_maker(fk.referred_table, source, locale))
        for column_name, referred in zip(fk.columns, fk.referred_columns, strict=True):
            declarations[column_name] = factory.LazyAttribute(_parent_column(parent, referred))
    meta = type("Meta", (), {"model": model})
    namespace: dict[str, Any] = {"Meta": meta, **declarations}
    if params:
        namespace["Params"] = type("Params", (), params)
    made: type[SQLAlchemyFactory] = type(f"{_class_name(table.name)}Factory", (SQLAlchemyFactory,), namespace)
    return made


def _declaration(provider: Provider) -> Any:
    """``f(obj, n)``: one value of ``provider`` for the factory's ``n``-th object."""

    def value(obj: Any, n: int) -> Any:
        done = {column: [getattr(obj, column)] for column in provider.depends}
        batch = Batch(factory.random.randgen, n, 1, done, current().clock.start)
        return _for_orm(provider.values(batch)[0])

    return value


def _for_orm(value: Any) -> Any:
    """A COPY-ready value as SQLAlchemy's column types take it (JSON as data, SQLAlchemy's ranges)."""
    if isinstance(value, Json | Jsonb):
        return value.obj
    if isinstance(value, Range):
        return PgRange(value.lower, value.upper, bounds=value.bounds)  # type: ignore[arg-type]
    if isinstance(value, list):
        return [_for_orm(v) for v in value]
    return value


def _parent_maker(referred: str, source: Engine | Connection, locale: str) -> Any:
    def make() -> Any:
        return factory_for(referred, bind=source, locale=locale).create()

    return make


def _parent_column(parent: str, column: str) -> Any:
    def value(obj: Any) -> Any:
        return getattr(getattr(obj, parent), column)

    return value


def _current_max(conn: Connection, table: Table, column: str) -> int:
    found = conn.exec_driver_sql(f'SELECT max("{column}") FROM {table.sql_name}').scalar()
    return int(found or 0)


def _class_name(table: str) -> str:
    words = re.split(r"[^0-9a-zA-Z]+", table)
    name = "".join(w[:1].upper() + w[1:] for w in words if w)
    return name if name[:1].isalpha() else f"T{name}"
