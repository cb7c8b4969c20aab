"""The template key covers every input of a seeded database (issue: stale templates were reused).

A template is reused while its name is unchanged, so each input that shapes the seeded data must
change the name: a migration file of a project that migrates with its own command, any project
module the factory modules import (directly or not), and the libraries' versions.
"""

from __future__ import annotations

import importlib.metadata
import sys
from pathlib import Path

import pytest

from seedkit.seeding.config import load_settings
from seedkit.seeding.project_sources import migration_sources, module_sources
from seedkit.seeding.templates import template_name


def _project(tmp_path: Path) -> Path:
    root = tmp_path / "shop"
    (root / "migrations").mkdir(parents=True)
    (root / "migrations" / "0001_init.sql").write_text("CREATE TABLE items (id int PRIMARY KEY);\n")
    (root / "migrate.py").write_text("import sys  # applies migrations/*.sql in order\n")
    app = root / "shopapp"
    app.mkdir()
    (app / "__init__.py").write_text("")
    (app / "factories.py").write_text("from shopapp import models\nfrom .helpers import slug\n")
    (app / "models.py").write_text("from shopapp.money import Money\nITEMS = 'items'\n")
    (app / "money.py").write_text("class Money: ...\n")
    (app / "helpers.py").write_text("def slug(text): return text.lower()\n")
    (app / "unused.py").write_text("NOTHING = None\n")
    (root / "seedkit.toml").write_text(
        'factories = ["shopapp.factories"]\n'
        "[profiles.e2e]\n"
        "seed = 1\n"
        'migration_command = "python migrate.py"\n'
    )
    return root


def _name(root: Path) -> str:
    return template_name(load_settings(root / "seedkit.toml"), "e2e")


def _touch(file: Path) -> None:
    file.write_text(file.read_text() + "\n# changed\n")


def test_a_new_or_changed_migration_of_a_migration_command_project_changes_the_key(tmp_path: Path) -> None:
    root = _project(tmp_path)
    first = _name(root)
    assert _name(root) == first  # stable while nothing changes
    (root / "migrations" / "0002_prices.sql").write_text("ALTER TABLE items ADD price int;\n")
    second = _name(root)
    assert second != first
    _touch(root / "migrate.py")  # the file the command runs
    assert _name(root) != second


def test_an_imported_project_module_changes_the_key_transitively(tmp_path: Path) -> None:
    root = _project(tmp_path)
    names = []
    for changed in ("models.py", "money.py", "helpers.py", "__init__.py"):
        before = _name(root)
        _touch(root / "shopapp" / changed)
        names.append(_name(root))
        assert names[-1] != before, f"changing shopapp/{changed} kept the template key"
    before = _name(root)
    _touch(root / "shopapp" / "unused.py")  # imported by nobody: not an input
    assert _name(root) == before


def test_the_module_graph_is_read_without_importing_the_project(tmp_path: Path) -> None:
    root = _project(tmp_path)
    found = module_sources(root, ["shopapp.factories"], sys.path)
    assert sorted(found) == [
        "shopapp",
        "shopapp.factories",
        "shopapp.helpers",
        "shopapp.models",
        "shopapp.money",
    ]
    assert not any(name.startswith("shopapp") for name in sys.modules)


def test_migration_sources_skip_virtual_environments(tmp_path: Path) -> None:
    root = _project(tmp_path)
    (root / ".venv" / "lib" / "migrations").mkdir(parents=True)
    (root / ".venv" / "lib" / "migrations" / "x.py").write_text("")
    files = [f.relative_to(root.resolve()).as_posix() for f in migration_sources(root, "python migrate.py")]
    assert files == ["migrate.py", "migrations/0001_init.sql"]


@pytest.mark.parametrize("library", ["faker", "factory-boy", "sqlalchemy"])
def test_a_library_version_changes_the_key(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, library: str
) -> None:
    root = _project(tmp_path)
    before = _name(root)
    real = importlib.metadata.version

    def version(name: str) -> str:
        return "999.0" if name == library else real(name)

    monkeypatch.setattr(importlib.metadata, "version", version)
    assert _name(root) != before
