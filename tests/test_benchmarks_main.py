"""``python -m benchmarks``' results file: where it goes for ``--out``, and what a run carries over
from the previous one. Nothing here times anything, and no benchmark runs (the sections are stubbed)."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # the repository's benchmarks package
from benchmarks import __main__ as bench
from benchmarks import report, startup
from benchmarks.seed_worker import METHODS

REPO_RESULTS = bench.REPO / "benchmarks" / "last_run.json"


def test_results_go_to_the_repository_only_for_the_default_out(tmp_path: Path) -> None:
    assert bench.results_path(bench.REPO / "docs") == REPO_RESULTS
    assert bench.results_path(tmp_path / "trial") == tmp_path / "trial" / "last_run.json"


def test_a_run_with_out_writes_its_results_there_and_leaves_the_repository_alone(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = REPO_RESULTS.read_bytes() if REPO_RESULTS.exists() else None
    figures = {"rounds": 2, "cold_s": 0.5, "cold_max_s": 0.6, "reused_s": 0.1, "reused_max_s": 0.2}
    monkeypatch.setattr(startup, "run", lambda *, quick, log: figures)

    def draw(results: dict[str, Any], path: Path) -> None:  # matplotlib is a dev dependency only
        path.write_bytes(b"")

    monkeypatch.setattr(report, "draw", draw)
    out = tmp_path / "trial"
    assert bench.main(["--quick", "--only", "startup", "--out", str(out)]) == 0
    saved = json.loads((out / "last_run.json").read_text())
    assert saved["startup"] == figures
    assert "carried" not in saved  # nothing to carry from: out/ had no earlier results
    assert "cold: `initdb` + start | 0.50 s (0.60 s)" in (out / "benchmarks.md").read_text()
    assert (REPO_RESULTS.read_bytes() if REPO_RESULTS.exists() else None) == before


def _previous(path: Path) -> None:
    path.write_text(
        json.dumps(
            {
                "environment": {"date": "2026-11-22"},
                "seeding": [{"method": "copy", "users": 2_000}, {"method": "bulk", "users": 2_000}],
                "resets": {"runs": 40},
                "snapshots": {"rounds": 9},
                "startup": {"rounds": 5},
                "long_suite": {"window": 50},
                "carried": {"snapshots": "2026-11-20"},
            }
        )
    )


def test_a_full_run_carries_nothing_from_the_previous_run(tmp_path: Path) -> None:
    _previous(tmp_path / "last_run.json")
    results: dict[str, Any] = {"seeding": [], "resets": {}, "snapshots": {}, "startup": {}, "long_suite": {}}
    bench.save(results, tmp_path, list(bench.SECTIONS), list(METHODS))
    saved = json.loads((tmp_path / "last_run.json").read_text())
    assert "carried" not in saved
    assert "seeding_carried" not in saved
    assert saved["resets"] == {}


def test_a_partial_run_carries_the_sections_it_skipped_with_their_dates(tmp_path: Path) -> None:
    _previous(tmp_path / "last_run.json")
    results: dict[str, Any] = {"seeding": []}
    bench.save(results, tmp_path, ["seeding"], ["copy", "ordinary"])
    saved = json.loads((tmp_path / "last_run.json").read_text())
    assert saved["carried"] == {
        "resets": "2026-11-22",
        "snapshots": "2026-11-20",  # carried twice: still the date it was measured
        "startup": "2026-11-22",
        "long_suite": "2026-11-22",
    }
    assert saved["resets"] == {"runs": 40}
    # the methods not re-run stay, with the raw COPY their ratios were taken against
    assert saved["seeding_carried"] == {
        "date": "2026-11-22",
        "entries": [{"method": "copy", "users": 2_000}, {"method": "bulk", "users": 2_000}],
    }


def test_raw_copy_always_runs_with_the_methods_asked_for(monkeypatch: pytest.MonkeyPatch) -> None:
    asked: list[list[str]] = []
    monkeypatch.setattr(bench, "_run_on_shared_server", lambda r, w, methods, **k: asked.append(methods))
    monkeypatch.setattr(bench, "save", lambda *a: Path("x"))
    monkeypatch.setattr(report, "write", lambda *a: None)
    bench.main(["--only", "seeding", "--methods", "ordinary,bulk"])
    assert asked == [["copy", "ordinary", "bulk"]]


def test_a_failed_section_is_named_in_the_report_the_others_are_kept_and_the_exit_code_is_1(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*, quick: bool, log: Any) -> dict[str, Any]:
        raise RuntimeError("pg_ctl failed: no space left on device\nmore detail")

    monkeypatch.setattr(startup, "run", broken)
    monkeypatch.setattr(report, "draw", lambda results, path: path.write_bytes(b""))
    lines: list[str] = []
    monkeypatch.setattr("builtins.print", lambda line, **kwargs: lines.append(line))
    assert bench.main(["--quick", "--only", "startup", "--out", str(tmp_path)]) == 1
    saved = json.loads((tmp_path / "last_run.json").read_text())
    assert saved["failed"] == {"startup": "RuntimeError: pg_ctl failed: no space left on device"}
    assert "startup" not in saved
    text = (tmp_path / "benchmarks.md").read_text()
    assert "**startup failed in this run** (its figures are missing): `RuntimeError: pg_ctl failed" in text
    assert any("Traceback" in line for line in lines)


def test_a_quick_run_without_out_leaves_docs_and_the_repository_results_alone(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """A quick run's small sizes once replaced the full run's figures (committed by accident)."""
    figures = {"rounds": 2, "cold_s": 0.5, "cold_max_s": 0.6, "reused_s": 0.1, "reused_max_s": 0.2}
    monkeypatch.setattr(bench, "DEFAULT_OUT", tmp_path / "docs")
    monkeypatch.setattr(bench, "QUICK_OUT", tmp_path / "quick")
    monkeypatch.setattr(bench, "REPO", tmp_path)
    monkeypatch.setattr(startup, "run", lambda *, quick, log: figures)
    monkeypatch.setattr(report, "draw", lambda results, path: path.write_bytes(b""))
    assert bench.main(["--quick", "--only", "startup"]) == 0
    assert (tmp_path / "quick" / "benchmarks.md").is_file()
    assert (tmp_path / "quick" / "last_run.json").is_file()
    assert not (tmp_path / "docs").exists()
