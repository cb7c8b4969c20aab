"""The snapshot file: a zip whose manifest lists every member's sha256 and size.

``<name>.seedkit.zip`` holds data members (written by :mod:`.postgres` and :mod:`.mongo`) and
``manifest.json``: format version, schema revision, the seedkit fingerprint, table columns,
counts, and the sha256 and size of every member; the zip comment holds the manifest's own
sha256. Members carry a fixed time, so the same data gives the same bytes. Opening a snapshot
(:func:`open_snapshot`) verifies all of it before anything reads the data.
"""

from __future__ import annotations

import hashlib
import io
import json
import re
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

from bson import json_util

from seedkit.errors import SnapshotError

FORMAT = "seedkit-snapshot"
FORMAT_VERSION = 1
SUFFIX = ".seedkit.zip"
MANIFEST = "manifest.json"
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
_SAFE_MEMBER = re.compile(r"^[A-Za-z0-9_.-]+$")
_FIXED_TIME = (1980, 1, 1, 0, 0, 0)  # members carry no clock time: same data, same bytes
COMPRESS_LEVEL = 1
"""zlib level of the members: level 1 compresses CSV about 3x faster than the default 6 for a
file about a third larger (measured: docs/benchmarks.md)."""
CHUNK = 1 << 16
"""Bytes read or written at a time when streaming a member."""
KEEP_VERIFIED = 64 << 20
"""Bytes of verified members :func:`open_snapshot` keeps in memory, so that a restore reads each
of them from the file once (checksum, then load); members beyond it are read again."""
JSON_IN = json_util.JSONOptions(json_mode=json_util.JSONMode.CANONICAL, tz_aware=True, tzinfo=UTC)
"""How members in canonical Extended JSON are read back: exact BSON types, aware UTC datetimes."""


@dataclass(frozen=True)
class SnapshotInfo:
    """What :func:`list_snapshots` shows about one snapshot file."""

    name: str
    path: Path
    size: int
    created: datetime | None = None  # the file's modification time
    revision: tuple[str, ...] | None = None
    tables: int = 0
    rows: int = 0
    collections: int = 0
    documents: int = 0
    fingerprint: str = ""
    error: str | None = None


def snapshot_path(directory: Path, name: str) -> Path:
    """The file of snapshot ``name`` in ``directory``; ``name`` may also be a path to a snapshot file."""
    if name.endswith(SUFFIX) and ("/" in name or Path(name).exists()):
        return Path(name)
    if not _NAME.match(name):
        raise SnapshotError(
            f"invalid snapshot name {name!r}: "
            "use letters, digits, '_', '.', '-' (starting with a letter or digit)"
        )
    return Path(directory) / f"{name}{SUFFIX}"


def name_of(path: Path) -> str:
    """The snapshot name of a snapshot file (its file name without the suffix)."""
    return path.name[: -len(SUFFIX)] if path.name.endswith(SUFFIX) else path.name


_LEVEL_ATTRIBUTE = "compress_level" if hasattr(zipfile.ZipInfo, "compress_level") else "_compresslevel"


class Writer:
    """Adds members to a zip with fixed metadata and records their sha256 and size."""

    def __init__(self, archive: zipfile.ZipFile) -> None:
        self.archive = archive
        self.members: dict[str, dict[str, Any]] = {}

    @contextmanager
    def member(self, name: str) -> Iterator[_HashingStream]:
        info = zipfile.ZipInfo(name, date_time=_FIXED_TIME)
        info.compress_type = zipfile.ZIP_DEFLATED
        # the level of ZipFile(compresslevel=) is only applied to members added by name: pass it
        # (``compress_level`` since Python 3.13, ``_compresslevel`` before)
        setattr(info, _LEVEL_ATTRIBUTE, self.archive.compresslevel)
        info.external_attr = 0o644 << 16
        with self.archive.open(info, "w", force_zip64=True) as raw:
            stream = _HashingStream(raw)
            yield stream
        self.members[name] = {"sha256": stream.hasher.hexdigest(), "size": stream.size}

    def write(self, name: str, data: bytes) -> None:
        with self.member(name) as stream:
            stream.write(data)


class _HashingStream:
    def __init__(self, raw: IO[bytes]) -> None:
        self.raw = raw
        self.hasher = hashlib.sha256()
        self.size = 0

    def write(self, data: bytes | memoryview) -> None:
        self.raw.write(data)
        self.hasher.update(data)
        self.size += len(data)


def member_for(prefix: str, name: str, suffix: str, index: int) -> str:
    """``prefix/name+suffix``, or ``prefix/<index>+suffix`` when ``name`` is not a safe file name."""
    return f"{prefix}/{name}{suffix}" if _SAFE_MEMBER.match(name) else f"{prefix}/{index:04d}{suffix}"


class Snapshot:
    """An opened, verified snapshot file (use :func:`open_snapshot`)."""

    def __init__(self, path: Path, archive: zipfile.ZipFile, manifest: dict[str, Any]) -> None:
        self.path = path
        self.archive = archive
        self.manifest = manifest
        self.verified: dict[str, bytes] = {}
        """Members kept from verification (up to :data:`KEEP_VERIFIED` bytes in all)."""

    def fail(self, reason: str, member: str | None = None) -> SnapshotError:
        where = f"{self.path}, member {member!r}" if member else str(self.path)
        return SnapshotError(f"snapshot {where}: {reason}")

    def open(self, member: str) -> IO[bytes]:
        """A member's contents as a binary stream (from memory when verification kept it)."""
        kept = self.verified.get(member)
        return io.BytesIO(kept) if kept is not None else self.archive.open(member)

    def read(self, member: str) -> bytes:
        """A member's contents (from memory when verification kept it)."""
        kept = self.verified.get(member)
        return kept if kept is not None else self.archive.read(member)

    def verify_members(self) -> None:
        """Check every member's sha256 and size against the manifest, keeping up to
        :data:`KEEP_VERIFIED` bytes of them in memory; raises SnapshotError naming the member."""
        members = self.manifest.get("members", {})
        extra = sorted(set(self.archive.namelist()) - set(members) - {MANIFEST})
        if extra:
            raise self.fail("not listed in the manifest (the file was modified)", extra[0])
        room = KEEP_VERIFIED
        for member, expected in sorted(members.items()):
            size = expected.get("size")
            keep = isinstance(size, int) and 0 <= size <= room
            kept = _verify_member(self, member, expected, keep)
            if kept is not None:
                self.verified[member] = kept
                room -= len(kept)

    def read_json(self, member: str, *, bson_types: bool = False) -> Any:
        try:
            text = self.read(member).decode()
            return json_util.loads(text, json_options=JSON_IN) if bson_types else json.loads(text)
        except Exception as exc:
            raise self.fail(f"unreadable ({exc})", member) from None

    @property
    def revision(self) -> tuple[str, ...] | None:
        revision = self.manifest.get("revision")
        return None if revision is None else tuple(revision)


def _unreadable(path: Path, exc: BaseException) -> SnapshotError:
    return SnapshotError(
        f"snapshot {path}: not a readable seedkit snapshot, the file is truncated or corrupt ({exc})"
    )


def _verify_member(snapshot: Snapshot, member: str, expected: dict[str, Any], keep: bool) -> bytes | None:
    """Check ``member``'s size and sha256 against the manifest; its contents when ``keep``."""
    hasher = hashlib.sha256()
    size = 0
    chunks: list[bytes] = []
    try:
        with snapshot.archive.open(member) as stream:
            while chunk := stream.read(CHUNK):
                hasher.update(chunk)
                size += len(chunk)
                if keep:
                    chunks.append(chunk)
    except KeyError:
        raise snapshot.fail("missing from the file", member) from None
    except Exception as exc:  # zlib/CRC/struct errors of a damaged file
        raise snapshot.fail(f"corrupt ({exc})", member) from None
    if size != expected.get("size") or hasher.hexdigest() != expected.get("sha256"):
        raise snapshot.fail("checksum mismatch: the file is corrupt or was modified", member)
    return b"".join(chunks) if keep else None


@contextmanager
def open_snapshot(path: Path, *, members: bool = True) -> Iterator[Snapshot]:
    """Open ``path`` and verify the manifest and every member's sha256 and size, or raise SnapshotError.

    With ``members=False`` only the manifest is verified here; the caller must call
    :meth:`Snapshot.verify_members` before it reads a member (so that other checks can run
    meanwhile).
    """
    if not path.is_file():
        raise SnapshotError(f"snapshot {path} does not exist")
    try:
        archive = zipfile.ZipFile(path)
    except Exception as exc:
        raise _unreadable(path, exc) from None
    with archive:
        snapshot = Snapshot(path, archive, {})
        try:
            body = archive.read(MANIFEST)
        except KeyError:
            raise snapshot.fail("missing from the file", MANIFEST) from None
        except Exception as exc:
            raise snapshot.fail(f"corrupt ({exc})", MANIFEST) from None
        if archive.comment != f"sha256={hashlib.sha256(body).hexdigest()}".encode():
            raise snapshot.fail("checksum mismatch: the file is corrupt or was modified", MANIFEST)
        try:
            manifest = json.loads(body)
        except ValueError as exc:
            raise snapshot.fail(f"not valid JSON ({exc})", MANIFEST) from None
        if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
            raise snapshot.fail("not a seedkit snapshot manifest", MANIFEST)
        if manifest.get("version") != FORMAT_VERSION:
            raise snapshot.fail(
                f"format version {manifest.get('version')!r} is not supported "
                f"(this seedkit reads {FORMAT_VERSION})",
                MANIFEST,
            )
        snapshot.manifest = manifest
        if members:
            snapshot.verify_members()
        yield snapshot


def read_info(path: Path) -> SnapshotInfo:
    """Read (without full verification) what a snapshot file holds."""
    stat = path.stat()
    base = SnapshotInfo(
        name=name_of(path), path=path, size=stat.st_size, created=datetime.fromtimestamp(stat.st_mtime, UTC)
    )
    try:
        with zipfile.ZipFile(path) as archive:
            manifest = json.loads(archive.read(MANIFEST))
    except Exception as exc:
        return replace(base, error=f"unreadable: {exc}")
    pg = manifest.get("postgres") or {}
    mongo = manifest.get("mongo") or {}
    revision = manifest.get("revision")
    return replace(
        base,
        revision=None if revision is None else tuple(revision),
        tables=len(pg.get("tables", [])),
        rows=sum(t.get("rows", 0) for t in pg.get("tables", [])),
        collections=len(mongo.get("collections", [])),
        documents=sum(c.get("documents", 0) for c in mongo.get("collections", [])),
        fingerprint=manifest.get("fingerprint", {}).get("digest", ""),
    )


def list_snapshots(directory: Path) -> list[SnapshotInfo]:
    """Every snapshot file in ``directory`` by name (unreadable ones carry ``error``)."""
    directory = Path(directory)
    if not directory.is_dir():
        return []
    return [read_info(path) for path in sorted(directory.glob(f"*{SUFFIX}"))]


def delete(name: str, *, directory: Path) -> Path:
    """Delete snapshot ``name``; returns the removed file."""
    path = snapshot_path(directory, name)
    if not path.is_file():
        known = ", ".join(s.name for s in list_snapshots(directory)) or "none"
        raise SnapshotError(f"snapshot {name!r} not found in {directory} (snapshots there: {known})")
    path.unlink()
    return path
