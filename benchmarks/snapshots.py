"""seedkit snapshot save/restore against pg_dump -Fc/pg_restore, on the same 50,000-row database.

Every round runs all of them one after the other on the same server: seedkit save, seedkit
restore, seedkit restore with ``verify`` (the fingerprint read back before COMMIT), ``pg_dump
-Fc``, ``pg_restore --clean --single-transaction``. Each starts without an open connection (the
engine's pool is emptied first), as the command-line tools do. Ratios are taken per round (both
sides measured under the same load) and summarised by their median and range.
"""

from __future__ import annotations

import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from benchmarks.db import create_database, drop_database, pg_dump, pg_restore
from benchmarks.resets import build

STEPS = ("seedkit_save", "seedkit_restore", "seedkit_restore_verify", "pg_dump", "pg_restore")
PEERS = (
    ("seedkit_save", "pg_dump"),
    ("seedkit_restore", "pg_restore"),
    ("seedkit_restore_verify", "pg_restore"),
)


def run(server_url: str, *, quick: bool, log: Any) -> dict[str, Any]:
    from seedkit.snapshots import api as snapshot

    rounds = 5 if quick else 9
    url = create_database(server_url, "test_bench_snapshot")
    build(url)
    engine = sa.create_engine(url)
    timings: dict[str, list[float]] = {k: [] for k in STEPS}
    sizes: dict[str, int] = {}
    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp)
        dump = directory / "bench.dump"
        steps = {
            "seedkit_save": lambda: snapshot.save(
                "bench", directory=directory, engine=engine, overwrite=True
            ),
            "seedkit_restore": lambda: snapshot.restore("bench", directory=directory, engine=engine),
            "seedkit_restore_verify": lambda: snapshot.restore(
                "bench", directory=directory, engine=engine, verify=True
            ),
            "pg_dump": lambda: pg_dump(url, dump),
            "pg_restore": lambda: pg_restore(url, dump),
        }
        for _ in range(rounds):
            for key in STEPS:
                engine.dispose()
                started = time.perf_counter()
                steps[key]()
                timings[key].append(time.perf_counter() - started)
        sizes["seedkit_bytes"] = snapshot.snapshot_path(directory, "bench").stat().st_size
        sizes["pg_dump_bytes"] = dump.stat().st_size
    engine.dispose()
    drop_database(server_url, "test_bench_snapshot")
    result: dict[str, Any] = {"rounds": rounds, **sizes}
    for key, samples in timings.items():
        result[f"{key}_ms"] = statistics.median(samples) * 1000
        result[f"{key}_range_ms"] = [min(samples) * 1000, max(samples) * 1000]
    for ours, theirs in PEERS:
        ratios = [a / b for a, b in zip(timings[ours], timings[theirs], strict=True)]
        result[f"{ours}_ratios"] = ratios
        result[f"{ours}_ratio"] = statistics.median(ratios)
    log(
        f"  snapshot save {result['seedkit_save_ms']:.0f} ms / restore {result['seedkit_restore_ms']:.0f} ms "
        f"(verify {result['seedkit_restore_verify_ms']:.0f} ms); "
        f"pg_dump {result['pg_dump_ms']:.0f} ms / pg_restore {result['pg_restore_ms']:.0f} ms; "
        f"ratios {result['seedkit_save_ratio']:.2f}x / {result['seedkit_restore_ratio']:.2f}x "
        f"({result['seedkit_restore_verify_ratio']:.2f}x with verify)"
    )
    return result
