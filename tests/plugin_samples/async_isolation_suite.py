"""Sample async suite (run in a subprocess by tests/test_async_isolation.py with --seedkit-strategy NAME).

Async test A writes through create_async, app code that commits on its own AsyncSession and the
async Mongo database; test B must not see any of it; 20 more tests write and change seeded rows;
the last test compares the stores' fingerprint with the one taken right after seeding.
"""

import os
from pathlib import Path

import pytest
import sqlalchemy as sa
from seedkit_reference.document_factories import AuditEventFactory
from seedkit_reference.model_factories import UserFactory
from seedkit_reference.models import Organization

import seedkit
from seedkit.core.ids import label_uuid
from seedkit.stores.fingerprint import fingerprint

pytestmark = pytest.mark.asyncio
OUT = Path(os.environ["SEEDKIT_SAMPLE_OUT"])
SEEDED_ADMIN = "admin@acme.example"


async def count(session, sql, **params):
    return (await session.execute(sa.text(sql), params)).scalar_one()


async def app_creates_shop(session_factory, slug, created_at):
    """Code under test: its own AsyncSession, and a commit."""
    async with session_factory() as session:
        session.add(Organization(id=label_uuid("sample", slug), name=slug, slug=slug, created_at=created_at))
        await session.commit()


async def test_a_writes(seedkit_async_session, seedkit_async_handle, seedkit_async_mongo, seedkit_clock):
    user = await UserFactory.create_async(email="written-by-a@test.example")
    event = await AuditEventFactory.create_async(actor=user)
    with pytest.raises(seedkit.SeedkitError, match="create_async"):
        UserFactory()  # the sync path refuses the bound AsyncSession
    await seedkit_async_session.commit()
    await app_creates_shop(seedkit_async_handle.session_factory, "shop-of-a", seedkit_clock.now())
    await seedkit_async_session.execute(
        sa.text("UPDATE users SET full_name = 'Changed' WHERE email = :e"), {"e": SEEDED_ADMIN}
    )
    await seedkit_async_session.commit()

    assert (
        await count(
            seedkit_async_session, "SELECT count(*) FROM users WHERE email = 'written-by-a@test.example'"
        )
        == 1
    )
    assert (
        await count(seedkit_async_session, "SELECT count(*) FROM organizations WHERE slug = 'shop-of-a'") == 1
    )
    assert await seedkit_async_mongo["audit_events"].count_documents({"_id": event["_id"]}) == 1
    engine = sa.create_engine(seedkit_async_handle.url)  # another connection
    with engine.connect() as conn:
        seen = conn.execute(
            sa.text("SELECT count(*) FROM organizations WHERE slug = 'shop-of-a'")
        ).scalar_one()
    engine.dispose()
    # truncate, snapshot, changed: real commits; rollback: all inside the async connection's transaction
    assert seen == (1 if seedkit_async_handle.visible_to_other_processes else 0)
    (OUT / "a.txt").write_text(f"{user.id} {user.created_at.isoformat()} {event['_id']}")


async def test_b_sees_only_the_seed(seedkit_async_session, seedkit_async_mongo, seedkit_database):
    assert (
        await count(
            seedkit_async_session, "SELECT count(*) FROM users WHERE email = 'written-by-a@test.example'"
        )
        == 0
    )
    assert (
        await count(seedkit_async_session, "SELECT count(*) FROM organizations WHERE slug = 'shop-of-a'") == 0
    )
    assert (
        await count(seedkit_async_session, "SELECT full_name FROM users WHERE email = :e", e=SEEDED_ADMIN)
        == "Ada Admin"
    )
    seeded_events = seedkit_database.fingerprint.parts["mongo:audit_events"].count
    assert seeded_events > 0
    assert await seedkit_async_mongo["audit_events"].count_documents({}) == seeded_events


@pytest.mark.parametrize("n", range(20))
async def test_write(n, seedkit_async_session, seedkit_async_mongo):
    assert await count(seedkit_async_session, "SELECT count(*) FROM users WHERE email LIKE 'writer-%'") == 0
    await UserFactory.create_async(email=f"writer-{n}@test.example")
    await seedkit_async_session.execute(sa.text("DELETE FROM payments"))
    await seedkit_async_session.execute(
        sa.text("UPDATE users SET full_name = :n WHERE email = :e"), {"n": f"Writer {n}", "e": SEEDED_ADMIN}
    )
    await seedkit_async_session.commit()
    await seedkit_async_mongo["notifications"].delete_many({})
    await seedkit_async_mongo["scratch"].insert_one({"n": n})
    assert await count(seedkit_async_session, "SELECT count(*) FROM users WHERE email LIKE 'writer-%'") == 1
    assert await count(seedkit_async_session, "SELECT count(*) FROM payments") == 0


def test_z_the_seed_is_intact(seedkit_database, seedkit_db_url, seedkit_mongo):
    """Runs last, as a sync test: the stores are exactly as seeded."""
    engine = sa.create_engine(seedkit_db_url)  # a connection of its own: sees only what is committed
    with engine.connect() as conn:
        now = fingerprint(conn, seedkit_mongo)
    engine.dispose()
    assert now.parts["pg:users"].count > 0 and now.parts["mongo:notifications"].count > 0
    assert now.digest == seedkit_database.fingerprint.digest
    (OUT / "fingerprint.txt").write_text(now.digest)
