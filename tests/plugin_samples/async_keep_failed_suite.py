"""Sample async suite run with --seedkit-keep-failed: one failing async test per strategy, each after
committing a row and flushing another through its AsyncSession; then tests that must start from the
seeded data again."""

import pytest
import sqlalchemy as sa
from seedkit_reference.model_factories import UserFactory

STRATEGIES = ["truncate", "rollback", "snapshot", "changed"]
KEPT = sa.text("SELECT email FROM users WHERE email LIKE '%@kept.example'")


@pytest.mark.asyncio
@pytest.mark.parametrize(
    "strategy", [pytest.param(s, marks=pytest.mark.seedkit(strategy=s)) for s in STRATEGIES]
)
async def test_fails_after_writing(strategy, seedkit_async_session):
    await UserFactory.create_async(email=f"committed-{strategy}@kept.example")
    await seedkit_async_session.commit()
    await UserFactory.create_async(email=f"flushed-{strategy}@kept.example")
    await seedkit_async_session.flush()
    assert (await seedkit_async_session.execute(KEPT)).all() == [], "failing on purpose"


@pytest.mark.asyncio
@pytest.mark.parametrize(
    "strategy", [pytest.param(s, marks=pytest.mark.seedkit(strategy=s)) for s in STRATEGIES]
)
async def test_the_next_test_starts_from_the_seed(strategy, seedkit_async_session):
    assert (await seedkit_async_session.execute(KEPT)).all() == []
