"""The reference domain's MongoDB documents (plain dicts written with pymongo, no ODM).

Documents reference PostgreSQL rows by their UUIDs as strings (``actor_user_id``,
``order_id``...). Money is ``Decimal128``, times are UTC ``datetime``s.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, TypedDict

from bson import Decimal128, ObjectId
from pymongo import ASCENDING, DESCENDING, IndexModel
from pymongo.database import Database

AUDIT_EVENTS = "audit_events"
NOTIFICATIONS = "notifications"


class AuditEvent(TypedDict):
    """Something a user did to an entity, e.g. ``order.paid``."""

    _id: ObjectId
    occurred_at: datetime
    actor_user_id: str
    action: str
    subject: dict[str, str]  # {"type": "order", "id": "<uuid>"}
    data: dict[str, Any]


class Notification(TypedDict):
    """A message sent to a user about an order."""

    _id: ObjectId
    user_id: str
    order_id: str | None
    channel: str
    message: str
    amount: Decimal128 | None
    sent_at: datetime
    read: bool


INDEXES: dict[str, list[IndexModel]] = {
    AUDIT_EVENTS: [
        IndexModel([("actor_user_id", ASCENDING), ("occurred_at", DESCENDING)], name="actor_time"),
        IndexModel([("subject.type", ASCENDING), ("subject.id", ASCENDING)], name="subject"),
    ],
    NOTIFICATIONS: [IndexModel([("user_id", ASCENDING), ("sent_at", DESCENDING)], name="user_time")],
}


def ensure_indexes(db: Database[Any]) -> None:
    """Create the collections' missing indexes (idempotent): the Mongo side of migrations.

    Existing indexes are matched by name and left alone (mongomock, unlike a server, refuses
    to re-declare an index whose key it stored in another form).
    """
    for collection, indexes in INDEXES.items():
        existing = db[collection].index_information()
        missing = [index for index in indexes if index.document["name"] not in existing]
        if missing:
            db[collection].create_indexes(missing)
