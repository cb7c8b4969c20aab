"""Sample module: a module-level marker picks the profile and strategy; a function marker overrides one."""

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import make_url

pytestmark = pytest.mark.seedkit(profile="catalog", strategy="rollback")


def count(session, table):
    return session.execute(sa.text(f"SELECT count(*) FROM {table}")).scalar_one()


def test_the_module_marker_chooses_profile_and_strategy(
    seedkit_profile, seedkit_database, seedkit_handle, seedkit_session
):
    assert seedkit_profile.name == "catalog" and seedkit_database.strategy_name == "rollback"
    assert seedkit_handle.visible_to_other_processes is False
    assert count(seedkit_session, "users") == 0 and count(seedkit_session, "products") > 0


@pytest.mark.seedkit(strategy="snapshot")
def test_a_function_marker_overrides_only_what_it_names(seedkit_profile, seedkit_database, seedkit_db_url):
    assert seedkit_profile.name == "catalog" and seedkit_database.strategy_name == "snapshot"
    assert seedkit_database.url is None  # every test gets a clone of the template
    assert make_url(seedkit_db_url).database.startswith(seedkit_database.database + "_")
