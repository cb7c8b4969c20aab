"""Injected ID generators: UUIDs, Mongo ObjectIds and integer keys without the OS's randomness.

Every ID is derived from ``(seed, partition, entity, counter)``. Partitions are how parallel
seeders stay unique without a shared counter: integer keys of partition ``p`` live in
``[p * stride + 1, (p + 1) * stride]`` and hashed IDs include ``p`` in their input.

Labelled records of fixture packs get IDs from :func:`label_uuid`, :func:`label_int` and
:func:`label_object_id`: a hash of the label alone, so the same pack gives the same IDs on
every machine, whatever the seed.
"""

from __future__ import annotations

import hashlib
import uuid
from collections import defaultdict
from typing import Any

from bson import ObjectId

DEFAULT_INT_STRIDE = 1_000_000_000


_CLEAR_VERSION_AND_VARIANT = ~((0xC000 << 48) | (0xF000 << 64))
_VERSION_4 = (0x8000 << 48) | (4 << 76)  # RFC 4122 variant, version 4 (RFC 9562 section 5.4)
_new_object = object.__new__
_set_slot = object.__setattr__
_UUID = uuid.UUID
_UNKNOWN = uuid.SafeUUID.unknown  # read once: an enum member through its module costs ~140 ns a read


def uuid4_from_int(value: int) -> uuid.UUID:
    """The version-4 UUID made of the 128-bit integer ``value``: ``uuid.UUID(int=value, version=4)``.

    Equal to it in every respect (value, ``is_safe``, hash, pickling), at about a third of its
    cost: the standard constructor checks its arguments in Python on every call, which made up a
    fifth of the row path's value generation (issue #11). It sets the two slots of CPython's
    ``uuid.UUID`` directly, as the constructor does (checked in tests/test_internals.py).
    ``value`` must be in ``[0, 2**128)``: it is not checked.
    """
    made = _new_object(_UUID)
    _set_slot(made, "int", (value & _CLEAR_VERSION_AND_VARIANT) | _VERSION_4)
    _set_slot(made, "is_safe", _UNKNOWN)
    return made


def _digest(text: str, size: int) -> bytes:
    return hashlib.blake2b(text.encode(), digest_size=size).digest()


class IdGenerator:
    """Deterministic IDs per entity name (``"users"``, ``"audit_events"``...).

    The ``n``-th UUID of ``entity`` (``n`` from 1) is the version-4 layout of the BLAKE2b-128
    digest of ``f"uuid:{seed}:{partition}:{entity}:{n}"`` (UTF-8); the ``n``-th ObjectId is the
    BLAKE2b-96 digest of ``f"oid:{seed}:{partition}:{entity}:{n}"``. UUIDs and ObjectIds of one
    entity share its counter.
    """

    def __init__(self, seed: int = 0, partition: int = 0, int_stride: int = DEFAULT_INT_STRIDE) -> None:
        if partition < 0:
            raise ValueError("partition must be >= 0")
        self._seed = seed
        self._partition = partition
        self.int_stride = int_stride
        self._counters: defaultdict[str, int] = defaultdict(int)
        self._hashers: dict[str, dict[str, Any]] = {"uuid": {}, "oid": {}}
        """Per kind, entity -> a BLAKE2b state that has read the entity's key up to its counter:
        copying it and feeding the counter costs half of hashing the whole key (issue #11).
        Emptied when ``seed`` or ``partition`` changes."""

    @property
    def seed(self) -> int:
        """The seed every ID is derived from."""
        return self._seed

    @seed.setter
    def seed(self, value: int) -> None:
        self._seed = value
        self._forget_keys()

    @property
    def partition(self) -> int:
        """The partition (0-based) whose IDs this generator makes."""
        return self._partition

    @partition.setter
    def partition(self, value: int) -> None:
        self._partition = value
        self._forget_keys()

    def _forget_keys(self) -> None:
        for hashers in self._hashers.values():
            hashers.clear()

    def _next(self, entity: str) -> int:
        self._counters[entity] += 1
        return self._counters[entity]

    def _hasher(self, kind: str, entity: str, size: int) -> Any:
        """The BLAKE2b state (``size`` bytes) that has read ``f"{kind}:{seed}:{partition}:{entity}:"``."""
        hasher = self._hashers[kind][entity] = hashlib.blake2b(
            f"{kind}:{self._seed}:{self._partition}:{entity}:".encode(), digest_size=size
        )
        return hasher

    def uuid(self, entity: str) -> uuid.UUID:
        """The next UUID for ``entity`` (version-4 layout, deterministic content)."""
        # The reference factories draw one per row: the steps of _next, _hasher and uuid4_from_int inline.
        counters = self._counters
        n = counters[entity] + 1
        counters[entity] = n
        hasher = self._hashers["uuid"].get(entity) or self._hasher("uuid", entity, 16)
        hasher = hasher.copy()
        hasher.update(b"%d" % n)  # the same bytes as str(n).encode()
        made = _new_object(_UUID)
        digest = int.from_bytes(hasher.digest(), "big")
        _set_slot(made, "int", (digest & _CLEAR_VERSION_AND_VARIANT) | _VERSION_4)
        _set_slot(made, "is_safe", _UNKNOWN)
        return made

    def object_id(self, entity: str) -> ObjectId:
        """The next BSON ObjectId for ``entity``."""
        n = self._next(entity)
        hasher = self._hashers["oid"].get(entity) or self._hasher("oid", entity, 12)
        hasher = hasher.copy()
        hasher.update(b"%d" % n)
        return ObjectId(hasher.digest())

    def integer(self, entity: str) -> int:
        """The next integer key for ``entity``, unique across partitions."""
        counter = self._next(f"int:{entity}")
        if counter > self.int_stride:
            raise OverflowError(f"more than {self.int_stride} integer ids for {entity!r} in one partition")
        return self.partition * self.int_stride + counter

    def reset(self) -> None:
        """Start every entity's counter again."""
        self._counters.clear()

    def counters(self) -> dict[str, int]:
        """How many IDs each entity has drawn so far (a copy, for :meth:`restore`)."""
        return dict(self._counters)

    def restore(self, counters: dict[str, int]) -> None:
        """Set every entity's counter back to ``counters`` (from :meth:`counters`)."""
        self._counters.clear()
        self._counters.update(counters)


def label_uuid(namespace: str, label: str) -> uuid.UUID:
    """The UUID a fixture-pack label stands for (same label, same UUID, everywhere)."""
    return uuid4_from_int(int.from_bytes(_digest(f"label:{namespace}:{label}", 16), "big"))


def label_int(namespace: str, label: str) -> int:
    """The integer key a label stands for: a positive 31-bit hash, like Rails fixtures."""
    return int.from_bytes(_digest(f"label:{namespace}:{label}", 8), "big") % (2**31 - 1) + 1


def label_object_id(namespace: str, label: str) -> ObjectId:
    """The ObjectId a label stands for."""
    return ObjectId(_digest(f"label:{namespace}:{label}", 12))
