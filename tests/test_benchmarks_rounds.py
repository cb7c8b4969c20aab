"""The benchmark harness's rounds: per-round ratios, their median and spread, the run order and the
full run's schedule. Nothing here times anything (speed is measured only by ``python -m benchmarks``)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # the repository's benchmarks package
from benchmarks import seeding
from benchmarks.rounds import Spread, interleave, ratios, round_values, spread
from benchmarks.seed_worker import METHODS


def test_spread_is_the_median_and_range_of_the_rounds() -> None:
    assert spread([0.30, 0.10, 0.20, 0.90]) == Spread(median=0.25, low=0.10, high=0.90, rounds=4)
    assert spread([2.0]) == Spread(2.0, 2.0, 2.0, 1)


def test_spread_of_no_rounds_is_an_error() -> None:
    with pytest.raises(ValueError, match="no rounds"):
        spread([])


def test_spread_formats_median_then_range_and_says_when_there_was_one_round() -> None:
    assert spread([0.5, 0.25, 0.75]).format() == "50.0% (25.0% - 75.0%)"
    assert spread([1.5, 1.25]).format("{:.2f}x") == "1.38x (1.25x - 1.50x)"
    assert spread([0.5]).format() == "50.0% (1 round)"


def test_ratios_pair_each_round_with_the_same_round_of_the_peer() -> None:
    # round 2 was slow for both (load): its ratio is that of the others, not 3x lower
    assert ratios([50.0, 60.0, 20.0], [100.0, 120.0, 40.0]) == [0.5, 0.5, 0.5]
    # a side with more rounds: the extra rounds have no partner
    assert ratios([1.0, 2.0, 3.0], [2.0, 4.0]) == [0.5, 0.5]


def test_interleave_runs_every_method_once_per_round_before_the_next_round() -> None:
    order = interleave({"copy": 3, "ordinary": 3, "naive": 1, "tables": 2, "dask": 0})
    assert order == [
        (0, "copy"), (0, "ordinary"), (0, "naive"), (0, "tables"),
        (1, "copy"), (1, "ordinary"), (1, "tables"),
        (2, "copy"), (2, "ordinary"),
    ]  # fmt: skip


def test_round_values_read_an_entry_from_before_rounds_as_one_round() -> None:
    assert round_values({"rows_per_second": 7.0}, "rows_per_second") == [7.0]
    entry = {"rows_per_second": 5.0, "rounds": [{"rows_per_second": 4.0}, {"rows_per_second": 6.0}]}
    assert round_values(entry, "rows_per_second") == [4.0, 6.0]


@pytest.mark.parametrize("users", seeding.FULL_SIZES)
def test_raw_copy_runs_in_every_round_any_method_runs(users: int) -> None:
    copy = seeding.rounds_at("copy", users, quick=False)
    assert all(seeding.rounds_at(m, users, quick=False) <= copy for m in METHODS)


def test_the_full_run_repeats_issue_11s_methods_at_200000_users() -> None:
    for method in ("copy", "ordinary", "ordinary-values", "bulk", "tables"):
        assert seeding.rounds_at(method, 200_000, quick=False) >= 2, method
        assert seeding.rounds_at(method, 20_000, quick=False) >= 3, method
    # the per-object paths flush every object: not at 200,000 (about 20 minutes a round)
    assert seeding.rounds_at("per-object", 200_000, quick=False) == 0
    assert seeding.rounds_at("naive", 200_000, quick=False) == 0
    assert seeding.rounds_at("a-method-added-later", 200_000, quick=False) == 0
    assert seeding.rounds_at("a-method-added-later", 2_000, quick=False) >= 2


def test_quick_runs_two_rounds_of_every_method_at_the_quick_sizes() -> None:
    for method in METHODS:
        assert [seeding.rounds_at(method, n, quick=True) for n in seeding.QUICK_SIZES] == [2, 2]
        assert seeding.rounds_at(method, 200_000, quick=True) == 0


def _round(seconds: float, rows: int = 1_000, **extra: object) -> dict[str, object]:
    return {
        "rows": rows,
        "seconds": seconds,
        "rows_per_second": rows / seconds,
        "peak_rss_mb": 90 + seconds,
        **extra,
    }


def test_summarise_keeps_the_rounds_and_gives_medians_and_the_largest_rss() -> None:
    entry = seeding.summarise("bulk", 2_000, [_round(4.0), _round(1.0), _round(2.0)])
    assert entry["seconds"] == 2.0
    assert entry["rows_per_second"] == 500.0
    assert entry["peak_rss_mb"] == 94.0
    assert round_values(entry, "seconds") == [4.0, 1.0, 2.0]


def test_summarise_gives_no_digest_when_rounds_wrote_different_data() -> None:
    same = seeding.summarise("bulk-2-workers", 2_000, [_round(1.0, digest="a"), _round(2.0, digest="a")])
    assert same["digest"] == "a"
    differ = seeding.summarise("bulk-2-workers", 2_000, [_round(1.0, digest="a"), _round(2.0, digest="b")])
    assert differ["digest"] is None
