"""The guard in front of every destructive operation (truncate, restore, reset, drop).

It judges the connection actually in use, not an environment variable: the host must be
local (loopback or a Unix socket), the database name must look like a test database
(``test``, ``e2e``, ``dev``, ``ci``, ``seedkit``... as a word in the name) and must not say
production, and no environment variable of :data:`ENVIRONMENT_VARIABLES` may say production.
``allow_unsafe=True`` (``--allow-unsafe``, ``allow_unsafe = true`` in the configuration, or
``SEEDKIT_ALLOW_UNSAFE=1``) lifts it.
"""

from __future__ import annotations

import os
import re

from sqlalchemy.engine import make_url

from seedkit.errors import UnsafeTargetError
from seedkit.stores.urls import host_of, is_local_host, looks_like_test_name, redact

PRODUCTION_WORDS = ("prd", "prod", "production", "live")
"""Words that mean production, in an environment variable's value or a database's name: the
abbreviations deployments use (``prd``, ``prod``), Rails' and Django settings' ``production``
and ``live``. A word of the value or name counts, with digits after it (``prod``, ``prod2``,
``eu-prod``, ``app_prd``; not ``products``)."""

ENVIRONMENT_VARIABLES = (
    "ENV",
    "ENVIRONMENT",
    "APP_ENV",
    "APP_ENVIRONMENT",
    "DEPLOY_ENV",
    "RAILS_ENV",
    "RACK_ENV",
    "NODE_ENV",
    "FLASK_ENV",
    "DJANGO_ENV",
    "MIX_ENV",
)
"""Variables that name the deployment environment (the 12-factor convention, Rails, Rack, Node,
Flask, Django projects, Elixir's Mix): when one says production, every destructive operation is
refused, whatever the database."""

_PRODUCTION = re.compile(rf"(?:^|[^a-z0-9])({'|'.join(PRODUCTION_WORDS)})\d*(?=[^a-z0-9]|$)", re.I)


def says_production(text: str) -> str | None:
    """The production word in ``text`` (see :data:`PRODUCTION_WORDS`), or None."""
    found = _PRODUCTION.search(text.strip())
    return found.group(1).lower() if found else None


def unsafe_reasons(url: str) -> list[str]:
    """Why ``url`` does not look like a local test database (empty when it does)."""
    reasons = []
    host = host_of(url)
    if not is_local_host(host):
        reasons.append(f"host {host!r} is not local")
    database = make_url(url).database or ""
    if (word := says_production(database)) is not None:
        reasons.append(f"database name {database!r} says production ({word!r})")
    elif not looks_like_test_name(database):
        reasons.append(f"database name {database!r} does not look like a test database")
    for variable in ENVIRONMENT_VARIABLES:
        if says_production(os.environ.get(variable, "")) is not None:
            reasons.append(f"{variable}={os.environ[variable]} says production")
    return reasons


def check_destructive(url: str, *, action: str, allow_unsafe: bool = False) -> None:
    """Raise :class:`UnsafeTargetError` unless ``url`` looks like a local test database or unsafe is allowed."""
    if allow_unsafe or os.environ.get("SEEDKIT_ALLOW_UNSAFE") == "1":
        return
    reasons = unsafe_reasons(url)
    if reasons:
        raise UnsafeTargetError(
            f"refusing to {action} {redact(url)}: {'; '.join(reasons)}. "
            "If this really is a disposable database, pass --allow-unsafe, set allow_unsafe = true "
            "in the seedkit configuration, or SEEDKIT_ALLOW_UNSAFE=1."
        )
