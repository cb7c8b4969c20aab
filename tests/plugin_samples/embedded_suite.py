"""Sample suite run with ``-n 2 --dist each`` and no database URL anywhere: the embedded server."""

import json
import os
from pathlib import Path

from seedkit.pytest.server import embedded_root

OUT = Path(os.environ["SEEDKIT_SAMPLE_OUT"])


def test_every_worker_uses_the_runs_embedded_server(
    worker_id, tmp_path_factory, seedkit_database, seedkit_db_url, seedkit_session
):
    base = tmp_path_factory.getbasetemp()
    shared = (base if worker_id == "master" else base.parent) / "seedkit"  # the controller's basetemp
    assert (embedded_root(shared) / "data" / "PG_VERSION").exists()
    assert seedkit_session.connection().exec_driver_sql("SELECT count(*) FROM users").scalar() > 0
    seen = {"server": seedkit_database.server_url, "url": seedkit_db_url}
    (OUT / f"{worker_id}.json").write_text(json.dumps(seen))


def test_fails_when_asked(seedkit_session):
    assert os.environ.get("SEEDKIT_SAMPLE_FAIL") != "1", "failing on purpose"
