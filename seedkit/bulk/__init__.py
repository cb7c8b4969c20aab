"""Bulk seeding: factory volumes written with COPY (PostgreSQL) and unordered insert_many (Mongo).

:func:`bulk_create` and :class:`BulkSeeder` produce exactly the rows of the per-object path
(``create_batch`` through a session), chunk by chunk with flat memory. See docs/performance.md.
"""

from __future__ import annotations

from seedkit.bulk.seeder import DEFAULT_CHUNK_SIZE, BulkSeeder, bulk_create

__all__ = ["DEFAULT_CHUNK_SIZE", "BulkSeeder", "bulk_create"]
