"""A generation plan: for each table of the volumes, in insert order, the provider of every column.

:func:`build_plan` turns table volumes (``TableVolume("users", 10_000)``) and the database's
:class:`~seedkit.generate.catalog.Catalog` into a :class:`GenerationPlan`, refusing bad input
before anything is written: an unknown table (with a "did you mean"), a count that is not a
positive whole number, an override of an unknown or generated column or of the wrong type, a
foreign-key cycle nobody can insert, a CHECK whose bounds leave no value, a unique constraint or
a distribution that cannot hold for the count asked.

How each constraint holds by construction:

- primary keys and UNIQUE constraints/indexes (partial ones too, treated as total): one column
  of the constraint is made unique from the row's global index (integers count up from the
  table's current maximum, texts get a ``-<n>`` suffix, UUIDs are 128 random bits); when every
  column is a foreign key or has a small domain, rows get distinct combinations
  (:class:`~seedkit.generate.references.Combination`);
- foreign keys: a parent key per row (:class:`~seedkit.generate.references.ParentKeys`);
  self-references make trees inside each batch; cycles are broken by :mod:`seedkit.generate.order`;
- CHECK constraints: read by :mod:`seedkit.generate.checks`; opaque ones are tried on a sample
  by PostgreSQL before the first write (:func:`seedkit.generate.run.try_sample`).
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from seedkit.errors import ConfigError
from seedkit.generate.catalog import Catalog, Column, ForeignKey, Table, Unique
from seedkit.generate.checks import TableRules, read_checks
from seedkit.generate.choose import INTEGER_TYPES, TEXT_TYPES, by_type, choose, empty_bounds
from seedkit.generate.order import Breaker, insert_order
from seedkit.generate.providers import (
    After,
    Choice,
    Constant,
    Email,
    Later,
    PerRow,
    Provider,
    Serial,
    Uuids,
)
from seedkit.generate.providers import (
    Unique as MadeUnique,
)
from seedkit.generate.references import Combination, ParentKeys, SelfParent
from seedkit.seeding.config import MAX_COUNT


@dataclass(frozen=True)
class PerParent:
    """An override for a foreign-key column: ``low``..``high`` children per parent row ("3-5 users per team")."""

    low: int
    high: int

    @classmethod
    def parse(cls, text: str) -> PerParent:
        """``"3-5"`` or ``"4"``; ValueError otherwise."""
        low, _, high = str(text).partition("-")
        try:
            parsed = cls(int(low), int(high or low))
        except ValueError:
            raise ValueError(f"{text!r} is not a number of children per parent like '3-5'") from None
        if parsed.low < 0 or parsed.high < parsed.low or parsed.high < 1:
            raise ValueError(f"{text!r} is not a number of children per parent like '3-5'")
        return parsed


@dataclass(frozen=True)
class Existing:
    """An override for a foreign-key column: refer only to rows that were there before generation.

    Those loaded by packs (their labelled rows, e.g. "every submission belongs to one of the
    pack's challenges") or made by factory volumes; not the rows the table's own volume adds.
    """


@dataclass(frozen=True)
class TableVolume:
    """``count`` rows of ``table`` (``"users"`` or ``"billing.invoices"``), columns overridden by ``columns``.

    An override is a :class:`~seedkit.generate.providers.Provider`, a :class:`PerParent` (for a
    foreign-key column), a list or tuple (one of its values), a callable ``f(rng) -> value``
    (``rng`` a seeded ``random.Random``) or a constant.
    """

    table: str
    count: int
    columns: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if isinstance(self.count, bool) or not isinstance(self.count, int) or self.count < 1:
            raise ConfigError(f"table {self.table!r}: count {self.count!r} is not a positive whole number")
        if self.count > MAX_COUNT:
            raise ConfigError(
                f"table {self.table!r}: count {self.count} is more than the largest count, {MAX_COUNT}"
            )


@dataclass
class Step:
    """Columns filled by one provider, and why that provider (``override``, ``name``, ``type``...)."""

    columns: tuple[str, ...]
    provider: Provider
    source: str


@dataclass
class Deferred:
    """A foreign key set by UPDATE after its parent's rows exist (a broken cycle)."""

    foreign_key: ForeignKey
    how: str
    picker: ParentKeys


@dataclass
class TablePlan:
    """How one table's rows are made: ``steps`` in generation order, ``written`` in COPY order."""

    table: Table
    count: int
    steps: list[Step]
    written: tuple[str, ...]
    deferred: list[Deferred] = field(default_factory=list)
    serials: list[tuple[str, Serial]] = field(default_factory=list)
    """Integer keys counted from the table's current maximum (the start is set by the run)."""
    left_to_database: list[str] = field(default_factory=list)
    unknown: list[str] = field(default_factory=list)
    """Nullable columns of a type seedkit cannot generate: left NULL."""

    @property
    def name(self) -> str:
        return self.table.qualified


@dataclass
class GenerationPlan:
    """Tables in insert order and the cycles' breakers."""

    tables: list[TablePlan]
    breakers: list[Breaker]
    seed: int
    locale: str = "en_US"

    def table(self, name: str) -> TablePlan:
        return next(t for t in self.tables if t.name == name)


def build_plan(
    catalog: Catalog, volumes: Sequence[TableVolume], *, seed: int = 0, locale: str = "en_US", where: str = ""
) -> GenerationPlan:
    """The plan for ``volumes`` on ``catalog`` (see the module docstring); ConfigError on bad input."""
    prefix = f"{where}, " if where else ""
    by_name: dict[str, tuple[int, TableVolume, Table]] = {}
    for index, volume in enumerate(volumes):
        at = f"{prefix}volumes[{index}]"
        table = catalog.table(volume.table, where=at)
        if table.qualified in by_name:
            raise ConfigError(f"{at}: table {table.qualified!r} has two volumes; give it one")
        by_name[table.qualified] = (index, volume, table)
    order, breakers = insert_order(catalog, list(by_name))
    counts = {name: entry[1].count for name, entry in by_name.items()}
    plans = []
    for name in order:
        index, volume, table = by_name[name]
        at = f"{prefix}volumes[{index}] (table {name})"
        broken = {b.foreign_key.name: b for b in breakers if b.table == name}
        plans.append(_table_plan(table, volume, broken, counts, locale, at))
    return GenerationPlan(plans, breakers, seed, locale)


def _table_plan(
    table: Table,
    volume: TableVolume,
    broken: dict[str, Breaker],
    counts: dict[str, int],
    locale: str,
    at: str,
) -> TablePlan:
    rules = read_checks(table)
    overrides = _overrides(table, volume, at)
    for column_name, column_rules in rules.columns.items():
        if column_name not in overrides and empty_bounds(table.columns[column_name].type, column_rules):
            raise ConfigError(
                f"{at}: column {column_name}: CHECK {', '.join(dict.fromkeys(column_rules.sources))} leaves no "
                f"possible value; override the column (columns = {{ {column_name} = ... }})"
            )
    providers: dict[tuple[str, ...], Step] = {}
    taken: set[str] = set()
    plan = TablePlan(table, volume.count, [], ())

    def put(columns: tuple[str, ...], provider: Provider, source: str) -> None:
        providers[columns] = Step(columns, provider, source)
        taken.update(columns)

    for column_name, override in overrides.items():
        if not isinstance(override, PerParent | Existing):
            put((column_name,), override, "override")
    # Foreign keys.
    pickers: dict[str, ParentKeys] = {}
    for fk in table.foreign_keys:
        if any(c in taken for c in fk.columns):
            continue
        per = next((o for c, o in overrides.items() if c in fk.columns and isinstance(o, PerParent)), None)
        nullable = all(not table.columns[c].not_null for c in fk.columns)
        if fk.name in broken:
            breaker = broken[fk.name]
            picker = ParentKeys(
                fk.referred_table, fk.referred_columns, fk.name, per=(per.low, per.high) if per else None
            )
            plan.deferred.append(Deferred(fk, breaker.how, picker))
            for c in fk.columns:
                placeholder = by_type(table.columns[c].type, locale) if breaker.how == "deferred" else None
                put((c,), Later(fk.referred_table, placeholder), f"cycle broken at {fk.name}")
            continue
        if fk.referred_table == table.qualified:
            if len(fk.columns) != 1 or tuple(fk.referred_columns) != table.primary_key:
                raise ConfigError(
                    f"{at}: self-reference {fk.name} does not point at the primary key; override its columns"
                )
            put(
                fk.columns,
                SelfParent(fk.referred_columns, not_null=not nullable),
                f"self-reference {fk.name}",
            )
            continue
        if (
            per is not None
            and fk.referred_table in counts
            and not any(isinstance(o, Existing) for c, o in overrides.items() if c in fk.columns)
        ):
            most = counts[fk.referred_table] * per.high
            if volume.count > most:
                raise ConfigError(
                    f"{at}: {volume.count} rows cannot have {per.low}-{per.high} per {fk.referred_table} row: "
                    f"its volume has {counts[fk.referred_table]} (at most {most})"
                )
        existing = any(isinstance(o, Existing) for c, o in overrides.items() if c in fk.columns)
        picker = ParentKeys(
            fk.referred_table,
            fk.referred_columns,
            fk.name,
            per=(per.low, per.high) if per else None,
            nullable=nullable,
            existing=existing,
        )
        pickers[fk.name] = picker
        providers[fk.columns] = Step(fk.columns, picker, f"foreign key {fk.name}")
        taken.update(fk.columns)
    # Unique constraints and primary keys, single-column ones first.
    unique_columns: set[str] = set()
    for unique in sorted(table.uniques, key=lambda u: (len(u.columns), not u.primary, u.name)):
        if unique.expression or any(c in unique_columns for c in unique.columns):
            continue
        made = _make_unique(
            table, unique, providers, taken, pickers, rules, counts, volume.count, locale, at, plan
        )
        unique_columns.update(made)
    # Every other column.
    for column in table.columns.values():
        if column.name in taken or column.generated:
            continue
        provider, source = choose(column, rules.columns.get(column.name), locale)
        if provider is None:
            if column.default is not None or column.identity:
                plan.left_to_database.append(column.name)
            elif column.not_null:
                raise ConfigError(
                    f"{at}: column {column.name} of type {column.type.name} cannot be generated; override it "
                    f"(columns = {{ {column.name} = ... }})"
                )
            else:
                plan.unknown.append(column.name)
            continue
        put((column.name,), provider, source)
    _apply_orders(table, rules, providers, overrides, unique_columns)
    _emails_from_names(table, providers)
    plan.steps = _in_dependency_order(list(providers.values()), at)
    plan.written = tuple(
        c
        for c in table.columns
        if c in taken and not table.columns[c].generated and c not in plan.left_to_database
    )
    return plan


def _overrides(table: Table, volume: TableVolume, at: str) -> dict[str, Any]:
    """The volume's overrides as providers (or :class:`PerParent`), checked against the table."""
    out: dict[str, Any] = {}
    fk_columns = {c for fk in table.foreign_keys for c in fk.columns}
    for name, value in volume.columns.items():
        column = table.columns.get(name)
        if column is None:
            hint = difflib.get_close_matches(name, list(table.columns), n=1)
            did_you_mean = f" (did you mean {hint[0]!r}?)" if hint else ""
            raise ConfigError(f"{at}: override of unknown column {name!r}{did_you_mean}")
        if column.generated:
            raise ConfigError(f"{at}: column {name} is GENERATED ALWAYS AS (...): the database computes it")
        if isinstance(value, PerParent | Existing):
            if name not in fk_columns:
                what = "per_parent" if isinstance(value, PerParent) else "existing"
                raise ConfigError(f"{at}: column {name}: {what} applies to a foreign-key column")
            out[name] = value
        elif isinstance(value, Provider):
            out[name] = value
        elif isinstance(value, list | tuple):
            if not value:
                raise ConfigError(f"{at}: column {name}: an empty choice list")
            for option in value:
                _check_type(option, column, at)
            out[name] = Choice(tuple(value))
        elif callable(value):
            out[name] = PerRow(value, getattr(value, "__name__", "a Python function"))
        else:
            _check_type(value, column, at)
            out[name] = Constant(value)
    return out


def _check_type(value: Any, column: Column, at: str) -> None:
    """Refuse a constant that cannot be a value of ``column``'s type."""
    base = column.type.base
    ok = True
    if value is None:
        ok = not column.not_null
    elif base in INTEGER_TYPES:
        ok = isinstance(value, int) and not isinstance(value, bool)
    elif base in ("numeric", "float4", "float8"):
        ok = isinstance(value, int | float | Decimal) and not isinstance(value, bool)
    elif base in TEXT_TYPES:
        ok = isinstance(value, str) and (column.type.length is None or len(value) <= column.type.length)
    elif base == "bool":
        ok = isinstance(value, bool)
    elif base == "enum":
        ok = value in column.type.labels
    if not ok:
        raise ConfigError(f"{at}: column {column.name} ({column.type.name}): {value!r} is not a valid value")


def _make_unique(
    table: Table,
    unique: Unique,
    providers: dict[tuple[str, ...], Step],
    taken: set[str],
    pickers: dict[str, ParentKeys],
    rules: TableRules,
    counts: dict[str, int],
    count: int,
    locale: str,
    at: str,
    plan: TablePlan,
) -> set[str]:
    """Make ``unique`` hold by construction; the columns that now carry uniqueness."""
    what = "primary key" if unique.primary else f"unique constraint {unique.name}"
    fk_columns = {c for f in table.foreign_keys for c in f.columns}
    has_fk = any(c in fk_columns for c in unique.columns)
    # Counted-up keys (identity, serial) first, then texts and UUIDs, then other integers.
    free = sorted(
        (c for c in unique.columns if c not in taken),
        key=lambda c: (not table.columns[c].serial, table.columns[c].type.base in INTEGER_TYPES),
    )
    for name in free:
        column = table.columns[name]
        column_rules = rules.columns.get(name)
        if column_rules is not None and column_rules.choices is not None:
            continue
        base = column.type.base
        if base in INTEGER_TYPES and (column.serial or not has_fk):
            low = int(column_rules.low) if column_rules and isinstance(column_rules.low, Decimal) else 1
            serial = Serial(low)
            plan.serials.append((name, serial))
            providers[(name,)] = Step((name,), serial, f"unique ({what}), counted up")
        elif base == "uuid":
            providers[(name,)] = Step((name,), Uuids(), f"unique ({what})")
        elif base in TEXT_TYPES:
            inner, _source = choose(column, column_rules, locale)
            assert inner is not None
            limit = column.type.length
            providers[(name,)] = Step((name,), MadeUnique(inner, limit), f"unique ({what})")
        else:
            continue
        taken.add(name)
        return {name}
    # Every column is a foreign key, an override or has a small domain: distinct combinations.
    parts: list[tuple[str, ...]] = []
    static: dict[tuple[str, ...], list[Any] | None] = {}
    covered: set[str] = set()
    for name in unique.columns:
        if name in covered:
            continue
        fk = next((f for f in table.foreign_keys if name in f.columns and f.name in pickers), None)
        if fk is not None and all(c in unique.columns for c in fk.columns):
            parts.append(fk.columns)
            static[fk.columns] = None  # the parent's keys, known at run time
            covered.update(fk.columns)
            providers.pop(fk.columns, None)
            continue
        column = table.columns[name]
        domain = _domain(column, rules, providers.get((name,)))
        if domain is None:
            raise ConfigError(
                f"{at}: {what} ({', '.join(unique.columns)}) cannot be made unique by construction "
                f"(column {name} of type {column.type.name}); override one of its columns with distinct values"
            )
        parts.append((name,))
        static[(name,)] = domain
        covered.add(name)
        providers.pop((name,), None)
    combination_domains: list[list[Any] | None] = [static[p] for p in parts]
    referred = [next((pickers[f.name] for f in table.foreign_keys if f.columns == p), None) for p in parts]
    combination = Combination(unique.name, parts, static=combination_domains, referred=referred)
    size = 1
    known = True
    for part, domain in zip(parts, combination_domains, strict=True):
        if domain is not None:
            size *= len(domain)
            continue
        fk = next(f for f in table.foreign_keys if f.columns == part)
        if fk.referred_table in counts and not pickers[fk.name].existing:
            size *= counts[fk.referred_table]
        else:
            known = False
    if known and size < count:
        raise ConfigError(
            f"{at}: {what} ({', '.join(unique.columns)}): only {size} distinct combinations exist, "
            f"{count} rows asked for"
        )
    step = Step(tuple(c for p in parts for c in p), combination, f"distinct combinations ({what})")
    providers[step.columns] = step
    taken.update(step.columns)
    return set(step.columns)


def _domain(column: Column, rules: TableRules, step: Step | None) -> list[Any] | None:
    """The finite set of values a column may take, if it is small enough to enumerate."""
    if step is not None and isinstance(step.provider, Choice):
        return list(dict.fromkeys(step.provider.options))
    if step is not None and isinstance(step.provider, Constant):
        return [step.provider.value]
    column_rules = rules.columns.get(column.name)
    if column_rules is not None and column_rules.choices is not None:
        return list(column_rules.choices)
    if column.type.base == "enum":
        return list(column.type.labels)
    if column.type.base == "bool":
        return [False, True]
    if column.type.base in INTEGER_TYPES:
        low = int(column_rules.low) if column_rules and isinstance(column_rules.low, Decimal) else 1
        high = int(column_rules.high) if column_rules and isinstance(column_rules.high, Decimal) else low + 99
        return list(range(low, min(high, low + 999) + 1))
    return None


def _apply_orders(
    table: Table,
    rules: TableRules,
    providers: dict[tuple[str, ...], Step],
    overrides: dict[str, Any],
    fixed: set[str],
) -> None:
    """Orders between columns (CHECK ``a <= b``; ``created_at`` before ``updated_at``) by construction."""
    orders = [(o.left, o.op, o.right, f"CHECK {o.constraint}") for o in rules.orders]
    names = set(table.columns)
    for first, later in (("created_at", "updated_at"), ("starts_at", "ends_at"), ("start_date", "end_date")):
        if first in names and later in names and not any({first, later} == {o[0], o[2]} for o in orders):
            orders.append((first, "<=", later, "name"))
    for left, op, right, why in orders:
        # ``earlier <(=) later``: the later column is generated from the earlier one.
        earlier, later = (left, right) if op in ("<", "<=") else (right, left)
        if later in overrides or later in fixed or (later,) not in providers or (earlier,) not in providers:
            continue
        providers[(later,)] = Step((later,), After(earlier, strict=op in ("<", ">")), why)


def _emails_from_names(table: Table, providers: dict[tuple[str, ...], Step]) -> None:
    """An email column is made from the row's first and last name columns, when the table has them."""
    first = next((c for c in ("first_name", "firstname", "given_name") if (c,) in providers), None)
    last = next((c for c in ("last_name", "lastname", "family_name", "surname") if (c,) in providers), None)
    for step in providers.values():
        provider: Any = step.provider
        while hasattr(provider, "inner"):
            provider = provider.inner
        if isinstance(provider, Email) and (first or last):
            provider.first, provider.last = first, last
            provider.depends = tuple(c for c in (first, last) if c)


def _in_dependency_order(steps: list[Step], at: str) -> list[Step]:
    """``steps`` ordered so a provider's ``depends`` are generated before it (table order otherwise)."""
    done: set[str] = set()
    out: list[Step] = []
    pending = list(steps)
    while pending:
        ready = [s for s in pending if all(d in done for d in s.provider.depends)]
        if not ready:
            raise ConfigError(
                f"{at}: columns {', '.join(c for s in pending for c in s.columns)} depend on each other"
            )
        for step in ready:
            out.append(step)
            done.update(step.columns)
            pending.remove(step)
    return out
