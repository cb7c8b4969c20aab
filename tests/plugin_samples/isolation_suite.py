"""Sample suite (run in a subprocess by tests/test_plugin.py with --seedkit-strategy NAME).

Test A writes through factories, app code that commits and Mongo; test B must not see any of
it, only the seeded data; 50 more tests write and change seeded rows; the last test compares
the stores' fingerprint with the one taken right after seeding, and records it for the outer test.
"""

import os
from pathlib import Path

import pytest
import sqlalchemy as sa
from seedkit_reference.document_factories import AuditEventFactory
from seedkit_reference.model_factories import UserFactory
from seedkit_reference.models import Organization

from seedkit.core.ids import label_uuid
from seedkit.stores.fingerprint import fingerprint

OUT = Path(os.environ["SEEDKIT_SAMPLE_OUT"])
SEEDED_ADMIN = "admin@acme.example"


def count(session, sql, **params):
    return session.execute(sa.text(sql), params).scalar_one()


def app_creates_shop(session_factory, slug, created_at):
    """Code under test: its own session, and a commit."""
    with session_factory() as session:
        session.add(Organization(id=label_uuid("sample", slug), name=slug, slug=slug, created_at=created_at))
        session.commit()


def test_a_writes(seedkit_session, seedkit_handle, seedkit_mongo, seedkit_db_url, seedkit_clock):
    user = UserFactory(email="written-by-a@test.example")  # bound to seedkit_session automatically
    event = AuditEventFactory(actor=user)  # Mongo, bound to seedkit_mongo
    seedkit_session.commit()
    app_creates_shop(seedkit_handle.session_factory, "shop-of-a", seedkit_clock.now())
    seedkit_session.execute(
        sa.text("UPDATE users SET full_name = 'Changed' WHERE email = :e"), {"e": SEEDED_ADMIN}
    )
    seedkit_session.commit()

    assert count(seedkit_session, "SELECT count(*) FROM users WHERE email = 'written-by-a@test.example'") == 1
    assert count(seedkit_session, "SELECT count(*) FROM organizations WHERE slug = 'shop-of-a'") == 1
    assert seedkit_mongo["audit_events"].count_documents({"_id": event["_id"]}) == 1
    if seedkit_handle.visible_to_other_processes:  # truncate, snapshot, changed: real commits
        engine = sa.create_engine(seedkit_db_url)
        with engine.connect() as conn:
            assert count(conn, "SELECT count(*) FROM organizations WHERE slug = 'shop-of-a'") == 1
        engine.dispose()


def test_b_sees_only_the_seed(seedkit_session, seedkit_mongo, seedkit_database):
    assert count(seedkit_session, "SELECT count(*) FROM users WHERE email = 'written-by-a@test.example'") == 0
    assert count(seedkit_session, "SELECT count(*) FROM organizations WHERE slug = 'shop-of-a'") == 0
    assert (
        count(seedkit_session, "SELECT full_name FROM users WHERE email = :e", e=SEEDED_ADMIN) == "Ada Admin"
    )
    seeded_events = seedkit_database.fingerprint.parts["mongo:audit_events"].count
    assert seeded_events > 0
    assert seedkit_mongo["audit_events"].count_documents({}) == seeded_events


@pytest.mark.parametrize("n", range(50))
def test_write(n, seedkit_session, seedkit_mongo):
    assert count(seedkit_session, "SELECT count(*) FROM users WHERE email LIKE 'writer-%'") == 0
    UserFactory(email=f"writer-{n}@test.example")
    seedkit_session.execute(sa.text("DELETE FROM payments"))
    seedkit_session.execute(
        sa.text("UPDATE users SET full_name = :n WHERE email = :e"), {"n": f"Writer {n}", "e": SEEDED_ADMIN}
    )
    seedkit_session.commit()
    seedkit_mongo["notifications"].delete_many({})
    seedkit_mongo["scratch"].insert_one({"n": n})
    assert count(seedkit_session, "SELECT count(*) FROM users WHERE email LIKE 'writer-%'") == 1
    assert count(seedkit_session, "SELECT count(*) FROM payments") == 0


def test_z_the_seed_is_intact(seedkit_database, seedkit_db_url, seedkit_mongo):
    engine = sa.create_engine(seedkit_db_url)  # a connection of its own: sees only what is committed
    with engine.connect() as conn:
        now = fingerprint(conn, seedkit_mongo)
    engine.dispose()
    assert now.parts["pg:users"].count > 0 and now.parts["mongo:notifications"].count > 0
    assert now.digest == seedkit_database.fingerprint.digest
    (OUT / "fingerprint.txt").write_text(now.digest)
