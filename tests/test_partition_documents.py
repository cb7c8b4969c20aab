"""Mongo documents of partitions: written by the partitions themselves, taken back on failure.

With a Mongo server (a URL), each partition inserts its documents itself, so none travels back to
the coordinator. A worker process needs the server's URL; the suite has one in the Mongo lane
(``SEEDKIT_TEST_MONGO_URL``, tests/mongo_wire/lane.py). On mongomock the partitions run in this
process (the serial executor) and reach the test's mongomock database when they connect to the address
they are given (``MongoAddress.connect``), as a worker reaches a server.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Generator, Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from conftest import create_database, drop_database, suite_mongo_url
from pymongo.database import Database
from seedkit_reference.document_factories import AuditEventFactory
from seedkit_reference.model_factories import CustomerFactory, OrganizationFactory, ProductFactory

from seedkit.bulk.coordinator import Coordinator
from seedkit.bulk.executors import SerialExecutor
from seedkit.bulk.partitions import MongoAddress, PartitionProgress, VolumeSpec, seed_partitioned
from seedkit.errors import SeedkitError
from seedkit.stores.fingerprint import Fingerprint, fingerprint

pytestmark = pytest.mark.mongo

VOLUMES = [
    VolumeSpec(OrganizationFactory, 3),
    VolumeSpec(ProductFactory, 10),
    VolumeSpec(AuditEventFactory, 25),  # partitions of 10: 10, 10, 5 documents
    VolumeSpec(CustomerFactory, 30, {"orders": "0-2"}),
]


class RecordingExecutor(SerialExecutor):
    """The serial executor, keeping what every partition handed back to the coordinator."""

    def __init__(self) -> None:
        self.outcomes: list[Any] = []

    def map(self, fn: Callable[[Any], Any], jobs: Sequence[Any]) -> Generator[tuple[int, Any]]:
        for index, outcome in super().map(fn, jobs):
            self.outcomes.append(outcome)
            yield index, outcome


@pytest.fixture
def mongo_url(mongo_db: Database[Any], monkeypatch: pytest.MonkeyPatch) -> str:
    """The URL partitions connect to: the suite's server, or one that reaches ``mongo_db`` in-process."""
    url = suite_mongo_url()
    if url is not None:
        return url
    fake = "mongodb://in-process.invalid:27017"

    def connect(address: MongoAddress) -> Database[Any]:
        assert address.url == fake, address
        found: Database[Any] = mongo_db.client[address.database]
        return found

    monkeypatch.setattr(MongoAddress, "connect", connect)
    return fake


def _fingerprint(url: str, db: Database[Any]) -> Fingerprint:
    engine = sa.create_engine(url)
    with engine.connect() as conn:
        found = fingerprint(conn, db)
    engine.dispose()
    return found


@pytest.fixture
def make_db(pg_server_url: str, reference_template: str) -> Iterator[Callable[[], str]]:
    """Makes fresh databases at the reference schema's head (dropped afterwards)."""
    names: list[str] = []

    def make() -> str:
        names.append(f"test_{uuid.uuid4().hex[:12]}")
        return create_database(pg_server_url, names[-1], template=reference_template)

    yield make
    for name in names:
        drop_database(pg_server_url, name)


@pytest.fixture
def other_mongo() -> Iterator[Database[Any]]:
    """A second fresh database on the suite's Mongo, for the run that hands documents back."""
    from conftest import connect_test_mongo

    db = connect_test_mongo(f"test_{uuid.uuid4().hex[:12]}")
    yield db
    db.client.drop_database(db.name)
    db.client.close()


@pytest.mark.parametrize("bulk", [True, False], ids=["bulk", "per-object"])
def test_partitions_write_their_documents_and_hand_none_back(
    bulk: bool, db_url: str, make_db: Any, mongo_db: Database[Any], mongo_url: str, other_mongo: Database[Any]
) -> None:
    executor = RecordingExecutor()
    states: list[PartitionProgress] = []
    result = seed_partitioned(
        db_url, VOLUMES, seed=5, partition_size=10, bulk=bulk, mongo=mongo_db, mongo_url=mongo_url,
        executor=executor, progress=states.append,
    )  # fmt: skip
    assert result.partitions == len(executor.outcomes) == 3 + 3
    assert all(outcome.documents == {} for outcome in executor.outcomes)  # nothing came back
    assert sum(sum(o.written.values()) for o in executor.outcomes) == 25
    assert result.documents["audit_events"] == mongo_db["audit_events"].count_documents({}) == 25
    written = _fingerprint(db_url, mongo_db)

    # The same data as partitions that hand their documents back to the coordinator.
    handed_back = RecordingExecutor()
    other_url = make_db()
    seed_partitioned(
        other_url, VOLUMES, seed=5, partition_size=10, bulk=bulk, mongo=other_mongo, executor=handed_back
    )
    assert sum(len(docs) for o in handed_back.outcomes for docs in o.documents.values()) == 25
    assert _fingerprint(other_url, other_mongo).digest == written.digest


def test_progress_counts_partitions_rows_and_documents(
    db_url: str, mongo_db: Database[Any], mongo_url: str
) -> None:
    states: list[PartitionProgress] = []
    result = seed_partitioned(
        db_url, VOLUMES, seed=5, partition_size=10, mongo=mongo_db, mongo_url=mongo_url,
        executor=RecordingExecutor(), progress=states.append,
    )  # fmt: skip
    assert [s.done for s in states] == [0, 1, 2, 3, 4, 5, 6]  # 0: when the first partitions start
    assert {s.total for s in states} == {6}
    assert [s.documents for s in states[:4]] == [0, 10, 20, 25]
    rows = [s.rows for s in states]
    assert rows == sorted(rows) and rows[4] < rows[6]  # the customers' partitions write rows
    assert states[-1].rows == sum(result.rows.values())
    engine = sa.create_engine(db_url)
    with engine.connect() as conn:
        users = conn.execute(sa.text("SELECT count(*) FROM users")).scalar_one()
    engine.dispose()
    assert result.rows["users"] == users > 30  # the customers and the organizations' own users
    assert states[-1].documents == 25


def test_a_failed_run_takes_back_the_documents_the_partitions_wrote(
    db_url: str, mongo_db: Database[Any], mongo_url: str, tmp_path: Path
) -> None:
    mongo_db["notes"].insert_one({"_id": 1, "kept": True})  # what was there before the run
    before = _fingerprint(db_url, mongo_db)
    failing = [*VOLUMES[:3], VolumeSpec(CustomerFactory, 30, {"orders": "two"})]  # fails after the documents
    engine = sa.create_engine(db_url)
    try:
        with pytest.raises(SeedkitError), Coordinator(engine, tmp_path / "runs", mongo=mongo_db) as run:
            run.keep_undo()
            seed_partitioned(
                db_url, failing, seed=5, partition_size=10, mongo=mongo_db, mongo_url=mongo_url,
                executor=RecordingExecutor(), coordinator=run,
            )  # fmt: skip
        assert mongo_db["audit_events"].count_documents({}) == 0
        assert _fingerprint(db_url, mongo_db) == before
        with engine.connect() as conn:
            prepared = sa.text("SELECT count(*) FROM pg_prepared_xacts WHERE database = current_database()")
            assert conn.execute(prepared).scalar_one() == 0
    finally:
        engine.dispose()
