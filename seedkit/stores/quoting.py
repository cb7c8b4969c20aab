"""Quoting names and string literals for PostgreSQL SQL text that SQLAlchemy Core cannot express
(DDL on databases, TRUNCATE lists, COPY targets, trigger arguments, comments).

One place for the whole package, built on SQLAlchemy's own PostgreSQL dialect (its identifier
preparer and its string literal processor), so quoting follows the dialect's rules instead of a
hand-written copy in every module.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

_DIALECT = postgresql.dialect()
_PREPARER = _DIALECT.identifier_preparer
_STRING_LITERAL = sa.String().literal_processor(_DIALECT)


def quote_ident(name: str) -> str:
    """``name`` as a quoted identifier: ``users`` -> ``"users"``, ``a"b`` -> ``"a""b"``.

    Always quotes, so reserved words and mixed case are safe; the name is used exactly as given.
    """
    return _PREPARER.quote_identifier(name)


def qualified(schema: str | None, name: str) -> str:
    """``schema.name`` with both parts quoted (just the quoted ``name`` when ``schema`` is None)."""
    return f"{quote_ident(schema)}.{quote_ident(name)}" if schema else quote_ident(name)


def quote_literal(text: str) -> str:
    """``text`` as a SQL string literal: ``it's`` -> ``'it''s'``."""
    assert _STRING_LITERAL is not None
    return str(_STRING_LITERAL(text))
