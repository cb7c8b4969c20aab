"""Importing a project's own code named in its configuration (``"package.module:name"``)."""

from __future__ import annotations

import importlib
import sys
from typing import Any

from seedkit.errors import ConfigError
from seedkit.seeding.config import Settings


def make_importable(settings: Settings) -> None:
    """Put the configuration's directory on ``sys.path``, so its modules (factories, models) import."""
    root = str(settings.root)
    if root not in sys.path:
        sys.path.insert(0, root)


def import_module(name: str, settings: Settings) -> Any:
    """Import a module of the project (its configuration's directory is made importable)."""
    make_importable(settings)
    try:
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
