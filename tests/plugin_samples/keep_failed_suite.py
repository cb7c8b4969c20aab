"""Sample suite run with --seedkit-keep-failed: one failing test per strategy, each after writing
a committed row and a flushed one; then tests that must start from the seeded data again."""

import pytest
import sqlalchemy as sa
from seedkit_reference.model_factories import UserFactory

STRATEGIES = ["truncate", "rollback", "snapshot", "changed"]


def emails(session):
    rows = session.execute(sa.text("SELECT email FROM users WHERE email LIKE '%@kept.example'"))
    return set(rows.scalars())


@pytest.mark.parametrize(
    "strategy", [pytest.param(s, marks=pytest.mark.seedkit(strategy=s)) for s in STRATEGIES]
)
def test_fails_after_writing(strategy, seedkit_session):
    UserFactory(email=f"committed-{strategy}@kept.example")
    seedkit_session.commit()
    UserFactory(email=f"flushed-{strategy}@kept.example")
    seedkit_session.flush()
    assert emails(seedkit_session) == set(), "failing on purpose"


@pytest.mark.parametrize(
    "strategy", [pytest.param(s, marks=pytest.mark.seedkit(strategy=s)) for s in STRATEGIES]
)
def test_the_next_test_starts_from_the_seed(strategy, seedkit_session):
    assert emails(seedkit_session) == set()
    admin = sa.text("SELECT count(*) FROM users WHERE email = 'admin@acme.example'")
    assert seedkit_session.execute(admin).scalar_one() == 1
