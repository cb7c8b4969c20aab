"""Run every benchmark and write docs/benchmarks.md and docs/benchmarks.png.

    python -m benchmarks            # the full run (N = 2,000 / 20,000 / 200,000 users), ~30 minutes
    python -m benchmarks --quick    # small sizes, fewer rounds; results in benchmarks/quick/ (git ignores it)
    python -m benchmarks --quick --out /tmp/bench    # a trial: nothing in the repository changes

Everything runs against one throwaway embedded PostgreSQL started here, so all compared
methods ran side by side on the same server. Raw results go to ``last_run.json`` in ``--out``;
for the default ``--out`` (docs/) they go to the repository's benchmarks/last_run.json instead.
A partial run (``--only``, ``--methods``) carries the sections and methods it skipped from the
previous results there, marked with their dates; a full run carries nothing. A section that
fails is named in the report (the other sections are kept) and the exit code is 1.

Every ratio is taken within a round and reported with its spread over rounds
(benchmarks/rounds.py). The full run's budget, on this 2-core machine with PostgreSQL on the same
cores, estimated from single measurements of each piece on 2026-11-30 (wall clock per measurement,
its process start and database clone included):

=====================================  ==============================  ===========
piece                                  rounds                          minutes
=====================================  ==============================  ===========
seeding, N = 2,000 (13 methods, 41 s)  3 of every method               2
seeding, N = 20,000: COPY, Faker       3                               2
tuples, table volumes (1 and 2
workers), bulk, ordinary, with values
(43 s a round)
seeding, N = 20,000: ordinary-orm,     2                               3.5
1 and 2 partitioned workers, Dask
(105 s a round)
seeding, N = 200,000: COPY, Faker      2                               15
tuples, table volumes, bulk,
ordinary, with values (~450 s a round)
per-test resets (12 strategies x 40    warm pool vs bare clone: 5      3
tests)
snapshots vs pg_dump/pg_restore        9                               1
long suite (3 x 2,000 tests)           1 (not a ratio)                 4
embedded start-up                      5 (not a ratio)                 0.2
=====================================  ==============================  ===========

About 31 minutes in all when the machine is idle. Under other work it stretches: at a load
average of ~9 on 2026-11-30, one round at N = 200,000 took 41 s for raw COPY, 127 s for the
ordinary factories and 353 s for the reference factories (wall clock), 2-3x the idle figures.

Left out to stay within ~35 minutes (each would add to every round at N = 200,000): per-object
and naive factory_boy (a flush per object, ~1.5-2 min each a round already at 20,000 users,
~15-20 min each at 200,000), ordinary-orm (~5 min), one and two partitioned workers and Dask
(~3-4 min each), table volumes with 2 workers (~1.5 min, up to 15 min under load).
``seeding.FULL_ROUNDS`` holds the schedule.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from benchmarks import long_suite, report, resets, seeding, snapshots, startup
from seedkit.stores.embedded import EmbeddedPostgres

REPO = Path(__file__).resolve().parent.parent
SECTIONS = ("seeding", "resets", "startup", "snapshots", "long_suite")
SHARED_SERVER_SECTIONS = ("seeding", "resets", "snapshots", "long_suite")
"""Sections measured on the one shared throwaway server (start-up starts its own, after it is gone)."""
DEFAULT_OUT = REPO / "docs"
QUICK_OUT = REPO / "benchmarks" / "quick"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes, fewer runs (minutes, not tens)")
    parser.add_argument("--only", default=",".join(SECTIONS), help=f"comma-separated subset of {SECTIONS}")
    parser.add_argument(
        "--out",
        default=None,
        help=(
            "where benchmarks.md, .png and last_run.json go (default: docs/, with last_run.json in "
            "benchmarks/; for --quick, benchmarks/quick/, which git ignores)"
        ),
    )
    parser.add_argument(
        "--methods",
        default=",".join(seeding.METHODS),
        help=f"comma-separated seeding methods to run (raw COPY always runs), of {', '.join(seeding.METHODS)}",
    )
    args = parser.parse_args(argv)
    wanted = [s.strip() for s in args.only.split(",") if s.strip()]
    unknown = sorted(set(wanted) - set(SECTIONS))
    if unknown:
        parser.error(f"unknown section(s) {unknown}; known: {', '.join(SECTIONS)}")
    methods = ["copy", *(m.strip() for m in args.methods.split(",") if m.strip() and m.strip() != "copy")]
    unknown = sorted(set(methods) - set(seeding.METHODS))
    if unknown:
        parser.error(f"unknown method(s) {unknown}; known: {', '.join(seeding.METHODS)}")

    def log(line: str) -> None:
        print(line, flush=True)

    started = time.perf_counter()
    results: dict[str, Any] = {"quick": args.quick, "environment": _host()}
    if set(wanted) & set(SHARED_SERVER_SECTIONS):
        _run_on_shared_server(results, wanted, methods, quick=args.quick, log=log)
    if "startup" in wanted:  # after the shared server is gone: nothing else competes for the CPUs
        log("embedded PostgreSQL start-up")
        _measure(results, "startup", lambda: startup.run(quick=args.quick, log=log), log)
    results["elapsed_s"] = time.perf_counter() - started
    # a quick run's small sizes must not replace the full run's figures in docs/
    out = Path(args.out) if args.out is not None else QUICK_OUT if args.quick else DEFAULT_OUT
    saved = save(results, out, wanted, methods)
    report.write(results, out / "benchmarks.md", out / "benchmarks.png")
    log(
        f"wrote {out / 'benchmarks.md'}, {out / 'benchmarks.png'} and {saved} "
        f"in {results['elapsed_s'] / 60:.1f} min"
    )
    return 1 if results.get("failed") else 0


def _run_on_shared_server(
    results: dict[str, Any], wanted: list[str], methods: list[str], *, quick: bool, log: Any
) -> None:
    server = EmbeddedPostgres.temporary().start()
    try:
        server_url = server.url("postgres")
        results["environment"].update(_server(server_url))
        log(f"PostgreSQL {results['environment']['postgres']} on {results['environment']['cpus']} CPUs")
        if "seeding" in wanted:
            log("seeding throughput")
            _measure(
                results,
                "seeding",
                lambda: seeding.run(server_url, quick=quick, log=log, methods=methods),
                log,
            )
        if "resets" in wanted:
            log("per-test resets")
            _measure(results, "resets", lambda: resets.run(server_url, quick=quick, log=log), log)
        if "snapshots" in wanted:
            log("snapshots")
            _measure(results, "snapshots", lambda: snapshots.run(server_url, quick=quick, log=log), log)
        if "long_suite" in wanted:
            log("per-test overhead over a long suite")
            _measure(results, "long_suite", lambda: long_suite.run(server_url, quick=quick, log=log), log)
    finally:
        server.stop()


def _measure(results: dict[str, Any], section: str, run: Callable[[], Any], log: Any) -> None:
    """Put ``run()``'s figures in ``results[section]``; when it raises, log the traceback and record
    the error's first line in ``results["failed"]`` instead, so one broken section does not cost
    the other sections of a half-hour run (the report names it, the exit code is 1)."""
    try:
        results[section] = run()
    except Exception as error:
        log(traceback.format_exc())
        message = f"{type(error).__name__}: {error}".strip().splitlines()[0]
        results.setdefault("failed", {})[section] = message
        log(f"  {section} FAILED: {message}")


def results_path(out: Path) -> Path:
    """Where a run's raw results (``last_run.json``) go for ``--out out``: the repository's copy,
    benchmarks/last_run.json, for the default docs/; ``out/last_run.json`` for any other directory
    (a trial run never touches the repository)."""
    if out.resolve() == DEFAULT_OUT.resolve():
        return REPO / "benchmarks" / "last_run.json"
    return out / "last_run.json"


def save(results: dict[str, Any], out: Path, wanted: list[str], methods: list[str]) -> Path:
    """Carry over what a partial run skipped from the previous results at :func:`results_path`, then
    write ``results`` there (``out`` is created). Returns the path written."""
    path = results_path(out)
    out.mkdir(parents=True, exist_ok=True)
    _carry_over(results, wanted, methods, path)
    path.write_text(json.dumps(results, indent=2, default=str) + "\n")
    return path


def _carry_over(results: dict[str, Any], wanted: list[str], methods: list[str], previous_path: Path) -> None:
    """Sections and seeding methods not run this time keep the previous run's figures, marked with its date.

    A full run (every section, every seeding method) carries nothing. Carried seeding methods are
    kept apart with that run's raw COPY (their ratios are against it).
    """
    if set(wanted) == set(SECTIONS) and set(methods) == set(seeding.METHODS):
        return
    if not previous_path.is_file():
        return
    previous = json.loads(previous_path.read_text())
    carried = dict(previous.get("carried", {}))
    if "seeding" in wanted and "seeding" in previous and set(methods) != set(seeding.METHODS):
        old = previous.get("seeding_carried") or {
            "date": previous.get("environment", {}).get("date", "?"),
            "entries": previous["seeding"],
        }
        kept = [e for e in old["entries"] if e["method"] not in methods or e["method"] == "copy"]
        if any(e["method"] != "copy" for e in kept):
            results["seeding_carried"] = {"date": old["date"], "entries": kept}
    if "seeding" not in wanted and "seeding_carried" in previous:  # kept with the seeding it belongs to
        results["seeding_carried"] = previous["seeding_carried"]
    for section in SECTIONS:
        if section not in wanted and section in previous:
            results[section] = previous[section]
            results.setdefault("carried", {})[section] = carried.get(
                section, previous.get("environment", {}).get("date", "?")
            )


def _host() -> dict[str, Any]:
    import os

    return {
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "date": time.strftime("%Y-%m-%d"),
    }


def _server(server_url: str) -> dict[str, Any]:
    engine = sa.create_engine(server_url)
    with engine.connect() as conn:
        version = conn.execute(sa.text("SHOW server_version")).scalar_one()
        fsync = conn.execute(sa.text("SHOW fsync")).scalar_one()
    engine.dispose()
    return {"postgres": version, "fsync": fsync}


if __name__ == "__main__":
    sys.exit(main())
