"""What every command shares: its options, the two consoles, and loading the configuration.

Human output goes to stdout through Rich; progress bars and notes go to stderr, and only when
stderr is a terminal. ``--json`` output is printed alone on stdout.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console

from seedkit.seeding.config import Profile, Settings, load_settings

if TYPE_CHECKING:
    from seedkit.seeding.targets import Targets

out = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False)

ConfigOption = Annotated[
    Path | None,
    typer.Option("--config", "-c", help="seedkit.toml or pyproject.toml to use; default: the nearest one."),
]
ProfileOption = Annotated[
    str | None, typer.Option("--profile", "-p", help="Profile name (see `seedkit profiles`).")
]
DatabaseUrlOption = Annotated[
    str | None, typer.Option("--database-url", help="PostgreSQL URL; wins over the profile, env and config.")
]
MongoUrlOption = Annotated[
    str | None, typer.Option("--mongo-url", help="MongoDB URL; default: mongomock kept in the state dir.")
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print a machine-readable JSON report (only that).")]
AllowUnsafeOption = Annotated[
    bool, typer.Option("--allow-unsafe", help="Allow destructive steps on non-test-looking databases.")
]


class Interruption:
    """What an interrupt (Ctrl-C) at this moment leaves: the command says, the CLI prints it."""

    UNDONE = "nothing was changed: both stores are as they were"
    DONE = "the command had finished: both stores hold its result"
    COMMITTED = (
        "the seeding was already committed: both stores hold its result "
        "(the next seedkit command removes what the run set aside in Mongo)"
    )

    def __init__(self) -> None:
        self.state = "the command was stopped"

    def writes_all_or_nothing(self) -> None:
        """Called by a command whose writes are undone when interrupted (seed, reset, restore)."""
        self.state = self.UNDONE

    def committed(self) -> None:
        """Called at the commit point of a command's writes (what follows only reads or cleans up)."""
        self.state = self.COMMITTED

    def finished(self) -> None:
        """Called once the command's writes are committed."""
        self.state = self.DONE


interruption = Interruption()
"""The running command's :class:`Interruption` (one command per process)."""


def load(config: Path | None) -> Settings:
    """The settings from ``--config``, the nearest configuration file, or the built-in one.

    The command is its own process: the project's directory stays importable for all of it
    (factory modules name each other lazily, packs name factories).
    """
    from seedkit.seeding.imports import make_importable

    settings = load_settings(config)
    make_importable(settings)
    return settings


def profile_or_none(settings: Settings, name: str | None) -> Profile | None:
    return settings.profile(name) if name else None


def settings_and_targets(
    config: Path | None, profile: str | None, database_url: str | None, mongo_url: str | None
) -> tuple[Settings, Targets]:
    """The settings and the stores a command works on, from its common options."""
    from seedkit.seeding.targets import resolve_targets

    settings = load(config)
    chosen = profile_or_none(settings, profile)
    return settings, resolve_targets(settings, chosen, database_url=database_url, mongo_url=mongo_url)


def print_json(data: Any) -> None:
    """``data`` as indented JSON on stdout, nothing else."""
    sys.stdout.write(json.dumps(data, indent=2, sort_keys=True, default=str) + "\n")
    sys.stdout.flush()


def note(message: str) -> None:
    """A progress note on stderr, shown only to a person at a terminal."""
    if err.is_terminal:
        err.print(message, style="dim")
