"""Database URLs: showing them without passwords and judging whether they look like test targets."""

from __future__ import annotations

import re
from urllib.parse import urlsplit, urlunsplit

LOCAL_HOSTS = frozenset({"", "localhost", "127.0.0.1", "::1", "[::1]"})
TEST_NAME = re.compile(r"(^|[_\-.])(test|tests|testing|e2e|dev|ci|seedkit|tmp|scratch)([_\-.]|\d|$)", re.I)


def redact(url: str) -> str:
    """The URL as messages show it: password replaced by ``***``, no SQLAlchemy driver suffix.

    ``postgresql+psycopg://app:pw@h/db`` is shown as ``postgresql://app:***@h/db``, the form
    users write and ``psql`` accepts, whichever form the URL came in.
    """
    scheme, separator, rest = url.partition("://")
    if separator and "+" in scheme:
        url = f"{scheme.split('+', 1)[0]}://{rest}"
    try:
        parts = urlsplit(url)
    except ValueError:
        return "<unparseable URL>"
    if parts.password is None:
        return url
    netloc = parts.netloc.rsplit("@", 1)
    userinfo = parts.username or ""
    return urlunsplit(parts._replace(netloc=f"{userinfo}:***@{netloc[-1]}"))


def host_of(url: str) -> str:
    """The host of a URL; a Unix-socket URL (``?host=/path``) counts as local (empty)."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if not host:
        query_host = re.search(r"(?:^|&)host=([^&]*)", parts.query)
        if query_host and not query_host.group(1).startswith("/"):
            host = query_host.group(1)
    return host


def is_local_host(host: str) -> bool:
    """True for loopback addresses, localhost and Unix sockets."""
    return host.lower() in LOCAL_HOSTS or host.startswith("127.") or host.startswith("/")


def looks_like_test_name(name: str) -> bool:
    """True when a database name says it is for tests (``app_test``, ``test_app``, ``seedkit_e2e``...)."""
    return bool(TEST_NAME.search(name))
