"""The order to fill tables in: parents first, foreign-key cycles broken by an insert-then-update.

A cycle (``teams.captain_id -> users``, ``users.team_id -> teams``) is broken at one of its
foreign keys: the rows are inserted with that key empty (NULL when its columns are nullable;
a placeholder when the constraint is ``DEFERRABLE``, checked at commit) and the key is set by
an UPDATE once its parent's rows exist. Nullable keys are preferred, then deferrable ones; a
cycle with neither (NOT NULL on every side, not deferrable) cannot be inserted by anyone and
is refused. Self-references are not cycles here: a row refers to an earlier row of its own
batch (see :class:`~seedkit.generate.references.SelfParent`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from seedkit.errors import ConfigError
from seedkit.generate.catalog import Catalog, ForeignKey, Table


@dataclass(frozen=True)
class Breaker:
    """A foreign key set after insert: ``how`` is ``"null"`` (nullable) or ``"deferred"``."""

    table: str
    foreign_key: ForeignKey
    how: str


def _nullable(table: Table, fk: ForeignKey) -> bool:
    return all(not table.columns[c].not_null for c in fk.columns)


def insert_order(catalog: Catalog, tables: Sequence[str]) -> tuple[list[str], list[Breaker]]:
    """``tables`` (qualified names) ordered parents first, and the foreign keys that break cycles.

    Ties keep the order of ``tables`` (the profile's order). Raises :class:`ConfigError` naming
    the cycle when it has no nullable or deferrable key.
    """
    wanted = list(dict.fromkeys(tables))
    position = {name: i for i, name in enumerate(wanted)}
    breakers: list[Breaker] = []
    broken: set[tuple[str, str]] = set()

    def edges() -> dict[str, list[tuple[str, ForeignKey]]]:
        return {
            name: [
                (fk.referred_table, fk)
                for fk in catalog.tables[name].foreign_keys
                if fk.referred_table in position
                and fk.referred_table != name
                and (name, fk.name) not in broken
            ]
            for name in wanted
        }

    while True:
        cycle = _find_cycle(edges(), wanted)
        if cycle is None:
            break
        candidates = [(child, fk) for child, fk in cycle if _nullable(catalog.tables[child], fk)]
        how = "null"
        if not candidates:
            candidates = [(child, fk) for child, fk in cycle if fk.deferrable]
            how = "deferred"
        if not candidates:
            path = " -> ".join([child for child, _ in cycle] + [cycle[0][0]])
            keys = ", ".join(fk.name for _, fk in cycle)
            raise ConfigError(
                f"foreign-key cycle {path} ({keys}): every key in it is NOT NULL and not deferrable, so no "
                "row can be inserted first; make one of them nullable or DEFERRABLE"
            )
        # Break the key of the table that comes last in the profile: its parents come first.
        child, fk = max(candidates, key=lambda item: position[item[0]])
        breakers.append(Breaker(child, fk, how))
        broken.add((child, fk.name))
    graph = edges()
    order: list[str] = []
    done: set[str] = set()
    while len(order) < len(wanted):
        ready = [n for n in wanted if n not in done and all(p in done for p, _ in graph[n])]
        order.append(ready[0])
        done.add(ready[0])
    return order, breakers


def _find_cycle(
    graph: dict[str, list[tuple[str, ForeignKey]]], names: list[str]
) -> list[tuple[str, ForeignKey]] | None:
    """One cycle as ``[(child, fk to the next table), ...]``, or None."""
    state: dict[str, int] = {}
    path: list[tuple[str, ForeignKey]] = []

    def visit(node: str) -> list[tuple[str, ForeignKey]] | None:
        state[node] = 1
        for parent, fk in graph[node]:
            path.append((node, fk))
            if state.get(parent) == 1:
                start = next(i for i, (child, _) in enumerate(path) if child == parent)
                return path[start:]
            if parent not in state and (found := visit(parent)):
                return found
            path.pop()
        state[node] = 2
        return None

    for name in names:
        if name not in state and (found := visit(name)):
            return found
    return None
