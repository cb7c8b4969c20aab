"""Seeding throughput of the graph for every method and size, each measurement in its own process.

At each size the methods run in interleaved rounds (every method once, then again: see
``benchmarks/rounds.py``), raw COPY in every round, so each method's share of raw COPY is taken
within a round and reported with its spread over rounds. How many rounds each method gets at
each size is :data:`FULL_ROUNDS` (the full run's time budget is in ``benchmarks/__main__.py``).
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
from pathlib import Path
from typing import Any

from benchmarks.db import create_database, drop_database, migrated_template
from benchmarks.rounds import interleave
from benchmarks.seed_worker import METHODS

REPO = Path(__file__).resolve().parent.parent

FULL_SIZES = (2_000, 20_000, 200_000)
QUICK_SIZES = (500, 2_000)
QUICK_ROUNDS = 2
"""``--quick``: every method, two rounds at each of :data:`QUICK_SIZES`."""

FULL_ROUNDS: dict[str, tuple[int, int, int]] = {
    # method              N = 2,000  20,000  200,000   (0: not run at that size)
    "copy": (3, 3, 2),
    "faker-copy": (3, 3, 2),
    "tables": (3, 3, 2),
    "tables-2-workers": (3, 3, 0),
    "bulk": (3, 3, 2),
    "bulk-1-worker": (3, 2, 0),
    "bulk-2-workers": (3, 2, 0),
    "ordinary": (3, 3, 2),
    "ordinary-orm": (3, 2, 0),
    "ordinary-values": (3, 3, 2),
    "bulk-2-dask": (3, 2, 0),
    "per-object": (3, 0, 0),
    "naive": (3, 0, 0),
}
"""Rounds per method at each of :data:`FULL_SIZES`. The methods issue #11's targets are about
(raw COPY, the ordinary factories with and without ``seedkit.values``, the reference factories,
table volumes) and the hand-written Faker baseline run at every size; the ORM-path and
multi-process methods (ordinary-orm, 1 and 2 partitioned workers, Dask, table volumes with 2
workers) stop at 20,000 users, the per-object paths (a flush per object, ~10 s per 2,000 users)
at 2,000. At 200,000 users each would add 1.5-20 minutes to every round (benchmarks/__main__.py)."""
DEFAULT_ROUNDS = (3, 2, 0)
"""A method missing from :data:`FULL_ROUNDS` (added since): up to 20,000 users."""


def rounds_at(method: str, users: int, *, quick: bool) -> int:
    """How many rounds ``method`` runs at ``users`` (0: not at this size)."""
    if quick:
        return QUICK_ROUNDS if users in QUICK_SIZES else 0
    if users not in FULL_SIZES:
        return 0
    return FULL_ROUNDS.get(method, DEFAULT_ROUNDS)[FULL_SIZES.index(users)]


def run(server_url: str, *, quick: bool, log: Any, methods: Any = METHODS) -> list[dict[str, Any]]:
    """One entry per method and size: its rounds, their median seconds and rows/s, the peak RSS
    of all rounds; or ``skipped`` when the method does not run at that size."""
    template = migrated_template(server_url, "test_bench_seed_template")
    results = []
    for users in QUICK_SIZES if quick else FULL_SIZES:
        schedule = {m: rounds_at(m, users, quick=quick) for m in METHODS if m in methods}
        measured: dict[str, list[dict[str, Any]]] = {m: [] for m, n in schedule.items() if n}
        for index, method in interleave(schedule):
            name = f"test_bench_seed_{method.replace('-', '_')}_{users}"
            url = create_database(server_url, name, template=template)
            try:
                result = _measure(method, users, url)
            finally:
                drop_database(server_url, name)
            log(
                f"  seeding {method:>16} N={users:>7,} round {index + 1}: "
                f"{result['rows_per_second']:>9,.0f} rows/s {result['seconds']:7.2f} s  "
                f"peak RSS {result['peak_rss_mb']:6.0f} MB"
            )
            measured[method].append({"round": index, **result})
        for method, count in schedule.items():
            if count:
                results.append(summarise(method, users, measured[method]))
            else:
                results.append({"method": method, "users": users, "skipped": True})
    drop_database(server_url, template)
    return results


def summarise(method: str, users: int, rounds: list[dict[str, Any]]) -> dict[str, Any]:
    """One method's entry at one size from its rounds (each as ``seed_worker.run`` prints it).

    ``seconds`` and ``rows_per_second`` are the medians over rounds, ``peak_rss_mb`` the largest;
    the rounds are kept whole, for ratios taken within a round (``benchmarks/rounds.py``).
    """
    entry: dict[str, Any] = {
        "method": method,
        "users": users,
        "rows": rounds[0]["rows"],
        "seconds": statistics.median(r["seconds"] for r in rounds),
        "rows_per_second": statistics.median(r["rows_per_second"] for r in rounds),
        "peak_rss_mb": max(r["peak_rss_mb"] for r in rounds),
        "rounds": [{k: v for k, v in r.items() if k not in ("method", "users")} for r in rounds],
    }
    if "startup_s" in rounds[0]:
        entry["startup_s"] = statistics.median(r["startup_s"] for r in rounds)
    for key in ("digest", "partition_size"):  # the same in every round, or None (the report says so)
        if key in rounds[0]:
            values = {r[key] for r in rounds}
            entry[key] = values.pop() if len(values) == 1 else None
    return entry


def _measure(method: str, users: int, url: str) -> dict[str, Any]:
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])),
    }
    completed = subprocess.run(
        [sys.executable, "-m", "benchmarks.seed_worker", method, str(users), url],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if completed.returncode != 0:
        raise RuntimeError(f"seeding {method} N={users} failed:\n{completed.stderr[-3000:]}")
    result: dict[str, Any] = json.loads(completed.stdout.strip().splitlines()[-1])
    return result
