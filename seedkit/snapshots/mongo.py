"""MongoDB's part of a snapshot: documents as canonical Extended JSON lines, and indexes.

``mongo/<collection>.jsonl`` holds documents in ``_id`` order in canonical Extended JSON (exact
BSON types); ``mongo/indexes.json`` each collection's index definitions.
"""

from __future__ import annotations

from typing import Any

from bson import json_util
from pymongo.database import Database

from seedkit.snapshots.archive import JSON_IN, Snapshot, Writer, member_for
from seedkit.stores.mongo import index_specs, user_collections

MONGO_INDEXES = "mongo/indexes.json"
_JSON = json_util.CANONICAL_JSON_OPTIONS


def save_mongo(db: Database[Any], writer: Writer) -> dict[str, Any]:
    """Write every user collection's documents and indexes into ``writer``; returns the manifest's part."""
    collections = []
    indexes = {}
    for index, name in enumerate(user_collections(db)):
        member = member_for("mongo", name, ".jsonl", index)
        count = 0
        with writer.member(member) as stream:
            for document in db[name].find({}, sort=[("_id", 1)]):
                stream.write(json_util.dumps(document, json_options=_JSON).encode() + b"\n")
                count += 1
        indexes[name] = index_specs(db, name)
        collections.append({"name": name, "member": member, "documents": count})
    writer.write(
        MONGO_INDEXES, json_util.dumps(indexes, json_options=_JSON, indent=1, sort_keys=True).encode()
    )
    return {"database": db.name, "collections": collections, "indexes_member": MONGO_INDEXES}


def read_mongo(snapshot: Snapshot) -> dict[str, tuple[list[Any], dict[str, dict[str, Any]]]]:
    """Parse every Mongo member before anything is written (a bad line fails here)."""
    mongo = snapshot.manifest["mongo"]
    indexes = snapshot.read_json(mongo["indexes_member"], bson_types=True)
    contents: dict[str, tuple[list[Any], dict[str, dict[str, Any]]]] = {}
    for collection in mongo["collections"]:
        member = collection["member"]
        documents = []
        with snapshot.open(member) as stream:
            for number, line in enumerate(stream, start=1):
                try:
                    documents.append(json_util.loads(line, json_options=JSON_IN))
                except Exception as exc:
                    raise snapshot.fail(
                        f"line {number}: not canonical Extended JSON ({exc})", member
                    ) from None
        specs = {
            name: {**spec, "key": [tuple(part) for part in spec["key"]]}
            for name, spec in indexes.get(collection["name"], {}).items()
        }
        contents[collection["name"]] = (documents, specs)
    return contents
