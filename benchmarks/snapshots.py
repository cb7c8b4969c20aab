"""seedkit snapshot save/restore against pg_dump/pg_restore, on the same 50,000-row database."""

from __future__ import annotations

import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from benchmarks.db import create_database, drop_database, pg_dump, pg_restore
from benchmarks.resets import build


def run(server_url: str, *, quick: bool, log: Any) -> dict[str, Any]:
    from seedkit.snapshots import api as snapshot

    rounds = 3 if quick else 7
    url = create_database(server_url, "test_bench_snapshot")
    build(url)
    engine = sa.create_engine(url)
    timings: dict[str, list[float]] = {
        k: [] for k in ("seedkit_save", "seedkit_restore", "pg_dump", "pg_restore")
    }
    sizes: dict[str, int] = {}
    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp)
        dump = directory / "bench.dump"
        for _ in range(rounds):
            started = time.perf_counter()
            info = snapshot.save("bench", directory=directory, engine=engine, overwrite=True)
            timings["seedkit_save"].append(time.perf_counter() - started)
            started = time.perf_counter()
            snapshot.restore("bench", directory=directory, engine=engine)
            timings["seedkit_restore"].append(time.perf_counter() - started)
            engine.dispose()
            started = time.perf_counter()
            pg_dump(url, dump)
            timings["pg_dump"].append(time.perf_counter() - started)
            started = time.perf_counter()
            pg_restore(url, dump)
            timings["pg_restore"].append(time.perf_counter() - started)
        sizes["seedkit_bytes"] = snapshot.snapshot_path(directory, "bench").stat().st_size
        sizes["pg_dump_bytes"] = dump.stat().st_size
        del info
    engine.dispose()
    drop_database(server_url, "test_bench_snapshot")
    result: dict[str, Any] = {"rounds": rounds, **sizes}
    for key, samples in timings.items():
        result[f"{key}_ms"] = statistics.median(samples) * 1000
    for ours, theirs in (("seedkit_save", "pg_dump"), ("seedkit_restore", "pg_restore")):
        # each round ran both side by side: the ratio per round, and its spread over the rounds
        ratios = [a / b for a, b in zip(timings[ours], timings[theirs], strict=True)]
        result[f"{ours}_ratios"] = ratios
        result[f"{ours}_ratio"] = statistics.median(ratios)
    log(
        f"  snapshot save {result['seedkit_save_ms']:.0f} ms / "
        f"restore {result['seedkit_restore_ms']:.0f} ms; "
        f"pg_dump {result['pg_dump_ms']:.0f} ms / pg_restore {result['pg_restore_ms']:.0f} ms; "
        f"ratios {result['seedkit_save_ratio']:.2f}x / {result['seedkit_restore_ratio']:.2f}x"
    )
    return result
