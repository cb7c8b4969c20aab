"""Sample suite: the first test commits a row and drops a table the truncate strategy resets,
so its reset fails; the next test must not start on that database."""

import pytest
import sqlalchemy as sa

pytestmark = pytest.mark.seedkit(strategy="truncate")


def test_drops_a_table_the_reset_empties(seedkit_session):
    seedkit_session.execute(
        sa.text(
            "INSERT INTO organizations (id, name, slug, created_at) "
            "VALUES (gen_random_uuid(), 'Extra', 'extra', now())"
        )
    )
    seedkit_session.execute(sa.text("DROP TABLE payments"))
    seedkit_session.commit()


def test_starts_from_the_seed(seedkit_session):
    extra = sa.text("SELECT count(*) FROM organizations WHERE slug = 'extra'")
    assert seedkit_session.execute(extra).scalar_one() == 0
