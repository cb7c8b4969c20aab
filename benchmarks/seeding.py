"""Seeding throughput of the graph for every method and size, each run in its own process."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from benchmarks.db import create_database, drop_database, migrated_template
from benchmarks.seed_worker import METHODS

REPO = Path(__file__).resolve().parent.parent

FULL_SIZES = (2_000, 20_000, 200_000)
QUICK_SIZES = (500, 2_000)
# factory_boy's per-object paths flush every object: 1M rows would take about half an hour each.
SLOW_METHODS_UP_TO = 20_000
SLOW_METHODS = ("per-object", "naive")


def run(server_url: str, *, quick: bool, log: Any, methods: Any = METHODS) -> list[dict[str, Any]]:
    template = migrated_template(server_url, "test_bench_seed_template")
    results = []
    for users in QUICK_SIZES if quick else FULL_SIZES:
        for method in (m for m in METHODS if m in methods):
            if method in SLOW_METHODS and users > SLOW_METHODS_UP_TO:
                results.append({"method": method, "users": users, "skipped": True})
                continue
            name = f"test_bench_seed_{method.replace('-', '_')}_{users}"
            url = create_database(server_url, name, template=template)
            try:
                result = _measure(method, users, url)
            finally:
                drop_database(server_url, name)
            log(
                f"  seeding {method:>15} N={users:>7,}: {result['rows_per_second']:>9,.0f} rows/s "
                f"{result['seconds']:7.2f} s  peak RSS {result['peak_rss_mb']:6.0f} MB"
            )
            results.append(result)
    drop_database(server_url, template)
    return results


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
