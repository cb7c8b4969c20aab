"""Embedded PostgreSQL start-up: cold (initdb + start) and reused (start of an existing data directory)."""

from __future__ import annotations

import shutil
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from seedkit.stores.embedded import EmbeddedPostgres


def _ready(server: EmbeddedPostgres) -> None:
    engine = sa.create_engine(server.url("postgres"))
    with engine.connect() as conn:
        conn.execute(sa.text("SELECT 1"))
    engine.dispose()


def run(*, quick: bool, log: Any) -> dict[str, Any]:
    rounds = 2 if quick else 5
    cold, reused = [], []
    for _ in range(rounds):
        root = Path(tempfile.mkdtemp(prefix="seedkit-bench-pg-"))
        try:
            server = EmbeddedPostgres(root)
            started = time.perf_counter()
            server.start()
            _ready(server)
            cold.append(time.perf_counter() - started)
            server.stop()
            started = time.perf_counter()
            server.start()
            _ready(server)
            reused.append(time.perf_counter() - started)
            server.stop()
        finally:
            shutil.rmtree(root, ignore_errors=True)
    result = {
        "rounds": rounds,
        "cold_s": statistics.median(cold),
        "cold_max_s": max(cold),
        "reused_s": statistics.median(reused),
        "reused_max_s": max(reused),
    }
    log(f"  start-up cold {result['cold_s']:.2f} s, reused {result['reused_s']:.2f} s (median of {rounds})")
    return result
