"""seedkit's configuration: where the databases are, where migrations and packs live, and profiles.

Read from ``seedkit.toml`` (top-level keys) or ``[tool.seedkit]`` in ``pyproject.toml``, found
by walking up from the working directory (or named by ``--config``/``SEEDKIT_CONFIG``). Paths
are relative to the file that sets them. With no configuration at all, the reference domain's
own configuration (``factories/seedkit.toml``) is used, with state kept in ``./.seedkit``.

Environment variables win over files: ``SEEDKIT_DATABASE_URL``, ``SEEDKIT_MONGO_URL``.
"""

from __future__ import annotations

import difflib
import importlib.util
import os
import tomllib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from seedkit.core.clock import parse_duration, parse_instant
from seedkit.errors import ConfigError

T = TypeVar("T")

ISOLATION_STRATEGIES = ("truncate", "rollback", "snapshot", "none", "changed")

MAX_COUNT = 2**31 - 1
"""The largest count a volume may have: PostgreSQL's largest ``integer`` (the type of a ``serial``
key), so that every row of a volume can be numbered by the commonest key column. A larger count is
a slip (a volume of 2**31 rows would take days to seed), refused before anything is written."""
# The reference domain's configuration, found without importing the package (its import would
# load SQLAlchemy models): ``seedkit_reference`` is the repository's factories/ folder, installed.
_REFERENCE = importlib.util.find_spec("seedkit_reference")
_REFERENCE_DIR = Path(_REFERENCE.origin).parent if _REFERENCE and _REFERENCE.origin else Path("factories")
BUILTIN_CONFIG = _REFERENCE_DIR.resolve() / "seedkit.toml"


@dataclass(frozen=True)
class Volume:
    """``count`` objects made by ``factory`` (an import path or a name in ``factory_modules``)."""

    factory: str
    count: int
    fields: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class TableVolumeConfig:
    """``count`` generated rows of ``table`` (a reflected table, see docs/generate.md), ``columns`` overridden."""

    table: str
    count: int
    columns: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Profile:
    """A named recipe for a seeded database."""

    name: str
    description: str = ""
    seed: int = 0
    clock_start: str = "2025-01-01T00:00:00Z"
    clock_step: str = "1s"
    migrate: bool = True
    migration_command: str | None = None
    packs: tuple[str, ...] = ()
    volumes: tuple[Volume, ...] = ()
    tables: tuple[TableVolumeConfig, ...] = ()
    """Volumes that name a table instead of a factory (generated from the reflected schema)."""
    locale: str = "en_US"
    isolation: str = "truncate"
    database_url: str | None = None
    mongo_url: str | None = None


@dataclass(frozen=True)
class Settings:
    """Everything seedkit needs to know about a project."""

    root: Path
    source: Path | None
    state_dir: Path
    database_url: str | None = None
    mongo_url: str | None = None
    mongo_database: str = "seedkit"
    mongo_indexes: str | None = None
    alembic_script_location: Path | None = None
    alembic_ini: Path | None = None
    models: str | None = None
    pack_paths: tuple[Path, ...] = ()
    factory_modules: tuple[str, ...] = ()
    snapshot_dir: Path = Path("snapshots")
    allow_unsafe: bool = False
    profiles: dict[str, Profile] = field(default_factory=dict)
    schemas: tuple[str, ...] | None = None
    """The PostgreSQL schemas seedkit handles (the first is the default one, whose tables go by
    their bare names); None: every application schema found in the database."""
    keep_tables: tuple[str, ...] = ()
    """Tables (keys: ``table`` or ``schema.table``) no reset empties and no emptiness check counts."""

    def profile(self, name: str) -> Profile:
        """The named profile, or a :class:`ConfigError` listing the known ones."""
        try:
            return self.profiles[name]
        except KeyError:
            known = ", ".join(sorted(self.profiles)) or "none"
            raise ConfigError(
                f"unknown profile {name!r} in {self.source or 'built-in configuration'}; known profiles: {known}"
            ) from None

    def where(self, key: str) -> str:
        """Where the setting ``key`` comes from, as errors name it: ``/app/seedkit.toml: packs``,
        ``/app/pyproject.toml: [tool.seedkit] packs``, or the built-in configuration's file."""
        source = self.source or BUILTIN_CONFIG
        table = "[tool.seedkit] " if source.name == "pyproject.toml" else ""
        return f"{source}: {table}{key}"

    @property
    def snapshots(self) -> Path:
        """Directory of portable snapshots (``snapshots/`` beside the configuration file by default)."""
        return self.snapshot_dir


def find_config_file(start: Path | None = None) -> Path | None:
    """``SEEDKIT_CONFIG``, else the nearest ``seedkit.toml`` or ``pyproject.toml`` with ``[tool.seedkit]``."""
    explicit = os.environ.get("SEEDKIT_CONFIG")
    if explicit:
        return Path(explicit)
    here = (start or Path.cwd()).absolute()
    for directory in (here, *here.parents):
        candidate = directory / "seedkit.toml"
        if candidate.is_file():
            return candidate
        pyproject = directory / "pyproject.toml"
        if pyproject.is_file() and "seedkit" in _read_toml(pyproject).get("tool", {}):
            return pyproject
    return None


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        return tomllib.loads(path.read_text())
    except FileNotFoundError:
        raise ConfigError(f"{path}: configuration file not found") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: invalid TOML: {exc}") from None


def load_settings(path: str | Path | None = None, *, cwd: Path | None = None) -> Settings:
    """Load settings from ``path``, the nearest configuration file, or the built-in reference one."""
    source = Path(path).absolute() if path else find_config_file(cwd)
    if source is None:
        data = _read_toml(BUILTIN_CONFIG)
        return _parse(
            data, root=BUILTIN_CONFIG.parent, source=None, state_root=(cwd or Path.cwd()).absolute()
        )
    document = _read_toml(source)
    data = document.get("tool", {}).get("seedkit", {}) if source.name == "pyproject.toml" else document
    return _parse(data, root=source.parent, source=source, state_root=source.parent)


_SETTINGS_KEYS = {
    "database_url",
    "mongo_url",
    "mongo_database",
    "mongo_indexes",
    "alembic",
    "models",
    "packs",
    "factories",
    "snapshots",
    "state_dir",
    "allow_unsafe",
    "profiles",
    "schemas",
    "keep_tables",
}
_PROFILE_KEYS = {
    "description",
    "seed",
    "clock_start",
    "clock_step",
    "migrate",
    "migration_command",
    "packs",
    "volumes",
    "isolation",
    "database_url",
    "mongo_url",
    "locale",
}


def _parse(data: dict[str, Any], *, root: Path, source: Path | None, state_root: Path) -> Settings:
    where = str(source or BUILTIN_CONFIG)
    _reject_unknown(data, _SETTINGS_KEYS, where)
    alembic = data.get("alembic", {})
    if isinstance(alembic, str):
        alembic = {"script_location": alembic}
    if not isinstance(alembic, dict):
        raise ConfigError(
            f'{where}: alembic: use {{ script_location = "dir" }}, {{ ini = "alembic.ini" }} or "dir"'
        )
    _reject_unknown(alembic, {"script_location", "ini"}, f"{where}: alembic")
    for key in ("script_location", "ini"):
        if key in alembic:
            _checked(alembic[key], _text, f"{where}: alembic.{key}")
    for key in (
        "database_url",
        "mongo_url",
        "mongo_database",
        "mongo_indexes",
        "models",
        "snapshots",
        "state_dir",
    ):
        if key in data:
            _checked(data[key], _text, f"{where}: {key}")
    raw_profiles = data.get("profiles", {})
    if not isinstance(raw_profiles, dict):
        raise ConfigError(
            f"{where}: profiles: expected tables of profiles ([profiles.NAME]), got {raw_profiles!r}"
        )
    profiles = {name: _parse_profile(name, body, where) for name, body in raw_profiles.items()}
    return Settings(
        root=root,
        source=source,
        state_dir=_path(state_root, data.get("state_dir", ".seedkit")),
        database_url=os.environ.get("SEEDKIT_DATABASE_URL") or data.get("database_url") or None,
        mongo_url=os.environ.get("SEEDKIT_MONGO_URL") or data.get("mongo_url") or None,
        mongo_database=data.get("mongo_database", "seedkit"),
        mongo_indexes=data.get("mongo_indexes"),
        alembic_script_location=_path(root, alembic["script_location"])
        if "script_location" in alembic
        else None,
        alembic_ini=_path(root, alembic["ini"]) if "ini" in alembic else None,
        models=data.get("models"),
        pack_paths=tuple(_path(root, p) for p in _names(data.get("packs", []), f"{where}: packs")),
        factory_modules=_names(data.get("factories", []), f"{where}: factories"),
        # The built-in configuration lives in the installed package: its relative paths for
        # things a user writes (snapshots) are taken from the working directory instead.
        snapshot_dir=_path(state_root if source is None else root, data.get("snapshots", "snapshots")),
        allow_unsafe=_checked(data.get("allow_unsafe", False), _boolean, f"{where}: allow_unsafe"),
        profiles=profiles,
        schemas=(_names(data["schemas"], f"{where}: schemas") or None) if "schemas" in data else None,
        keep_tables=_names(data.get("keep_tables", []), f"{where}: keep_tables"),
    )


def _names(value: Any, where: str) -> tuple[str, ...]:
    """A list of non-empty names (a single name is a list of one)."""
    names = _as_list(value) if isinstance(value, str | list | tuple) else [value]
    if not all(isinstance(n, str) and n for n in names):
        raise ConfigError(f"{where}: expected a list of names, got {value!r}")
    return tuple(names)


def _parse_profile(name: str, body: Any, where: str) -> Profile:
    if not isinstance(body, dict):
        raise ConfigError(
            f"{where}: profiles.{name}: expected a table of settings ([profiles.{name}]), got {body!r}"
        )
    _reject_unknown(body, _PROFILE_KEYS, f"{where}: profile {name!r}")
    for key in ("description", "migration_command", "locale", "database_url", "mongo_url", "isolation"):
        if key in body:
            _checked(body[key], _text, f"{where}: profile {name!r}: {key}")
    raw_volumes = body.get("volumes", [])
    if not isinstance(raw_volumes, list):
        raise ConfigError(
            f"{where}: profile {name!r}: volumes: expected a list of volumes, got {raw_volumes!r}"
        )
    isolation = body.get("isolation", "truncate")
    if isolation not in ISOLATION_STRATEGIES:
        raise ConfigError(
            f"{where}: profile {name!r}: isolation {isolation!r} is not one of {', '.join(ISOLATION_STRATEGIES)}"
        )
    volumes = []
    tables = []
    for index, raw in enumerate(raw_volumes):
        at = f"{where}: profile {name!r}: volumes[{index}]"
        if isinstance(raw, dict) and "table" in raw and "count" in raw:
            tables.append(_table_volume(raw, at))
            continue
        if not isinstance(raw, dict):
            raise ConfigError(f'{at} must be a table like {{ factory = "UserFactory", count = 10 }}')
        for key in ("factory", "count"):
            if key not in raw:
                raise ConfigError(f"{at} needs '{key}'{_near_miss(raw, key)}")
        rest = {k: v for k, v in raw.items() if k not in ("factory", "count")}
        count = _checked(raw["count"], _volume_count, f"{at} count")
        volumes.append(Volume(factory=str(raw["factory"]), count=count, fields=rest))
    migrate = body.get("migrate", True)
    clock_start = str(body.get("clock_start", "2025-01-01T00:00:00Z"))
    clock_step = str(body.get("clock_step", "1s"))
    _checked(clock_start, parse_instant, f"{where}: profile {name!r}: clock_start")
    _checked(clock_step, parse_duration, f"{where}: profile {name!r}: clock_step")
    return Profile(
        name=name,
        description=body.get("description", ""),
        seed=_checked(body.get("seed", 0), seed_number, f"{where}: profile {name!r}: seed"),
        clock_start=clock_start,
        clock_step=clock_step,
        migrate=_checked(migrate, _boolean, f"{where}: profile {name!r}: migrate"),
        migration_command=body.get("migration_command"),
        packs=_names(body.get("packs", []), f"{where}: profile {name!r}: packs"),
        volumes=tuple(volumes),
        tables=tuple(tables),
        locale=_checked(body.get("locale", "en_US"), _faker_locale, f"{where}: profile {name!r}: locale"),
        isolation=isolation,
        database_url=body.get("database_url"),
        mongo_url=body.get("mongo_url"),
    )


def _table_volume(raw: dict[str, Any], at: str) -> TableVolumeConfig:
    """``{ table = "users", count = 10_000, columns = { ... } }``, its shape checked."""
    _reject_unknown(raw, {"table", "count", "columns"}, at)
    table = raw["table"]
    if not isinstance(table, str) or not table:
        raise ConfigError(f'{at}: table must be a table\'s name, like "users" or "billing.invoices"')
    count = _checked(raw["count"], _positive, f"{at} (table {table}) count")
    columns = raw.get("columns", {})
    if not isinstance(columns, dict):
        raise ConfigError(f"{at} (table {table}): columns must be a table of column = override")
    from seedkit.generate.overrides import from_config

    parsed = {
        column: from_config(column, value, f"{at} (table {table})") for column, value in columns.items()
    }
    return TableVolumeConfig(table=table, count=count, columns=parsed)


def _positive(value: Any) -> int:
    """A whole number from 1 to :data:`MAX_COUNT`."""
    number = _integer(value)
    if number < 1:
        raise ValueError(f"{value!r} is not a positive whole number")
    return _bounded(number)


def _integer(value: Any) -> int:
    """A whole number: a TOML integer; not a boolean, a float, nor digits written as text.

    Text is refused rather than converted (``count = "10"``): every other setting takes its TOML
    type as written, and a quoted number is as likely a slip as a choice.

    Raises:
        ValueError: anything but a TOML integer.
    """
    if isinstance(value, str):
        hint = (
            " (it is text: write the number without quotes)" if value.strip().lstrip("+-").isdigit() else ""
        )
        raise ValueError(f"{value!r} is not a whole number{hint}")
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"{value!r} is not a whole number")
    return value


def _text(value: Any) -> str:
    """A TOML string."""
    if not isinstance(value, str):
        raise ValueError(f"{value!r} is not a text (write it in quotes)")
    return value


def _faker_locale(value: Any) -> str:
    """A locale Faker has (``en_US``, ``de_DE``...; its ``AVAILABLE_LOCALES``), with a near miss named."""
    locale = _text(value)
    if locale == "en_US":  # the default: no need to import Faker's locale list to parse a config
        return locale
    from faker.config import AVAILABLE_LOCALES

    if locale not in AVAILABLE_LOCALES:
        close = difflib.get_close_matches(locale, AVAILABLE_LOCALES, n=1, cutoff=0.6)
        hint = f" (did you mean {close[0]!r}?)" if close else " (e.g. 'en_US', 'de_DE', 'fr_FR')"
        raise ValueError(f"{locale!r} is not a locale Faker knows{hint}")
    return locale


def _boolean(value: Any) -> bool:
    """``true`` or ``false`` (a TOML boolean: ``"no"`` is text, and text is truthy in Python)."""
    if not isinstance(value, bool):
        raise ValueError(f"{value!r} is not true or false")
    return value


def _volume_count(value: Any) -> int:
    """A factory volume's count: a whole number from 1 to :data:`MAX_COUNT` (a volume of 0 is left
    out, not written as one)."""
    number = _integer(value)
    if number < 1:
        raise ValueError(f"{value!r} is not a positive whole number (to make none, leave the volume out)")
    return _bounded(number)


def _bounded(number: int) -> int:
    """``number`` if it is at most :data:`MAX_COUNT`; else ValueError saying the bound."""
    if number > MAX_COUNT:
        raise ValueError(
            f"{number} is more than the largest count, {MAX_COUNT} (2**31-1, PostgreSQL's largest integer)"
        )
    return number


def seed_number(value: Any) -> int:
    """A seed: a whole number >= 0.

    Negative seeds are refused rather than given a meaning: several tools read ``-1`` as "pick a
    random seed", and seedkit's seeds are always fixed.

    Raises:
        ValueError: not a whole number, or negative.
    """
    number = _integer(value)
    if number < 0:
        raise ValueError(
            f"{value!r} is negative; a seed is a whole number >= 0 (seeds are fixed: -1 is not 'random')"
        )
    return number


def _near_miss(data: dict[str, Any], key: str) -> str:
    """`` (found 'cuont': did you mean 'count'?)`` when a key of ``data`` looks like ``key``, else ``""``."""
    close = difflib.get_close_matches(key, [k for k in data if isinstance(k, str)], n=1, cutoff=0.6)
    return f" (found {close[0]!r}: did you mean {key!r}?)" if close else ""


def _checked(value: Any, parse: Callable[[Any], T], where: str) -> T:
    """``parse(value)``; a bad value is one ConfigError naming the file, profile and key."""
    try:
        return parse(value)
    except (ConfigError, TypeError, ValueError) as exc:
        raise ConfigError(f"{where}: {exc}") from None


def _reject_unknown(data: dict[str, Any], allowed: set[str], where: str) -> None:
    """A ConfigError naming the unknown keys (with a "did you mean" for the first) and the allowed ones."""
    unknown = sorted(set(data) - allowed)
    if unknown:
        hint = difflib.get_close_matches(unknown[0], sorted(allowed), n=1, cutoff=0.6)
        did_you_mean = f" (did you mean {hint[0]!r}?)" if hint else ""
        raise ConfigError(
            f"{where}: unknown key(s) {', '.join(unknown)}{did_you_mean}; allowed: {', '.join(sorted(allowed))}"
        )


def _as_list(value: Any) -> list[Any]:
    return [value] if isinstance(value, str) else list(value)


def _path(root: Path, value: str | Path) -> Path:
    path = Path(value)
    return path if path.is_absolute() else (root / path)
