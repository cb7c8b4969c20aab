"""Which factory declaration an exception was raised in, and one readable line for the exception.

A declaration's own error (``FuzzyInteger(50, 10)``'s ``randrange`` error, an exhausted
``factory.Iterator``'s bare ``StopIteration``) does not say which factory and field raised it. The
three places seedkit evaluates declarations by name keep that name in their frames:

- factory_boy's ``Resolver.__getattr__(self, name)`` (the per-object path);
- :class:`seedkit.factories.builder.LeanResolver` ``._lean_get(self, name)`` (lean builds);
- a compiled plan's generated ``run`` (the row path, :mod:`seedkit.bulk.compiled`), whose
  ``values`` hold the fields evaluated so far: the field being evaluated is the first of the
  plan's ``names`` not among them.

:func:`failed_declaration` reads them from the exception's traceback, after the fact: nothing is
added to the evaluation itself (the row path's speed is unchanged). The innermost frame wins: an
error inside a ``SubFactory`` names the sub-factory's field.
"""

from __future__ import annotations

from types import CodeType, FrameType
from typing import Any

__all__ = ["describe_exception", "explain", "failed_declaration"]

_COMPILED_PREFIX = "<seedkit compiled plan "


def _resolver_codes() -> tuple[CodeType, ...]:
    import factory.builder

    from seedkit.factories.builder import LeanResolver

    return (factory.builder.Resolver.__getattr__.__code__, LeanResolver._lean_get.__code__)


def _factory_name(resolver: Any) -> str | None:
    """The name of the factory a resolver (factory_boy's or the lean one) evaluates for."""
    step = getattr(resolver, "_Resolver__step", None) or getattr(resolver, "_lean_step", None)
    builder = getattr(step, "builder", None)
    meta = getattr(builder, "factory_meta", None)
    factory_class = getattr(meta, "factory", None)
    return getattr(factory_class, "__name__", None)


def _in_frame(frame: FrameType, resolvers: tuple[CodeType, ...]) -> str | None:
    """``Factory.field`` being evaluated in ``frame``, if it is one of the evaluating frames."""
    code = frame.f_code
    if code in resolvers:
        name = frame.f_locals.get("name")
        factory_name = _factory_name(frame.f_locals.get("self"))
        return f"{factory_name}.{name}" if isinstance(name, str) and factory_name else None
    if code.co_filename.startswith(_COMPILED_PREFIX) and code.co_name == "run":
        values = frame.f_locals.get("values")
        rows = frame.f_globals.get("rows")
        names = frame.f_globals.get("names", ())
        if not isinstance(values, dict) or rows is None:
            return None
        pending = next((name for name in names if name not in values), None)
        factory_class = getattr(rows, "factory_class", None)
        return f"{factory_class.__name__}.{pending}" if pending and factory_class else None
    return None


def failed_declaration(exc: BaseException) -> str | None:
    """``"Factory.field"``: the declaration being evaluated, innermost, when ``exc`` was raised;
    ``None`` when it was not raised while a declaration was evaluated (a hook, the database)."""
    resolvers = _resolver_codes()
    found = None
    tb = exc.__traceback__
    while tb is not None:
        found = _in_frame(tb.tb_frame, resolvers) or found
        tb = tb.tb_next
    return found


def describe_exception(exc: BaseException) -> str:
    """One line saying what went wrong: ``"<type>: <first line of its message>"``, and for a
    message-less ``StopIteration`` (what an exhausted ``factory.Iterator(..., cycle=False)`` or
    generator raises) that the values ran out."""
    lines = str(exc).strip().splitlines()
    if lines:
        return f"{type(exc).__name__}: {lines[0]}"
    if isinstance(exc, StopIteration):
        return (
            "StopIteration: its values ran out (a factory.Iterator with cycle=False, or a generator, "
            "gives each value once)"
        )
    return type(exc).__name__


def explain(exc: BaseException) -> str:
    """One line for ``exc`` naming the declaration it came from when there is one:
    ``"E6.capacity raised ValueError: empty range for randrange() (50, 11, -39)"``, else
    :func:`describe_exception`'s line."""
    declaration = failed_declaration(exc)
    line = describe_exception(exc)
    return f"{declaration} raised {line}" if declaration else line
