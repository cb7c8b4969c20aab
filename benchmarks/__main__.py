"""Run every benchmark and write docs/benchmarks.md and docs/benchmarks.png.

    python -m benchmarks            # the full run (N = 2,000 / 20,000 / 200,000 users)
    python -m benchmarks --quick    # small sizes and fewer repetitions, for iteration

Everything runs against one throwaway embedded PostgreSQL started here, so all compared
methods ran side by side on the same server. Raw results also go to benchmarks/last_run.json.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from benchmarks import long_suite, report, resets, seeding, snapshots, startup
from seedkit.stores.embedded import EmbeddedPostgres

REPO = Path(__file__).resolve().parent.parent
SECTIONS = ("seeding", "resets", "startup", "snapshots", "long_suite")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes, fewer runs (minutes, not tens)")
    parser.add_argument("--only", default=",".join(SECTIONS), help=f"comma-separated subset of {SECTIONS}")
    parser.add_argument("--out", default=str(REPO / "docs"), help="where benchmarks.md and .png go")
    parser.add_argument(
        "--methods",
        default=",".join(seeding.METHODS),
        help=f"comma-separated seeding methods to run, of {', '.join(seeding.METHODS)}",
    )
    args = parser.parse_args(argv)
    wanted = [s.strip() for s in args.only.split(",") if s.strip()]
    unknown = sorted(set(wanted) - set(SECTIONS))
    if unknown:
        parser.error(f"unknown section(s) {unknown}; known: {', '.join(SECTIONS)}")
    methods = [m.strip() for m in args.methods.split(",") if m.strip()]
    unknown = sorted(set(methods) - set(seeding.METHODS))
    if unknown:
        parser.error(f"unknown method(s) {unknown}; known: {', '.join(seeding.METHODS)}")

    def log(line: str) -> None:
        print(line, flush=True)

    started = time.perf_counter()
    results: dict[str, Any] = {"quick": args.quick, "environment": {}}
    server = EmbeddedPostgres.temporary().start()
    try:
        server_url = server.url("postgres")
        results["environment"] = _environment(server_url)
        log(f"PostgreSQL {results['environment']['postgres']} on {results['environment']['cpus']} CPUs")
        if "seeding" in wanted:
            log("seeding throughput")
            results["seeding"] = seeding.run(server_url, quick=args.quick, log=log, methods=methods)
        if "resets" in wanted:
            log("per-test resets")
            results["resets"] = resets.run(server_url, quick=args.quick, log=log)
        if "snapshots" in wanted:
            log("snapshots")
            results["snapshots"] = snapshots.run(server_url, quick=args.quick, log=log)
        if "long_suite" in wanted:
            log("per-test overhead over a long suite")
            results["long_suite"] = long_suite.run(server_url, quick=args.quick, log=log)
    finally:
        server.stop()
    if "startup" in wanted:  # after the shared server is gone: nothing else competes for the CPUs
        log("embedded PostgreSQL start-up")
        results["startup"] = startup.run(quick=args.quick, log=log)
    results["elapsed_s"] = time.perf_counter() - started
    _carry_over(results, wanted, methods, REPO / "benchmarks" / "last_run.json")
    (REPO / "benchmarks" / "last_run.json").write_text(json.dumps(results, indent=2, default=str) + "\n")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    report.write(results, out / "benchmarks.md", out / "benchmarks.png")
    log(f"wrote {out / 'benchmarks.md'} and {out / 'benchmarks.png'} in {results['elapsed_s'] / 60:.1f} min")
    return 0


def _carry_over(results: dict[str, Any], wanted: list[str], methods: list[str], previous_path: Path) -> None:
    """Sections and seeding methods not run this time keep the previous run's figures, marked with its date.

    Carried seeding methods are kept apart with that run's raw COPY (their ratios are against it).
    """
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


def _environment(server_url: str) -> dict[str, Any]:
    import os

    engine = sa.create_engine(server_url)
    with engine.connect() as conn:
        version = conn.execute(sa.text("SHOW server_version")).scalar_one()
        fsync = conn.execute(sa.text("SHOW fsync")).scalar_one()
    engine.dispose()
    return {
        "postgres": version,
        "fsync": fsync,
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "date": time.strftime("%Y-%m-%d"),
    }


if __name__ == "__main__":
    sys.exit(main())
