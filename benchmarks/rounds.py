"""Interleaved rounds and the run-to-run spread of a ratio.

Every figure the report gives as a ratio (a seeding method's rows/s to raw COPY's, two workers'
to one worker's, the warm pool's time to a bare clone's) is taken *within* a round: both sides
are measured one after the other, so a load that comes and goes on a shared machine weighs on
both. A round runs every compared method once (``A, B, C, copy``; then again), and the ratio's
rounds are summarised by their median and their min-max: the spread says how far one run can
be trusted. Pure functions, no I/O: ``tests/test_benchmarks_rounds.py``.
"""

from __future__ import annotations

import statistics
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Spread:
    """The median of per-round values and their range (``low`` .. ``high``) over ``rounds`` rounds."""

    median: float
    low: float
    high: float
    rounds: int

    def format(self, fmt: str = "{:.1%}") -> str:
        """``median (low - high)``, or only the median when there was one round.

        ``fmt`` formats each number (``"{:.1%}"`` for a share, ``"{:.2f}x"`` for a factor).
        """
        if self.rounds < 2:
            return f"{fmt.format(self.median)} (1 round)"
        return f"{fmt.format(self.median)} ({fmt.format(self.low)} - {fmt.format(self.high)})"


def spread(values: Sequence[float]) -> Spread:
    """Median and min-max of ``values`` (one per round). Raises ``ValueError`` when empty."""
    if not values:
        raise ValueError("no rounds to summarise")
    return Spread(statistics.median(values), min(values), max(values), len(values))


def ratios(numerators: Sequence[float], denominators: Sequence[float]) -> list[float]:
    """Per-round ratios ``numerators[i] / denominators[i]``, for the rounds both sides ran.

    Round ``i`` of one side is paired only with round ``i`` of the other (measured beside it);
    the longer side's extra rounds have no partner and are left out.
    """
    return [a / b for a, b in zip(numerators, denominators, strict=False)]


def interleave(rounds_by_method: Mapping[str, int]) -> list[tuple[int, str]]:
    """The run order: round 0 runs every method once (in the mapping's order), then round 1 runs
    every method that has a second round, and so on. Returns ``(round, method)`` pairs."""
    most = max(rounds_by_method.values(), default=0)
    return [
        (index, method)
        for index in range(most)
        for method, rounds in rounds_by_method.items()
        if rounds > index
    ]


def round_values(entry: Mapping[str, Any], key: str) -> list[float]:
    """The per-round values of ``key`` in a seeding entry: its ``rounds`` list, or the entry itself
    as the one round of a run from before rounds (a carried entry)."""
    rounds: Iterable[Mapping[str, Any]] = entry.get("rounds") or [entry]
    return [float(r[key]) for r in rounds]
