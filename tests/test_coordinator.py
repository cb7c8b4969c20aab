"""The coordinator's hold on its participants: none starts once the run is closed, and a rollback
waits until every running one has ended (so nothing of the run is written after it)."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest
import sqlalchemy as sa

from seedkit.bulk.coordinator import Coordinator, RunClosed, join_run
from seedkit.stores.postgres_admin import advisory_key


def _waiting_for(conn: sa.Connection, key: int) -> int:
    """Sessions waiting (not granted) for the advisory lock ``key``."""
    unsigned = key & 0xFFFFFFFFFFFFFFFF
    return int(
        conn.execute(
            sa.text(
                "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted "
                "AND classid = CAST(:high AS oid) AND objid = CAST(:low AS oid) AND objsubid = 1"
            ),
            {"high": unsigned >> 32, "low": unsigned & 0xFFFFFFFF},
        ).scalar_one()
    )


def test_a_participant_joins_an_open_run_and_is_refused_once_the_coordinator_is_gone(
    engine: sa.Engine, tmp_path: Path
) -> None:
    with Coordinator(engine, tmp_path) as run, engine.connect() as participant:
        join_run(participant, run.gid(1))  # open: it may start
    with engine.connect() as late, pytest.raises(RunClosed, match=f"run {run.run} is closed"):
        join_run(late, run.gid(2))


def test_a_rollback_waits_for_the_running_participants(engine: sa.Engine, tmp_path: Path) -> None:
    with Coordinator(engine, tmp_path) as run:
        participant = engine.connect()
        join_run(participant, run.gid(1))  # a partition at work: it holds the run's lock
        rolling_back = threading.Thread(target=run.rollback)
        rolling_back.start()
        with engine.connect() as observer:
            while _waiting_for(observer, advisory_key(run.run)) == 0:  # the rollback queues behind it
                assert rolling_back.is_alive()
                time.sleep(0.05)
            assert rolling_back.is_alive()
        participant.invalidate()  # the partition's session ends (prepared, failed or died)
        participant.close()
        rolling_back.join(timeout=60)
        assert not rolling_back.is_alive()
