"""Helpers shared by the pack tests (no tests here): writing packs and comparing database states."""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from seedkit.stores.fingerprint import fingerprint

REFERENCE_PACKS = Path(__file__).resolve().parent.parent / "factories" / "packs"
DOMAIN_FACTORIES = ("seedkit_reference.model_factories", "seedkit_reference.document_factories")


def write_pack(
    root: Path,
    name: str,
    files: dict[str, str],
    *,
    depends_on: tuple[str, ...] = (),
    mongo: tuple[str, ...] = (),
    manifest: str | None = None,
) -> Path:
    """Write pack ``name`` under ``root``: data files (dedented) and a manifest listing them.

    Files named in ``mongo`` go to Mongo, the others to PostgreSQL, unless ``manifest`` is given.
    """
    directory = root / name
    directory.mkdir(parents=True)
    for filename, text in files.items():
        (directory / filename).write_text(textwrap.dedent(text).lstrip("\n"))
    if manifest is None:
        listed = "\n".join(f"  {f}: {'mongo' if f in mongo else 'postgres'}" for f in files)
        manifest = f"name: {name}\ndepends_on: [{', '.join(depends_on)}]\nfiles:\n{listed}\n"
    (directory / "pack.yaml").write_text(textwrap.dedent(manifest).lstrip("\n"))
    return directory


def state(engine: sa.Engine, mongo: Any = None) -> tuple[str, dict[str, int]]:
    """The fingerprint digest of both stores and the row/document count of each table/collection."""
    with engine.connect() as conn:
        result = fingerprint(conn, mongo)
    return result.digest, {key: part.count for key, part in result.parts.items()}
