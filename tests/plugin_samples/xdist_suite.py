"""Sample suite run with ``-n 2 --dist each`` (every test on both workers at the same time).

Each worker writes a row with the same unique key and commits, records its database, then
waits until the other worker has done the same: at that moment both rows are committed, and
each worker must still see exactly one, in a database of its own.
"""

import json
import os
import time
from pathlib import Path

import pytest
import sqlalchemy as sa
from seedkit_reference.models import Organization

from seedkit.core.ids import label_uuid

OUT = Path(os.environ["SEEDKIT_SAMPLE_OUT"])
WORKERS = 2
PATIENCE_S = 60


@pytest.mark.parametrize(
    "strategy",
    [
        pytest.param("truncate", marks=pytest.mark.seedkit(strategy="truncate")),
        pytest.param("rollback", marks=pytest.mark.seedkit(strategy="rollback")),
        pytest.param("snapshot", marks=pytest.mark.seedkit(strategy="snapshot")),
    ],
)
def test_same_unique_key_on_every_worker(strategy, worker_id, seedkit_session, seedkit_db_url, seedkit_clock):
    seedkit_session.add(
        Organization(
            id=label_uuid("sample", "shared"), name="Shared", slug="shared", created_at=seedkit_clock.now()
        )
    )
    seedkit_session.commit()
    database = seedkit_session.execute(sa.text("SELECT current_database()")).scalar_one()
    mine = {"worker": worker_id, "database": database, "url_database": seedkit_db_url.rsplit("/", 1)[1]}
    (OUT / f"{strategy}-{worker_id}.json").write_text(json.dumps(mine))
    deadline = time.monotonic() + PATIENCE_S
    while len(list(OUT.glob(f"{strategy}-*.json"))) < WORKERS:
        assert time.monotonic() < deadline, "the other worker never wrote its row"
        time.sleep(0.02)
    assert (
        seedkit_session.execute(sa.text("SELECT count(*) FROM organizations WHERE slug = 'shared'")).scalar()
        == 1
    )
