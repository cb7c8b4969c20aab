"""The guard in front of every destructive operation (truncate, restore, reset, drop).

It judges the connection actually in use, not an environment variable: the host must be
local (loopback or a Unix socket), the database name must look like a test database
(``test``, ``e2e``, ``dev``, ``ci``, ``seedkit``... as a word in the name), and neither
``ENV`` nor ``APP_ENV`` may say production. ``allow_unsafe=True`` (``--allow-unsafe``,
``allow_unsafe = true`` in the configuration, or ``SEEDKIT_ALLOW_UNSAFE=1``) lifts it.
"""

from __future__ import annotations

import os

from sqlalchemy.engine import make_url

from seedkit.errors import UnsafeTargetError
from seedkit.stores.urls import host_of, is_local_host, looks_like_test_name, redact

PRODUCTION_WORDS = frozenset({"prod", "production", "live"})


def unsafe_reasons(url: str) -> list[str]:
    """Why ``url`` does not look like a local test database (empty when it does)."""
    reasons = []
    host = host_of(url)
    if not is_local_host(host):
        reasons.append(f"host {host!r} is not local")
    database = make_url(url).database or ""
    if not looks_like_test_name(database):
        reasons.append(f"database name {database!r} does not look like a test database")
    for variable in ("ENV", "APP_ENV"):
        if os.environ.get(variable, "").strip().lower() in PRODUCTION_WORDS:
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
