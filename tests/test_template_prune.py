"""Template databases on a server: `seedkit db prune` lists them and drops the replaced ones (never one
in use, never without --yes, never on a target the guard refuses); the plugin drops the templates
its new ones replaced. On a server of their own, so that no other test's templates are touched."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from test_cli import run_cli

from seedkit.pytest.run import SeedkitRun
from seedkit.seeding.config import load_settings
from seedkit.seeding.templates import TemplateUse, project_key, template_name, write_template_note
from seedkit.stores.embedded import EmbeddedPostgres
from seedkit.stores.postgres_admin import PostgresAdmin

CONFIG = """
database_url = "{url}"

[profiles.demo]
seed = 1
"""


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    """A server no other test uses: its maintenance URL."""
    embedded = EmbeddedPostgres.temporary().start()
    try:
        yield embedded.url("postgres")
    finally:
        embedded.stop()


def make_template(server: str, name: str, **note: str) -> None:
    """A database as the plugin leaves one: its note, marked as a template accepting no connections."""
    with PostgresAdmin.connect(server) as admin:
        admin.create(name)
        if note:
            write_template_note(admin.conn, name, note)
        admin.mark_template(name, template=not name.endswith("_build"))


def databases(server: str) -> set[str]:
    with PostgresAdmin.connect(server) as admin:
        return set(admin.names("seedkit_tmpl_"))


def test_prune_lists_then_drops_only_replaced_unused_templates(server: str, tmp_path: Path) -> None:
    (tmp_path / "seedkit.toml").write_text(CONFIG.format(url=server))
    settings = load_settings(tmp_path / "seedkit.toml")
    project = project_key(settings)
    current = template_name(settings, "demo")
    names = {
        "current": current,
        "replaced": "seedkit_tmpl_demo_aaaaaaaaaaaa",
        "in_use": "seedkit_tmpl_demo_cccccccccccc",
        "other": "seedkit_tmpl_demo_bbbbbbbbbbbb",
        "unfinished": "seedkit_tmpl_demo_dddddddddddd_build",
    }
    for kind, name in names.items():
        make_template(server, name, project="/elsewhere" if kind == "other" else project, profile="demo")
    use = TemplateUse(server)  # a test run that still uses an older template
    use.use(names["in_use"])
    try:
        listed = run_cli("db", "prune", cwd=tmp_path)
        assert listed.returncode == 0, listed.stderr
        for name in names.values():
            assert name in listed.stdout
        assert "would drop 2 template(s)" in listed.stdout and "run again with --yes" in listed.stdout
        assert databases(server) == set(names.values())  # listing drops nothing

        report = run_cli("db", "prune", "--yes", "--json", cwd=tmp_path)
        assert report.returncode == 0, report.stderr
        states = {row["name"]: (row["state"], row["dropped"]) for row in json.loads(report.stdout)}
        assert states == {
            names["current"]: ("current", False),
            names["replaced"]: ("replaced", True),
            names["in_use"]: ("in use", False),
            names["other"]: ("other project", False),
            names["unfinished"]: ("unfinished build", True),
        }
        assert databases(server) == {names["current"], names["in_use"], names["other"]}

        everything = run_cli("db", "prune", "--yes", "--all", cwd=tmp_path)
        assert everything.returncode == 0, everything.stderr
        assert databases(server) == {names["in_use"]}  # in use: never dropped
    finally:
        use.close()
    run_cli("db", "prune", "--yes", "--all", cwd=tmp_path)
    assert databases(server) == set()


def test_prune_on_a_production_looking_server_is_refused_before_connecting(tmp_path: Path) -> None:
    (tmp_path / "seedkit.toml").write_text(CONFIG.format(url="postgresql://app@db.example.com:5432/app"))
    refused = run_cli("db", "prune", "--yes", cwd=tmp_path)
    assert refused.returncode == 4
    assert "refusing to drop database" in refused.stderr and "is not local" in refused.stderr
    assert "connect" not in refused.stderr.lower()


@pytest.mark.mongo
def test_the_plugin_drops_the_templates_its_new_one_replaced(server: str, tmp_path: Path) -> None:
    settings = load_settings(None, cwd=tmp_path)  # the reference domain's configuration
    project = project_key(settings)
    make_template(server, "seedkit_tmpl_e2e_000000000000", project=project, profile="e2e")
    make_template(server, "seedkit_tmpl_e2e_111111111111", project=project, profile="e2e")
    make_template(server, "seedkit_tmpl_dev_000000000000", project=project, profile="dev")
    elsewhere = TemplateUse(server)  # another run of the project, on older code, still uses this one
    elsewhere.use("seedkit_tmpl_e2e_111111111111")
    run = SeedkitRun(settings, database_url=server, shared_dir=tmp_path)
    try:
        run.database("e2e", "truncate")
        assert databases(server) == {
            template_name(settings, "e2e"),
            "seedkit_tmpl_e2e_111111111111",  # in use
            "seedkit_tmpl_dev_000000000000",  # another profile's
        }
    finally:
        run.close()
        elsewhere.close()
    with PostgresAdmin.connect(server) as admin:
        for name in admin.names("seedkit_tmpl_"):
            admin.drop(name)
