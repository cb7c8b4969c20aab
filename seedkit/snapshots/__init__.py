"""Portable snapshots of both stores: one checksummed zip file, restorable on any PostgreSQL.

:mod:`.archive` is the file format (members, manifest, checksums); :mod:`.postgres` and
:mod:`.mongo` write and read each store's part (:mod:`.copy_out` reads PostgreSQL's COPY
stream in blocks); :mod:`.api` saves and restores (``save``, ``restore``, ``list_snapshots``,
``delete``), as ``seedkit snapshot`` does.
"""
