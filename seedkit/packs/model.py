"""What a fixture pack is once read: packs, their data files, and labelled records.

Records keep their values as written, with the ``@`` syntax already parsed into
:class:`~seedkit.packs.values.Ref` and :class:`~seedkit.packs.values.RelativeTime`;
IDs, references and column types are resolved later, against a database schema.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from seedkit.errors import PackError

POSTGRES = "postgres"
MONGO = "mongo"
STORES = (POSTGRES, MONGO)
STORE_PREFIX = {POSTGRES: "pg", MONGO: "mongo"}

MANIFEST = "pack.yaml"
DATA_SUFFIXES = (".yaml", ".yml", ".json", ".csv")


@dataclass(frozen=True, eq=False)
class Record:
    """One labelled row (PostgreSQL) or document (Mongo) of a data file."""

    pack: str
    file: str
    store: str
    table: str
    label: str
    fields: Mapping[str, Any]
    factory: str | None = None
    traits: tuple[str, ...] = ()
    line: int | None = None
    field_lines: Mapping[str, int] = field(default_factory=dict)
    textual: bool = False
    """True when every value was read as text (CSV) and may need parsing into the column's type."""

    @property
    def ref(self) -> str:
        """How other records refer to this one: ``@table.label``."""
        return f"@{self.table}.{self.label}"

    def error(self, reason: str, field: str | None = None) -> PackError:
        """A :class:`PackError` located at this record (and field, with its line when known)."""
        line = self.field_lines.get(field, self.line) if field is not None else self.line
        return PackError(reason, file=self.file, record=self.label, field=field, line=line)


@dataclass(frozen=True, eq=False)
class DataFile:
    """One data file of a pack: the records of one table or collection."""

    path: Path
    file: str
    store: str
    table: str
    records: tuple[Record, ...]

    @property
    def key(self) -> str:
        """``pg:<table>`` or ``mongo:<collection>``, as in :func:`apply_packs`'s counts."""
        return f"{STORE_PREFIX[self.store]}:{self.table}"


@dataclass(frozen=True, eq=False)
class Pack:
    """A fixture pack: a directory with a ``pack.yaml`` manifest and data files."""

    name: str
    path: Path
    description: str = ""
    depends_on: tuple[str, ...] = ()
    files: tuple[DataFile, ...] = ()

    def records(self) -> Iterator[Record]:
        for data_file in self.files:
            yield from data_file.records

    def __repr__(self) -> str:
        return f"Pack({self.name!r}, files={[f.file for f in self.files]})"
