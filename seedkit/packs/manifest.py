"""Finding packs, reading their ``pack.yaml`` manifests, and following ``depends_on``.

A pack is a directory holding ``pack.yaml``::

    name: golden                # optional; must equal the directory's name
    description: One shop with a paid order
    depends_on: [catalog]       # packs loaded (and whose labels are visible) first
    files:                      # every data file of the directory and the store it fills
      users.yaml: postgres
      audit_events.yaml: mongo
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from seedkit.errors import ConfigError, PackError
from seedkit.packs.model import DATA_SUFFIXES, MANIFEST, STORES, DataFile, Pack
from seedkit.packs.reader import load_yaml, read_data_file

_MANIFEST_KEYS = ("name", "description", "depends_on", "files")


def display_path(path: Path) -> str:
    """``path`` relative to the working directory when below it, as errors show it."""
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


def discover_packs(pack_paths: Sequence[Path], *, configured_in: str | None = None) -> dict[str, Path]:
    """Pack name -> directory, for each directory with a ``pack.yaml`` directly under the roots.

    A root may itself be a pack. ``configured_in``: where the paths are set (the configuration
    file and key, e.g. ``/app/seedkit.toml: packs``), named by the error for a missing root.

    Raises:
        ConfigError: a root is not a directory, with ``configured_in``.
        PackError: a root is not a directory, without it; two packs have the same name.
    """
    found: dict[str, Path] = {}
    for root in map(Path, pack_paths):
        if not root.is_dir():
            if configured_in is not None:
                raise ConfigError(f"{configured_in}: pack path {display_path(root)} is not a directory")
            raise PackError(f"pack path {display_path(root)} is not a directory")
        candidates = (
            [root] if (root / MANIFEST).is_file() else sorted(p for p in root.iterdir() if p.is_dir())
        )
        for directory in candidates:
            if not (directory / MANIFEST).is_file():
                continue
            name = directory.name
            if name in found and found[name].resolve() != directory.resolve():
                raise PackError(
                    f"two packs are named {name!r}: {display_path(found[name])} and {display_path(directory)}"
                )
            found[name] = directory
    return dict(sorted(found.items()))


def read_pack(directory: Path) -> Pack:
    """Read one pack: its manifest and every data file it lists."""
    manifest_file = directory / MANIFEST
    shown = display_path(manifest_file)
    data, lines, _ = load_yaml(_read(manifest_file, shown), shown)
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise PackError("expected a mapping with name, description, depends_on, files", file=shown)

    def fail(reason: str, key: str) -> PackError:
        return PackError(reason, file=shown, field=key, line=lines.get(key))

    for key in data:
        if key not in _MANIFEST_KEYS:
            raise fail(f"unknown key; allowed: {', '.join(_MANIFEST_KEYS)}", str(key))
    name = data.get("name", directory.name)
    if name != directory.name:
        raise fail(f"pack name {name!r} differs from its directory's name {directory.name!r}", "name")
    description = data.get("description") or ""
    if not isinstance(description, str):
        raise fail("expected a text", "description")
    depends_on = data.get("depends_on") or []
    if isinstance(depends_on, str):
        depends_on = [depends_on]
    if not isinstance(depends_on, list) or not all(isinstance(d, str) and d for d in depends_on):
        raise fail("expected a list of pack names", "depends_on")
    files = data.get("files") or {}
    if not isinstance(files, dict):
        raise fail("expected a mapping of data file -> store (postgres or mongo)", "files")
    return Pack(
        name=name,
        path=directory,
        description=description.strip(),
        depends_on=tuple(depends_on),
        files=_read_files(directory, name, files, fail),
    )


def _read_files(directory: Path, pack: str, files: dict[Any, Any], fail: Any) -> tuple[DataFile, ...]:
    present = sorted(
        p.name
        for p in directory.iterdir()
        if p.is_file() and p.suffix in DATA_SUFFIXES and p.name != MANIFEST
    )
    for unlisted in present:
        if unlisted not in files:
            raise fail(
                f"data file {unlisted} is not listed; add `{unlisted}: postgres` or `: mongo`", "files"
            )
    data_files = []
    tables: dict[tuple[str, str], str] = {}
    for filename, store in files.items():
        if not isinstance(filename, str) or Path(filename).name != filename:
            raise fail(f"{filename!r} is not a file name in the pack's directory", "files")
        if Path(filename).suffix not in DATA_SUFFIXES:
            raise fail(f"{filename}: data files end in {', '.join(DATA_SUFFIXES)}", "files")
        if store not in STORES:
            raise fail(f"{filename}: store {store!r} is not one of {', '.join(STORES)}", "files")
        if filename not in present:
            raise fail(f"{filename} is listed but does not exist", "files")
        table = Path(filename).stem
        if (store, table) in tables:
            raise fail(f"{filename} and {tables[store, table]} both fill {store} {table!r}", "files")
        tables[store, table] = filename
        path = directory / filename
        data_files.append(read_data_file(path, pack=pack, file=display_path(path), store=store))
    return tuple(data_files)


def _read(path: Path, shown: str) -> str:
    try:
        return path.read_text(encoding="utf-8-sig")
    except OSError as exc:
        raise PackError(f"cannot read manifest: {os.strerror(exc.errno or 0) or exc}", file=shown) from None


def resolve_packs(
    names: Sequence[str], pack_paths: Sequence[Path], *, configured_in: str | None = None
) -> list[Pack]:
    """Read the named packs and everything they depend on, dependencies first.

    Raises PackError for an unknown pack (listing the known ones) or a ``depends_on`` cycle;
    a missing pack path as :func:`discover_packs` does.
    """
    available = discover_packs(pack_paths, configured_in=configured_in)
    loaded: dict[str, Pack] = {}
    order: list[Pack] = []

    def visit(name: str, path: list[str], wanted_by: Pack | None) -> None:
        if name in path:
            cycle = " -> ".join([*path[path.index(name) :], name])
            raise PackError(f"depends_on cycle: {cycle}", file=_manifest_of(wanted_by), field="depends_on")
        if name in loaded:
            return
        if name not in available:
            known = ", ".join(available) or "none"
            where = f"; searched {', '.join(display_path(Path(p)) for p in pack_paths) or 'no pack paths'}"
            raise PackError(
                f"unknown pack {name!r} (known packs: {known}{where})",
                file=_manifest_of(wanted_by),
                field="depends_on" if wanted_by else None,
            )
        pack = read_pack(available[name])
        for dependency in pack.depends_on:
            visit(dependency, [*path, name], pack)
        loaded[name] = pack
        order.append(pack)

    for name in names:
        visit(name, [], None)
    return order


def _manifest_of(pack: Pack | None) -> str | None:
    return display_path(pack.path / MANIFEST) if pack else None
