"""Providers that read other rows: foreign-key picks, self-references and unique combinations.

Their parents' keys are only known when the run reaches the table (parents are generated
first, or were already in the database): the run sets :attr:`ParentKeys.keys` /
:attr:`Combination.domains` before asking for values. Everything else about a pick depends
only on the seed, the table and the row's global index, never on the partition that asks.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field
from typing import Any

from seedkit.core.determinism import derive_seed
from seedkit.errors import ConfigError
from seedkit.generate.providers import Batch, Provider


@dataclass
class ParentKeys(Provider):
    """A parent's key for each row: uniform by default, or ``per = (low, high)`` children per parent.

    With ``per``, parent *k* gets ``low..high`` children (drawn from a stream of the seed, table
    and key), children of one parent are consecutive rows, and parents past the volume's end
    get none; a volume larger than ``len(keys) * high`` is refused by the plan.
    """

    referred_table: str
    referred_columns: tuple[str, ...]
    constraint: str
    per: tuple[int, int] | None = None
    nullable: bool = False
    """With no parent rows at all, NULL instead of an error."""
    existing: bool = False
    """Only rows that were in the parent table before generation started (packs, factory volumes)."""
    seed: int = 0
    total: int = 0
    keys: list[Any] = field(default_factory=list)
    _assignment: list[int] | None = field(default=None, repr=False)

    def set_keys(self, keys: list[Any], seed: int, total: int) -> None:
        """The parents' keys (single values or tuples), the run's seed and the child volume's size."""
        self.keys, self.seed, self.total, self._assignment = keys, seed, total, None

    def values(self, batch: Batch) -> list[Any]:
        keys = self.keys
        if not keys and self.nullable:
            return [None] * batch.size
        if not keys:
            before = " before generation" if self.existing else ""
            raise ConfigError(
                f"foreign key {self.constraint}: {self.referred_table} has no rows{before} to refer to "
                f"(give it a volume or load it with a pack first)"
            )
        if self.per is None:
            n, r = len(keys), batch.rng.random
            return [keys[int(r() * n)] for _ in range(batch.size)]
        assignment = self.assignment()
        return [keys[k] for k in assignment[batch.start : batch.start + batch.size]]

    def assignment(self) -> list[int]:
        """Parent index per global row index (``per`` only); the same in every process.

        Parent *k* gets ``low..high`` children (drawn in order until the volume is full; later
        parents get none). If the draws fall short of the volume, parents are topped up to
        ``high``, in order.
        """
        if self._assignment is None:
            assert self.per is not None
            low, high = self.per
            rng = random.Random(derive_seed(self.seed, "per", self.constraint))
            counts: list[int] = []
            total = 0
            r, span = rng.random, high - low + 1
            for _ in self.keys:
                if total >= self.total:
                    break
                drawn = min(low + int(r() * span), self.total - total)
                counts.append(drawn)
                total += drawn
            if total < self.total:  # the draws fell short: top parents up to ``high``, in order
                if len(self.keys) * high < self.total:
                    raise ConfigError(
                        f"foreign key {self.constraint}: {self.total} rows cannot have {low}-{high} per "
                        f"{self.referred_table} row with only {len(self.keys)} of them"
                    )
                while total < self.total:
                    for k in range(len(counts)):
                        if counts[k] < high and total < self.total:
                            counts[k] += 1
                            total += 1
            out = [k for k, n in enumerate(counts) for _ in range(n)]
            self._assignment = out
        return self._assignment

    def describe(self) -> str:
        how = f"{self.per[0]}-{self.per[1]} per parent" if self.per else "uniform"
        rows = "existing row" if self.existing else "key"
        return f"{rows} of {self.referred_table} ({how})"


@dataclass
class SelfParent(Provider):
    """A self-reference (a tree): an earlier row of the same batch, or NULL (the roots).

    Rows refer to rows of their own batch, so a parent is always written before (or with) its
    children. With ``not_null`` the batch's first row refers to itself.
    """

    key: tuple[str, ...]
    not_null: bool = False
    p_root: float = 0.2

    def __post_init__(self) -> None:
        self.depends = self.key

    def values(self, batch: Batch) -> list[Any]:
        columns = [batch.done[c] for c in self.key]
        keys = columns[0] if len(columns) == 1 else list(zip(*columns, strict=True))
        r, p = batch.rng.random, self.p_root
        out: list[Any] = []
        for i in range(batch.size):
            if i == 0:
                out.append(keys[0] if self.not_null else None)
            elif not self.not_null and r() < p:
                out.append(None)
            else:
                out.append(keys[int(r() * i)])
        return out

    def describe(self) -> str:
        return "an earlier row of the same table (a tree)" + ("" if self.not_null else ", roots NULL")


@dataclass
class Combination(Provider):
    """Distinct tuples over finite domains, one per row: how a composite UNIQUE holds by construction.

    The row's tuple is the mixed-radix decoding of ``(a * index + c) mod M`` (``M`` the product
    of the domain sizes, ``a`` coprime to it): a bijection, so rows never repeat a tuple in any
    partition, with no memory of what was drawn. ``domains`` are lists of values (a parent's
    keys, a range of integers, enum labels); set by the run for foreign-key columns.
    """

    constraint: str
    parts: list[tuple[str, ...]]
    """The columns of each domain (several for a composite foreign key, whose values are tuples)."""
    static: list[list[Any] | None] = field(default_factory=list)
    """Each part's domain when known from the schema; None for a foreign key (its parent's keys)."""
    referred: list[ParentKeys | None] = field(default_factory=list)
    """Each foreign-key part's key picker, for its parent table and columns (None for the other parts)."""
    domains: list[list[Any]] = field(default_factory=list)
    seed: int = 0

    @property
    def columns(self) -> tuple[str, ...]:
        return tuple(c for part in self.parts for c in part)

    def set_domains(self, domains: list[list[Any]], seed: int) -> None:
        self.domains, self.seed = domains, seed

    def size(self) -> int:
        return math.prod(len(d) for d in self.domains)

    def values(self, batch: Batch) -> list[Any]:
        modulus = self.size()
        if batch.start + batch.size > modulus:
            raise ConfigError(
                f"unique constraint {self.constraint} ({', '.join(self.columns)}): only {modulus} "
                f"distinct combinations exist, {batch.start + batch.size} rows asked for"
            )
        rng = random.Random(derive_seed(self.seed, "combination", self.constraint))
        multiplier = rng.randrange(1, modulus) if modulus > 1 else 1
        while math.gcd(multiplier, modulus) != 1:
            multiplier += 1
        offset = rng.randrange(modulus)
        sizes = [len(d) for d in self.domains]
        wide = [len(part) > 1 for part in self.parts]
        single = len(self.columns) == 1
        out = []
        for index in range(batch.start, batch.start + batch.size):
            code = (multiplier * index + offset) % modulus
            row: list[Any] = []
            for domain, size, several in zip(self.domains, sizes, wide, strict=True):
                code, at = divmod(code, size)
                if several:
                    row.extend(domain[at])
                else:
                    row.append(domain[at])
            out.append(tuple(row) if single is False else row[0])
        return out

    def describe(self) -> str:
        return f"distinct ({', '.join(self.columns)}) combinations ({self.constraint})"
