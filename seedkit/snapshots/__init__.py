"""Portable snapshots of both stores: one checksummed zip file, restorable on any PostgreSQL."""
