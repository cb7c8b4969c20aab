"""The bulk seeder's flush side: rows read per table layout, the checks on them, garbage per chunk."""

from __future__ import annotations

import gc
from typing import Any

import factory
import pytest
import sqlalchemy as sa
from seedkit_reference.model_factories import OrganizationFactory

from seedkit.bulk import BulkSeeder
from seedkit.bulk import seeder as seeder_module
from seedkit.core.determinism import deterministic


def test_a_chunk_that_leaves_no_garbage_cycles_is_not_collected(
    engine: sa.Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[Any] = []
    collect = gc.collect
    monkeypatch.setattr(gc, "collect", lambda *args: calls.append(args) or collect(*args))
    with engine.connect() as conn:
        with deterministic(seed=3), BulkSeeder(conn, chunk_size=5) as seeder:
            seeder.create(OrganizationFactory, 20)  # four chunks: reference counting frees each
        assert conn.execute(sa.text("SELECT count(*) FROM organizations")).scalar() == 20
    assert calls == []


class _Cycle:
    """An object in a reference cycle with itself, counted while it exists."""

    alive = 0
    most = 0

    def __init__(self) -> None:
        self.me = self
        type(self).alive += 1
        type(self).most = max(type(self).most, type(self).alive)

    def __del__(self) -> None:
        type(self).alive -= 1


def _name_leaving_cycles() -> str:
    for _ in range(500):
        _Cycle()
    return "Cyclic"


class CyclicOrganizationFactory(OrganizationFactory):
    name = factory.LazyFunction(_name_leaving_cycles)


def test_garbage_cycles_are_collected_once_a_chunk_passes_the_bound(
    engine: sa.Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(seeder_module, "COLLECT_AFTER", 2_000)
    gc.collect()
    _Cycle.alive = _Cycle.most = 0
    with engine.connect() as conn, deterministic(seed=3), BulkSeeder(conn, chunk_size=5) as seeder:
        seeder.create(CyclicOrganizationFactory, 40)  # 20,000 objects in cycles, 2,500 a chunk
    # Collected after each chunk (2,500 > 2,000): at most the chunk before's and this chunk's.
    assert 2_500 <= _Cycle.most <= 5_000
