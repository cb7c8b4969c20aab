"""Value providers: each value is its documented formula over the batch's seeded random, whatever
shortcut the provider takes to make a block of them."""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, timedelta

from seedkit.generate.providers import Batch, Dates, Instants, Intervals

BASE = datetime(2025, 3, 4, 5, 6, 7, tzinfo=UTC)


def _batch(seed: int, size: int = 500) -> Batch:
    return Batch(random.Random(seed), 0, size, {}, BASE)


def test_instants_are_the_clock_start_plus_whole_seconds() -> None:
    for seed in range(5):
        draw = random.Random(seed).random
        low, span = -365 * 86400.0, 365 * 86400.0
        expected = [BASE + timedelta(seconds=int(low + draw() * span)) for _ in range(500)]
        assert Instants().values(_batch(seed)) == expected
        assert all(value.tzinfo is UTC for value in expected)
        naive = Instants(aware=False).values(_batch(seed))
        assert naive == [value.replace(tzinfo=None) for value in expected]
        floor, ceiling = datetime(2020, 1, 1, tzinfo=UTC), datetime(2020, 1, 2, tzinfo=UTC)
        draw = random.Random(seed).random
        within = [floor + timedelta(seconds=int(draw() * 86399.0)) for _ in range(500)]
        assert Instants(floor=floor, ceiling=ceiling).values(_batch(seed)) == within


def test_dates_and_intervals_are_whole_days_and_seconds() -> None:
    for seed in range(5):
        draw = random.Random(seed).random
        assert Dates().values(_batch(seed)) == [
            BASE.date() + timedelta(days=-365 + int(draw() * 365)) for _ in range(500)
        ]
        draw = random.Random(seed).random
        floor, ceiling = date(2024, 2, 27), date(2024, 3, 2)
        assert Dates(floor=floor, ceiling=ceiling).values(_batch(seed)) == [
            floor + timedelta(days=int(draw() * 5)) for _ in range(500)
        ]
        draw = random.Random(seed).random
        assert Intervals(60, 3600).values(_batch(seed)) == [
            timedelta(seconds=60 + int(draw() * 3541)) for _ in range(500)
        ]
