"""Importing a project's own code named in its configuration (``"package.module:name"``).

The configuration's directory is put on ``sys.path`` only for the import (or the Alembic run)
that needs it and taken off again, so that using seedkit as a library leaves the host process's
``sys.path`` as it was; the ``seedkit`` command, which is its own process, keeps it there.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from seedkit.errors import ConfigError
from seedkit.seeding.config import Settings


def make_importable(settings: Settings) -> None:
    """Put the configuration's directory on ``sys.path`` for good (for the ``seedkit`` command's process)."""
    root = str(settings.root)
    if root not in sys.path:
        sys.path.insert(0, root)


@contextmanager
def project_on_path(settings: Settings) -> Iterator[None]:
    """The configuration's directory on ``sys.path`` for the ``with`` block; ``sys.path`` as it was after.

    Whatever the block added is taken off again, including what Alembic adds for an ini file's
    ``prepend_sys_path`` while it reads the migrations.
    """
    saved = list(sys.path)
    root = str(settings.root)
    if root not in sys.path:
        sys.path.insert(0, root)
    try:
        yield
    finally:
        sys.path[:] = saved


def import_module(name: str, settings: Settings) -> Any:
    """Import a module of the project (its configuration's directory is importable meanwhile)."""
    try:
        with project_on_path(settings):
            return importlib.import_module(name)
    except ImportError as exc:
        raise ConfigError(f"cannot import {name!r}: {exc}") from None


def import_object(path: str, settings: Settings) -> Any:
    """The object named by ``"package.module:name"``."""
    module_name, _, attribute = path.partition(":")
    if not attribute:
        raise ConfigError(f"{path!r} should name an object as 'package.module:name'")
    try:
        return getattr(import_module(module_name, settings), attribute)
    except AttributeError:
        raise ConfigError(f"module {module_name!r} has no {attribute!r} (from {path!r})") from None
