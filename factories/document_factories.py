"""Factories of the reference domain's Mongo documents (see ``seedkit_reference.documents``).

Documents point at PostgreSQL rows by UUID string. Pass the rows they are about
(``AuditEventFactory(order=order)``, ``NotificationFactory(user=user)``); otherwise the
factory creates the Postgres row too (so ``create()`` then needs a bound SQLAlchemy session,
while ``build()`` only builds it).
"""

from __future__ import annotations

import factory
import factory.fuzzy

from seedkit.core.declarations import Now
from seedkit.factories.mongo import MongoFactory

from .documents import AUDIT_EVENTS, NOTIFICATIONS
from .model_factories import CustomerFactory, UserFactory

__all__ = ["AuditEventFactory", "NotificationFactory"]

USER_ACTIONS = ("user.login", "user.logout", "user.updated")


def _order_data(order: object) -> dict[str, object]:
    return {
        "status": order.status,  # type: ignore[attr-defined]
        "total": order.total,  # type: ignore[attr-defined]
        "currency": order.currency,  # type: ignore[attr-defined]
    }


class AuditEventFactory(MongoFactory):
    """Something a user did: about ``order`` when given (``order.<status>``), else about the user."""

    class Meta:
        collection = AUDIT_EVENTS

    class Params:
        order = None
        actor = factory.Maybe("order", factory.SelfAttribute("order.user"), factory.SubFactory(UserFactory))

    occurred_at = Now()
    actor_user_id = factory.LazyAttribute(lambda o: str(o.actor.id))
    action = factory.Maybe(
        "order",
        factory.LazyAttribute(lambda o: f"order.{o.order.status}"),
        factory.fuzzy.FuzzyChoice(USER_ACTIONS),
    )
    subject = factory.LazyAttribute(
        lambda o: (
            {"type": "order", "id": str(o.order.id)}
            if o.order is not None
            else {"type": "user", "id": o.actor_user_id}
        )
    )
    data = factory.LazyAttribute(lambda o: _order_data(o.order) if o.order is not None else {})


class NotificationFactory(MongoFactory):
    """A message to a customer, about ``order`` when given."""

    class Meta:
        collection = NOTIFICATIONS

    class Params:
        order = None
        user = factory.Maybe(
            "order", factory.SelfAttribute("order.user"), factory.SubFactory(CustomerFactory)
        )

    user_id = factory.LazyAttribute(lambda o: str(o.user.id))
    order_id = factory.LazyAttribute(lambda o: str(o.order.id) if o.order is not None else None)
    channel = factory.fuzzy.FuzzyChoice(("email", "sms", "push"))
    message = factory.Maybe(
        "order",
        factory.LazyAttribute(
            lambda o: (
                f"Your order {str(o.order.id)[:8]} of {o.order.total} {o.order.currency} is {o.order.status}."
            )
        ),
        factory.Faker("sentence"),
    )
    amount = factory.LazyAttribute(lambda o: o.order.total if o.order is not None else None)
    sent_at = Now()
    read = False
