"""Sample module without a marker: the ini file's profile, the profile's own strategy; bad markers."""

import pytest
import sqlalchemy as sa
from seedkit_reference.model_factories import UserFactory

from seedkit.core.clock import parse_instant
from seedkit.core.ids import IdGenerator


def test_the_ini_profile_with_its_own_strategy(seedkit_profile, seedkit_database, seedkit_session):
    assert seedkit_profile.name == "e2e" and seedkit_database.strategy_name == "truncate"
    admin = sa.text("SELECT count(*) FROM users WHERE email = 'admin@acme.example'")
    assert seedkit_session.execute(admin).scalar_one() == 1


@pytest.mark.parametrize("run", [1, 2])
def test_clock_and_ids_start_over_in_every_test(run, seedkit_deterministic, seedkit_clock, seedkit_session):
    assert seedkit_deterministic.seed == 42 and seedkit_deterministic.partition == 1
    assert seedkit_clock.now() == parse_instant("2025-01-01T00:00:00Z")
    user = UserFactory()  # partition 1: never collides with the seeded rows of partition 0
    seedkit_session.commit()
    assert user.id == IdGenerator(seed=42, partition=1).uuid("users")


@pytest.mark.seedkit(profile="nope")
def test_unknown_profile(seedkit_session):
    pass


@pytest.mark.seedkit(profil="e2e")
def test_misspelt_marker_argument(seedkit_session):
    pass


@pytest.mark.seedkit(strategy="nope")
def test_unknown_strategy(seedkit_session):
    pass
