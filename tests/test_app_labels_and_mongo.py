"""Pack labels whose hashed keys collide, and the truncate strategy's Mongo indexes."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from test_packs_support import write_pack

from seedkit.core.determinism import deterministic
from seedkit.core.ids import label_int
from seedkit.isolation import TruncateStrategy
from seedkit.packs import apply_packs, resolve_packs

# label_int("tags", ...) of these two labels is the same 31-bit number (found by search)
COLLIDING = ("l62890", "l67589")


def test_labels_whose_keys_collide_get_distinct_keys_in_any_order(tmp_path: Path, empty_db_url: str) -> None:
    assert label_int("tags", COLLIDING[0]) == label_int("tags", COLLIDING[1])
    engine = sa.create_engine(empty_db_url)
    with engine.begin() as conn:
        conn.execute(sa.text("CREATE TABLE tags (id int PRIMARY KEY, name text NOT NULL)"))
    keys = []
    for name, order in (("forward", COLLIDING), ("backward", COLLIDING[::-1])):
        text = "".join(f"{label}:\n  name: {label}\n" for label in order)
        write_pack(tmp_path / name, "tags", {"tags.yaml": text})
        with deterministic(0) as context, engine.connect() as conn:
            # used to fail with an IntegrityError on the primary key
            apply_packs(
                resolve_packs(["tags"], [tmp_path / name]), connection=conn, mongo=None, context=context
            )
        with engine.begin() as conn:
            keys.append(dict(conn.execute(sa.text("SELECT name, id FROM tags")).all()))
            conn.execute(sa.text("DELETE FROM tags"))
    engine.dispose()
    assert keys[0] == keys[1]  # resolved by label order, not by file order
    assert keys[0][COLLIDING[0]] == label_int("tags", COLLIDING[0])  # the first keeps its hash
    assert keys[0][COLLIDING[1]] == label_int("tags", f"{COLLIDING[1]}#1")


@pytest.mark.mongo
def test_truncate_strategy_puts_the_seeded_mongo_indexes_back(empty_db_url: str, mongo_db: Any) -> None:
    mongo_db["events"].create_index("kind", name="by_kind")
    mongo_db["events"].insert_one({"kind": "seeded"})

    def reseed(engine: sa.Engine, db: Any) -> None:
        db["events"].insert_one({"kind": "seeded"})

    strategy = TruncateStrategy(empty_db_url, mongo_db, reseed=reseed)
    strategy.prepare()
    try:
        handle = strategy.begin()
        mongo_db["events"].create_index("at", name="by_at")  # a test's own index
        mongo_db["events"].drop_index("by_kind")  # and a seeded one dropped
        strategy.end(handle)
        assert sorted(mongo_db["events"].index_information()) == ["_id_", "by_kind"]
        assert [d["kind"] for d in mongo_db["events"].find({}, {"_id": 0})] == ["seeded"]
    finally:
        strategy.close()


@pytest.mark.mongo
def test_mongo_field_digests_name_the_field_that_differs(mongo_db: Any) -> None:
    from seedkit.stores.fingerprint import mongo_field_digests
    from seedkit.stores.mongo import connect

    other = connect(None, f"{mongo_db.name}_b")
    try:
        for db, token in ((mongo_db, "a1"), (other, "b2")):
            db["events"].insert_many([{"_id": 1, "kind": "x", "token": token}, {"_id": 2, "kind": "y"}])
        first, second = mongo_field_digests(mongo_db), mongo_field_digests(other)
        assert sorted(k for k in first if first[k] != second.get(k)) == ["events.token"]
    finally:
        other.client.drop_database(other.name)
