"""Sample suite (run with --seedkit-strategy truncate or changed, and a short --seedkit-lock-timeout):
each writing test commits a row, then leaves a connection idle in transaction holding a lock on it,
so the reset waits for that lock and fails; seedkit ends that session and retries, and the next
test starts from the seeded data. Once sync, once async."""

import pytest
import sqlalchemy as sa

LEAKED = []
EXTRA = "SELECT count(*) FROM organizations WHERE slug = 'extra'"
INSERT = (
    "INSERT INTO organizations (id, name, slug, created_at) "
    "VALUES (gen_random_uuid(), 'Extra', 'extra', now())"
)


def leak_a_lock(url):
    """Code under test that forgets a connection in an open transaction, holding a row lock."""
    connection = sa.create_engine(url).connect()
    connection.execute(sa.text("SELECT id FROM organizations WHERE slug = 'extra' FOR UPDATE"))
    LEAKED.append(connection)


def test_a_leaves_a_transaction_open(seedkit_session, seedkit_db_url):
    seedkit_session.execute(sa.text(INSERT))
    seedkit_session.commit()
    leak_a_lock(seedkit_db_url)


def test_b_starts_from_the_seed(seedkit_session):
    assert seedkit_session.execute(sa.text(EXTRA)).scalar_one() == 0


@pytest.mark.asyncio
async def test_c_async_leaves_a_transaction_open(seedkit_async_session, seedkit_async_handle):
    await seedkit_async_session.execute(sa.text(INSERT))
    await seedkit_async_session.commit()
    leak_a_lock(seedkit_async_handle.url)


@pytest.mark.asyncio
async def test_d_async_starts_from_the_seed(seedkit_async_session):
    assert (await seedkit_async_session.execute(sa.text(EXTRA))).scalar_one() == 0
