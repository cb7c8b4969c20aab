"""Injected IDs: each is the documented hash of (kind, seed, partition, entity, counter), however it is computed."""

from __future__ import annotations

import hashlib
import uuid

from bson import ObjectId

from seedkit.core.ids import IdGenerator


def _documented_uuid(seed: int, partition: int, entity: str, n: int) -> uuid.UUID:
    digest = hashlib.blake2b(f"uuid:{seed}:{partition}:{entity}:{n}".encode(), digest_size=16).digest()
    return uuid.UUID(int=int.from_bytes(digest, "big"), version=4)


def _documented_object_id(seed: int, partition: int, entity: str, n: int) -> ObjectId:
    return ObjectId(hashlib.blake2b(f"oid:{seed}:{partition}:{entity}:{n}".encode(), digest_size=12).digest())


def test_uuids_and_object_ids_are_the_documented_digests_and_share_the_entitys_counter() -> None:
    ids = IdGenerator(seed=7, partition=2)
    drawn = [(ids.uuid("users"), ids.object_id("users"), ids.uuid("é-entité")) for _ in range(1_200)]
    assert drawn == [
        (
            _documented_uuid(7, 2, "users", 2 * k + 1),
            _documented_object_id(7, 2, "users", 2 * k + 2),
            _documented_uuid(7, 2, "é-entité", k + 1),
        )
        for k in range(1_200)
    ]
    assert all(type(value) is uuid.UUID and value.is_safe is uuid.SafeUUID.unknown for value, _, _ in drawn)


def test_a_changed_seed_or_partition_gives_its_own_ids_from_the_next_one() -> None:
    ids = IdGenerator(seed=1)
    assert ids.uuid("orders") == _documented_uuid(1, 0, "orders", 1)
    ids.seed = 5
    assert ids.uuid("orders") == _documented_uuid(5, 0, "orders", 2)
    assert ids.object_id("orders") == _documented_object_id(5, 0, "orders", 3)
    ids.partition = 3
    assert (ids.uuid("orders"), ids.object_id("orders")) == (
        _documented_uuid(5, 3, "orders", 4),
        _documented_object_id(5, 3, "orders", 5),
    )


def test_restored_counters_give_the_same_ids_again() -> None:
    ids = IdGenerator(seed=3)
    ids.uuid("items")
    saved = ids.counters()
    first = [ids.uuid("items") for _ in range(3)]
    ids.restore(saved)
    assert (
        [ids.uuid("items") for _ in range(3)]
        == first
        == [_documented_uuid(3, 0, "items", n) for n in (2, 3, 4)]
    )
    ids.reset()
    assert ids.uuid("items") == _documented_uuid(3, 0, "items", 1)
