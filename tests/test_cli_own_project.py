"""The `seedkit` command on a user's own project (not the reference domain), run from a subdirectory.

`python -m` puts the working directory on ``sys.path``; running from a subdirectory checks that
seedkit itself makes the configuration's directory importable (as the `seedkit` script needs).
"""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest
from test_cli import assert_one_error_line, run_cli

from seedkit.errors import ConfigError
from seedkit.seeding.config import load_settings
from seedkit.stores.postgres import normalize_url

FILES = {
    "seedkit.toml": """
        alembic = { script_location = "migrations" }
        packs = ["packs"]
        factories = ["blog.factories"]

        [profiles.small]
        packs = ["base"]

        [profiles.big]
        packs = ["base"]
        volumes = [{ factory = "PostFactory", count = 3 }]
    """,
    "blog/__init__.py": "",
    "blog/models.py": """
        import sqlalchemy as sa
        from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

        class Base(DeclarativeBase):
            pass

        class Author(Base):
            __tablename__ = "authors"
            id: Mapped[int] = mapped_column(sa.Integer, primary_key=True)
            name: Mapped[str] = mapped_column(sa.String(100))

        class Post(Base):
            __tablename__ = "posts"
            id: Mapped[int] = mapped_column(sa.Integer, primary_key=True)
            author_id: Mapped[int] = mapped_column(sa.ForeignKey("authors.id"))
            title: Mapped[str] = mapped_column(sa.String(200))
            author: Mapped[Author] = relationship()
    """,
    "blog/factories.py": """
        import factory
        import seedkit
        from blog.models import Author, Post

        class AuthorFactory(seedkit.SQLAlchemyFactory):
            class Meta:
                model = Author
            id = factory.Sequence(lambda n: n + 1)
            name = factory.Faker("name")

        class PostFactory(seedkit.SQLAlchemyFactory):
            class Meta:
                model = Post
            id = factory.Sequence(lambda n: n + 1)
            author = factory.SubFactory(AuthorFactory)
            title = factory.Faker("sentence")
    """,
    "migrations/env.py": """
        from alembic import context
        from blog.models import Base

        context.configure(connection=context.config.attributes["connection"], target_metadata=Base.metadata)
        with context.begin_transaction():
            context.run_migrations()
    """,
    "migrations/versions/0001_init.py": """
        import sqlalchemy as sa
        from alembic import op

        revision = "0001"
        down_revision = None

        def upgrade():
            op.create_table("authors", sa.Column("id", sa.Integer, primary_key=True),
                            sa.Column("name", sa.String(100), nullable=False))
            op.create_table("posts", sa.Column("id", sa.Integer, primary_key=True),
                            sa.Column("author_id", sa.Integer, sa.ForeignKey("authors.id"), nullable=False),
                            sa.Column("title", sa.String(200), nullable=False))
    """,
    "packs/base/pack.yaml": """
        files:
          authors.csv: postgres
          posts.yaml: postgres
    """,
    "packs/base/authors.csv": """
        _label,name
        ann,Ann Writer
    """,
    "packs/base/posts.yaml": """
        hello:
          _factory: PostFactory
          author_id: "@authors.ann"
    """,
}


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """The blog project; returns a subdirectory of it to run commands from."""
    for name, text in FILES.items():
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text).lstrip())
    (tmp_path / "docs").mkdir()
    return tmp_path / "docs"


def test_packs_validate_and_seed_import_the_projects_factory_modules(
    project: Path, empty_db_url: str
) -> None:
    validated = run_cli("packs", "validate", cwd=project)
    assert validated.returncode == 0, validated.stderr
    assert "ok: base (2 records)" in validated.stdout

    seeded = run_cli("seed", "--profile", "big", "--database-url", empty_db_url, "--json", cwd=project)
    assert seeded.returncode == 0, seeded.stderr
    assert json.loads(seeded.stdout)["rows"] == {"authors": 4, "posts": 4}

    (project.parent / "packs/base/posts.yaml").write_text(
        'hello:\n  _factory: PostFactory\n  author_id: "@authors.bob"\n'
    )
    dangling = run_cli("packs", "validate", cwd=project)
    assert dangling.returncode == 2
    assert (
        "posts.yaml:3, record 'hello', field 'author_id': dangling reference @authors.bob" in dangling.stderr
    )


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("localhost/blog_test", "Could not parse"),
        ("postgresql://me@127.0.0.1:54x2/blog_test", "invalid literal for int"),
        ("mysql://me:secret@127.0.0.1/blog_test", r"mysql://me:\*\*\*@127.0.0.1/blog_test: not PostgreSQL"),
    ],
)
def test_a_database_url_that_is_not_postgresql_is_one_config_error(url: str, reason: str) -> None:
    with pytest.raises(ConfigError, match=reason):
        normalize_url(url)


def test_commands_given_a_malformed_url_print_one_line(project: Path) -> None:
    # reset checks the target's name before connecting; seed opens it: both used to show a traceback
    reset = run_cli("reset", "--database-url", "localhost/blog_test", cwd=project)
    assert_one_error_line(reset, r"^error: --database-url: invalid database URL localhost/blog_test: ")
    assert reset.returncode == 2
    seed = run_cli(
        "seed", "--profile", "small", "--database-url", "mysql://me@127.0.0.1/blog_test", cwd=project
    )
    assert_one_error_line(
        seed,
        r"^error: --database-url: invalid database URL mysql://me@127\.0\.0\.1/blog_test: not PostgreSQL",
    )
    assert seed.returncode == 2


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        ('seed = "one"', "profile 'small': seed: 'one' is not a whole number"),
        ('clock_start = "yesterday"', "profile 'small': clock_start: not an ISO-8601 instant: 'yesterday'"),
        ('clock_step = "1 sec"', "profile 'small': clock_step: not a duration: '1 sec'"),
        ('migrate = "no"', "profile 'small': migrate: 'no' is not true or false"),  # was: migrated
    ],
)
def test_a_bad_profile_value_names_the_file_profile_and_key(project: Path, line: str, reason: str) -> None:
    config = project.parent / "seedkit.toml"
    config.write_text(config.read_text().replace("[profiles.small]\n", f"[profiles.small]\n{line}\n"))
    with pytest.raises(ConfigError) as error:
        load_settings(config)
    assert str(error.value).startswith(f"{config}: {reason}")


def test_a_negative_volume_count_is_refused_by_the_command(project: Path) -> None:
    config = project.parent / "seedkit.toml"
    config.write_text(config.read_text().replace("count = 3", "count = -3"))
    profiles = run_cli("profiles", cwd=project)  # used to list it, and `seed` wrote no posts
    assert_one_error_line(
        profiles,
        r"seedkit\.toml: profile 'big': volumes\[0\] count: -3 is not a positive whole number \(to make none, leave "
        r"the volume out\)$",
    )
    assert profiles.returncode == 2


@pytest.mark.parametrize("command", ["plan", "seed"])
def test_a_count_beyond_the_largest_is_refused_before_anything_is_written(
    project: Path, command: str
) -> None:
    config = project.parent / "seedkit.toml"
    config.write_text(config.read_text().replace("count = 3", "count = 99999999999999999999"))
    result = run_cli(command, "--profile", "big", cwd=project)  # used to plan it and start seeding
    assert_one_error_line(
        result,
        r"seedkit\.toml: profile 'big': volumes\[0\] count: 99999999999999999999 is more than the largest "
        r"count, 2147483647 \(2\*\*31-1, PostgreSQL's largest integer\)$",
    )
    assert result.returncode == 2


BROKEN_FACTORIES = """

class ShortPostFactory(PostFactory):
    title = factory.Iterator([f"title {n}" for n in range(60)], cycle=False)

class FuzzyPostFactory(PostFactory):
    id = factory.fuzzy.FuzzyInteger(50, 10)
"""


@pytest.mark.parametrize(
    ("volume", "reason"),
    [
        (  # was: "ShortPostFactory (volume of 50): root 11 raised StopIteration on the row path:" (no reason)
            '{ factory = "ShortPostFactory", count = 100 }',
            r"volumes\[0\] \(ShortPostFactory x 100\): ShortPostFactory: root 61 failed on the row path: "
            r"ShortPostFactory\.title raised StopIteration: its values ran out \(a factory\.Iterator with "
            r"cycle=False, or a generator, gives each value once\)$",
        ),
        (  # was: "empty range for randrange() (50, 11, -39)", naming no factory nor field
            '{ factory = "FuzzyPostFactory", count = 3 }',
            r"volumes\[0\] \(FuzzyPostFactory x 3\): FuzzyPostFactory\.id raised ValueError: empty range for "
            r"randrange\(\) \(50, 11, -39\)$",
        ),
    ],
)
def test_a_declarations_error_names_the_root_in_the_volume_and_the_field(
    project: Path, empty_db_url: str, volume: str, reason: str
) -> None:
    config = project.parent / "seedkit.toml"
    config.write_text(config.read_text().replace('{ factory = "PostFactory", count = 3 }', volume))
    factories = project.parent / "blog/factories.py"
    factories.write_text("import factory.fuzzy\n" + factories.read_text() + BROKEN_FACTORIES)
    seeded = run_cli("seed", "--profile", "big", "--database-url", empty_db_url, cwd=project)
    assert_one_error_line(seeded, rf"profile 'big', {reason}")
    assert seeded.returncode != 0


def test_a_partitions_error_names_the_root_in_the_volume_and_the_partitions_roots(
    project: Path, empty_db_url: str
) -> None:
    config = project.parent / "seedkit.toml"
    config.write_text(
        config.read_text().replace(
            '{ factory = "PostFactory", count = 3 }', '{ factory = "ShortPostFactory", count = 100 }'
        )
    )
    factories = project.parent / "blog/factories.py"
    factories.write_text("import factory.fuzzy\n" + factories.read_text() + BROKEN_FACTORIES)
    seeded = run_cli(
        "seed", "--profile", "big", "--database-url", empty_db_url, "--workers", "2", "--partition-size", "70",
        cwd=project,
    )  # fmt: skip
    assert_one_error_line(
        seeded,
        r"ShortPostFactory: root 61 failed on the row path: ShortPostFactory\.title raised StopIteration: its "
        r"values ran out \(a factory\.Iterator with cycle=False, or a generator, gives each value once\) \(in the "
        r"partition of roots 1-70\); nothing was kept",
    )
    assert seeded.returncode != 0


def test_allow_unsafe_as_text_does_not_lift_the_guard(project: Path) -> None:
    config = project.parent / "seedkit.toml"
    config.write_text('allow_unsafe = "false"\n' + config.read_text())  # bool("false") is True
    with pytest.raises(ConfigError) as error:
        load_settings(config)
    assert str(error.value) == f"{config}: allow_unsafe: 'false' is not true or false"


def test_a_typo_inside_the_alembic_table_is_named(project: Path) -> None:
    config = project.parent / "seedkit.toml"
    config.write_text(config.read_text().replace("script_location", "script_locaton"))  # was: no migrations
    with pytest.raises(ConfigError) as error:
        load_settings(config)
    assert (
        str(error.value)
        == f"{config}: alembic: unknown key(s) script_locaton (did you mean 'script_location'?); allowed: ini, "
        "script_location"
    )
