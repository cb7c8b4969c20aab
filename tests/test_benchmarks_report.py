"""docs/benchmarks.md from given results: each target's median, spread and verdict, and what a full
run carries (nothing). Nothing here times anything."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # the repository's benchmarks package
from benchmarks import report
from benchmarks.report import Goal, target_rows, verdict
from benchmarks.rounds import Spread


def _entry(method: str, users: int, rates: list[float], rss: float = 90.0) -> dict[str, Any]:
    """A seeding entry whose rounds ran at ``rates`` rows/s."""
    rounds = [
        {"round": i, "rows": 1_000, "seconds": 1_000 / r, "rows_per_second": r, "peak_rss_mb": rss}
        for i, r in enumerate(rates)
    ]
    return {
        "method": method,
        "users": users,
        "rows": 1_000,
        "seconds": sorted(1_000 / r for r in rates)[len(rates) // 2],
        "rows_per_second": sorted(rates)[len(rates) // 2],
        "peak_rss_mb": rss,
        "rounds": rounds,
    }


def _results(**overrides: Any) -> dict[str, Any]:
    results: dict[str, Any] = {
        "quick": False,
        "environment": {"date": "2026-12-01", "postgres": "18.6", "cpus": 2},
        "seeding": [
            _entry("copy", 20_000, [100.0, 100.0, 100.0]),
            _entry("bulk", 20_000, [10.0, 10.0, 10.0], rss=100.0),
            _entry("copy", 200_000, [100.0, 200.0]),
            # rounds 60% and 20% of the same round's COPY: median 40%, though its median rate is 75 of 150
            _entry("ordinary", 200_000, [60.0, 40.0]),
            _entry("ordinary-values", 200_000, [60.0, 120.0]),
            _entry("bulk", 200_000, [30.0, 80.0], rss=150.0),
            _entry("tables", 200_000, [40.0, 120.0]),
            {"method": "naive", "users": 200_000, "skipped": True},
        ],
        "resets": {
            "runs": 40,
            "tables": 20,
            "rows": 50_000,
            "changed": {"label": "changed rows", "median_ms": 1.5, "p90_ms": 2.0, "restores_seed": True},
            "pool_rounds": {"rounds": 3, "runs": 40, "ratios": [0.02, 0.30, 0.10]},
        },
        "snapshots": {
            "rounds": 3,
            "seedkit_bytes": 580_000,
            "pg_dump_bytes": 576_000,
            "seedkit_save_ratios": [0.8, 0.9, 1.5],
            "seedkit_restore_ratios": [1.3, 1.25, 2.0],
        },
    }
    results.update(overrides)
    return results


def _row(rows: list[tuple[str, str, str, str, str]], start: str) -> tuple[str, str, str, str, str]:
    (found,) = [r for r in rows if r[1].startswith(start)]
    return found


@pytest.mark.parametrize(
    ("measured", "expected"),
    [
        (Spread(0.6, 0.55, 0.7, 3), "yes"),
        (Spread(0.55, 0.45, 0.7, 3), "yes (median; not in every round)"),
        (Spread(0.45, 0.40, 0.55, 3), "**no** (median; met in some rounds)"),
        (Spread(0.2, 0.1, 0.3, 3), "**no**"),
        (Spread(0.5, 0.5, 0.5, 1), "yes"),  # the bound itself meets ">="
    ],
)
def test_verdict_of_an_at_least_goal(measured: Spread, expected: str) -> None:
    assert verdict(Goal(0.5, at_most=False, fmt="{:.0%}"), measured) == expected


def test_verdict_of_an_at_most_goal() -> None:
    goal = Goal(1.2, at_most=True, fmt="{:.1f}x")
    assert str(goal) == "<= 1.2x"
    assert verdict(goal, Spread(1.0, 0.9, 1.1, 3)) == "yes"
    assert verdict(goal, Spread(1.3, 1.1, 1.4, 3)) == "**no** (median; met in some rounds)"


def test_seeding_targets_take_the_median_of_per_round_shares_of_raw_copy_at_the_largest_n() -> None:
    rows = target_rows(_results())
    ordinary = _row(rows, "ordinary factories")
    assert ordinary == (
        "#11",
        "ordinary factories (benchmarks/ordinary.py) through BulkSeeder, one process, N = 200,000, vs raw COPY rows/s",
        ">= 50%",
        "40.0% (20.0% - 60.0%)",
        "**no** (median; met in some rounds)",
    )
    assert _row(rows, "the ordinary factories with")[3:] == ("60.0% (60.0% - 60.0%)", "yes")
    reference = _row(rows, "reference factories through")
    assert reference[2:] == (">= 35%", "35.0% (30.0% - 40.0%)", "yes (median; not in every round)")
    assert _row(rows, "table volumes, one")[3:] == (
        "50.0% (40.0% - 60.0%)",
        "yes (median; not in every round)",
    )
    growth = _row(rows, "reference factories: peak RSS growth")
    assert growth[3:] == ("1.50x (1.50x - 1.50x)", "yes")


def test_clone_pool_and_snapshot_targets_say_met_or_not_from_their_rounds() -> None:
    rows = target_rows(_results())
    assert _row(rows, "snapshot strategy per test")[2:] == (
        "<= 25%",
        "10.0% (2.0% - 30.0%)",
        "yes (median; not in every round)",
    )
    assert _row(rows, "portable snapshot save")[2:] == (
        "<= 1.2x",
        "0.90x (0.80x - 1.50x)",
        "yes (median; not in every round)",
    )
    assert _row(rows, "portable snapshot restore")[3:] == ("1.30x (1.25x - 2.00x)", "**no**")
    assert _row(rows, "reset after a test")[3:] == ("1.5 ms (changed rows)", "yes")


def test_a_missed_reference_target_says_why_and_a_met_one_does_not() -> None:
    seeding = _results()["seeding"]
    slow = [e for e in seeding if e["method"] != "bulk"] + [_entry("bulk", 200_000, [10.0, 20.0])]
    assert report.REFERENCE_NOTE[0] in report.render(_results(seeding=slow), "b.png")
    assert report.REFERENCE_NOTE[0] not in report.render(_results(), "b.png")


def test_a_full_run_renders_nothing_as_carried_and_marks_sizes_not_run() -> None:
    text = report.render(_results(), "b.png")
    assert "Not re-run" not in text
    assert "from an earlier run" not in text
    assert "| 200,000 | factory_boy naive (`create_batch`, flush per object) | not run at this size" in text
    # the seeding table: rounds, median rows/s, per-round share of COPY with its spread
    assert (
        "| 200,000 | seedkit bulk, ordinary factory_boy factories (benchmarks/ordinary.py), row path | 1,000 | 2 |"
        in text
    )
    assert "| 60 | 40.0% (20.0% - 60.0%) | 90 MB |" in text


def test_a_partial_run_marks_carried_sections_with_their_date() -> None:
    results = _results(carried={"snapshots": "2026-11-22"})
    text = report.render(results, "b.png")
    assert "_Not re-run: these figures are from the run of 2026-11-22._" in text
    assert "0.90x (0.80x - 1.50x), run of 2026-11-22" in text


def test_carried_seeding_methods_are_read_at_their_runs_largest_n_against_its_copy() -> None:
    carried = {
        "date": "2026-11-20",
        "entries": [_entry("copy", 2_000, [1_000.0]), _entry("bulk", 2_000, [500.0])],
    }
    seeding = [e for e in _results()["seeding"] if e["method"] != "bulk"]
    rows = target_rows(_results(seeding=seeding, seeding_carried=carried))
    reference = _row(rows, "reference factories through")
    assert (
        reference[1] == "reference factories through BulkSeeder, one process, N = 2,000, vs raw COPY rows/s"
    )
    assert reference[3:] == ("50.0% (1 round), run of 2026-11-20", "yes")
    # the ordinary factories ran in this run: read from it, not from the carried entries
    assert _row(rows, "ordinary factories")[3] == "40.0% (20.0% - 60.0%)"
