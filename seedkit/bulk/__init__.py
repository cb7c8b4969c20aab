"""Bulk seeding: factory volumes written with COPY (PostgreSQL) and unordered insert_many (Mongo).

:func:`bulk_create` and :class:`BulkSeeder` produce exactly the rows of the per-object path
(``create_batch`` through a session), chunk by chunk with flat memory; :func:`seed_partitioned`
cuts large volumes into fixed partitions and runs them on worker processes with the same
result for any number of workers. Factories that need no ORM object take the row path
(:mod:`seedkit.bulk.row_builder`; which path and why: :func:`decide`). See docs/performance.md.
"""

from __future__ import annotations

from seedkit.bulk.partitions import DEFAULT_PARTITION_SIZE, PartitionedResult, VolumeSpec, seed_partitioned
from seedkit.bulk.paths import PathDecision, decide, decide_call
from seedkit.bulk.row_builder import RowPathUnsupported
from seedkit.bulk.seeder import DEFAULT_CHUNK_SIZE, ORM_CHUNK_SIZE, BulkSeeder, bulk_create

__all__ = [
    "DEFAULT_CHUNK_SIZE",
    "DEFAULT_PARTITION_SIZE",
    "ORM_CHUNK_SIZE",
    "BulkSeeder",
    "PartitionedResult",
    "PathDecision",
    "RowPathUnsupported",
    "VolumeSpec",
    "bulk_create",
    "decide",
    "decide_call",
    "seed_partitioned",
]
