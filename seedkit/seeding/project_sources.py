"""The project's own source files that shape its seeded data, found without importing anything.

A template database is reused while its inputs are unchanged (:mod:`seedkit.seeding.templates`),
so its key must cover the project code seeding runs: the modules the configuration names
(factory modules, models, Mongo index setup) and every project module they import, directly or
not. Those are found by reading ``import`` statements with :mod:`ast` and resolving the names
against the project's directories, transitively; modules outside the project (installed
libraries) are covered by their versions instead. An import made inside a function body is
found the same way; one built at run time (``importlib.import_module(name)``) is not.

For projects that migrate with their own command (``migration_command``), the migration files
are found the same conservative way: every file below a directory named like a migrations
directory (``migrations``, ``alembic``, ``versions``, ``migrate``, ``db``), plus every path the
command names.
"""

from __future__ import annotations

import ast
import importlib.util
import os
import shlex
import sys
import sysconfig
from collections.abc import Iterable
from pathlib import Path

MIGRATION_DIRECTORIES = frozenset({"migrations", "migration", "alembic", "versions", "migrate", "db"})
"""Names of directories whose files count as migrations for a ``migration_command`` project."""

_SKIPPED = frozenset(
    {
        ".git",
        ".hg",
        ".venv",
        "venv",
        "env",
        "node_modules",
        "__pycache__",
        ".mypy_cache",
        ".ruff_cache",
        ".pytest_cache",
        ".seedkit",
        ".tox",
        "site-packages",
        "build",
        "dist",
    }
)


def _is_within(path: Path, root: Path) -> bool:
    try:
        path.resolve().relative_to(root.resolve())
    except ValueError:
        return False
    return not (_SKIPPED & set(path.resolve().relative_to(root.resolve()).parts))


def _search_roots(root: Path, extra: Iterable[str]) -> list[Path]:
    """Directories that module names resolve against: the project root and sys.path entries inside it."""
    roots = [root.resolve()]
    for entry in extra:
        path = Path(entry or ".").resolve()
        if path not in roots and path.is_dir() and _is_within(path, root):
            roots.append(path)
    return roots


def _library_directories() -> list[Path]:
    """Where installed libraries and the standard library live: modules there are not the project's."""
    paths = sysconfig.get_paths()
    found = {
        Path(paths[key]).resolve() for key in ("stdlib", "platstdlib", "purelib", "platlib") if key in paths
    }
    found.update(Path(p).resolve() for p in sys.path if p and ("site-packages" in p or "dist-packages" in p))
    return sorted(found)


def _is_library(file: Path, libraries: list[Path]) -> bool:
    resolved = file.resolve()
    return any(resolved.is_relative_to(directory) for directory in libraries)


def _top_level_location(name: str) -> list[Path]:
    """Where top-level package ``name`` is found by the import system (editable installs too).

    ``find_spec`` of a top-level name imports nothing.
    """
    try:
        spec = importlib.util.find_spec(name)
    except (ImportError, ValueError):
        return []
    if spec is None:
        return []
    if spec.submodule_search_locations:
        return [Path(location) for location in spec.submodule_search_locations]
    return [Path(spec.origin)] if spec.origin and Path(spec.origin).is_file() else []


def _module_file(name: str, roots: list[Path]) -> Path | None:
    parts = name.split(".")
    for base in roots:
        candidate = base.joinpath(*parts)
        for file in (candidate.with_suffix(".py"), candidate / "__init__.py"):
            if file.is_file():
                return file
    for location in _top_level_location(parts[0]):
        if location.is_file():
            return location if len(parts) == 1 else None
        candidate = location.joinpath(*parts[1:])
        for file in (candidate.with_suffix(".py"), candidate / "__init__.py"):
            if file.is_file():
                return file
    return None


def _imported_names(file: Path, module: str) -> set[str]:
    """Module names ``file`` (the module ``module``) imports, absolute; unreadable files give none."""
    try:
        tree = ast.parse(file.read_bytes(), filename=str(file))
    except (SyntaxError, ValueError, OSError):
        return set()
    package = module if file.name == "__init__.py" else module.rpartition(".")[0]
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base_parts = package.split(".") if package else []
                base_parts = (
                    base_parts[: len(base_parts) - (node.level - 1)] if node.level > 1 else base_parts
                )
                base = ".".join(filter(None, [*base_parts, node.module or ""]))
            else:
                base = node.module or ""
            if base:
                names.add(base)
            names.update(f"{base}.{alias.name}" if base else alias.name for alias in node.names)
    return names


def module_sources(root: Path, modules: Iterable[str], path: Iterable[str] = ()) -> dict[str, Path]:
    """The project files of ``modules`` and of every project module they import, transitively.

    Args:
        root: the project's directory (the configuration file's).
        modules: dotted module names (``"app.factories"``); names outside the project are skipped.
        path: extra directories to resolve names against (usually ``sys.path``); only those inside
            ``root`` are used.

    Returns:
        ``{module name: file}``, parent packages' ``__init__.py`` included (they run on import).
        A module counts as the project's when its file is neither in the standard library nor
        in an installed library's directory (an editable install of the project counts), and is
        not seedkit's own.
    """
    roots = _search_roots(root, path)
    libraries = _library_directories()
    seedkit_source = Path(__file__).resolve().parent.parent  # covered by its own digest
    found: dict[str, Path] = {}
    pending = list(modules)
    while pending:
        name = pending.pop()
        parts = name.split(".")
        for size in range(1, len(parts) + 1):  # the packages above run first
            prefix = ".".join(parts[:size])
            if prefix in found:
                continue
            file = _module_file(prefix, roots)
            if file is None or _is_library(file, libraries) or file.resolve().is_relative_to(seedkit_source):
                continue
            found[prefix] = file
            pending.extend(_imported_names(file, prefix))
    return dict(sorted(found.items()))


def migration_sources(root: Path, command: str | None) -> list[Path]:
    """Files a ``migration_command`` project's migrations may live in, sorted.

    Every file below a directory named in :data:`MIGRATION_DIRECTORIES` (at any depth, skipping
    virtual environments and caches), and every existing file or directory the command names.
    """
    root = root.resolve()
    files: set[Path] = set()
    for token in shlex.split(command or ""):
        candidate = (root / token).resolve()
        if candidate.is_file() and _is_within(candidate, root):
            files.add(candidate)
        elif candidate.is_dir() and candidate != root and _is_within(candidate, root):
            files.update(p for p in candidate.rglob("*") if p.is_file() and _is_within(p, root))
    for directory, subdirectories, names in os.walk(root):
        subdirectories[:] = sorted(d for d in subdirectories if d not in _SKIPPED and not d.startswith("."))
        here = Path(directory)
        if MIGRATION_DIRECTORIES & set(here.relative_to(root).parts):
            files.update(here / name for name in names if not name.endswith((".pyc", ".pyo")))
    return sorted(files)
