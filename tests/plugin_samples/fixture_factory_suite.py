"""Sample module: fixtures built with seedkit.pytest.factories, per profile, strategy and scope."""

import sqlalchemy as sa
from seedkit_reference.model_factories import OrganizationFactory

from seedkit.pytest import factories

catalog = factories.handle(profile="catalog", strategy="rollback")
e2e_module = factories.handle(profile="e2e", strategy="truncate", scope="module")
broken = factories.handle(profile="nope")

ORGS = sa.text("SELECT count(*) FROM organizations")
SEEN = {}


def test_function_scope_1(catalog):
    SEEN["catalog"] = before = catalog.session.execute(ORGS).scalar_one()
    assert before >= 1  # the catalog pack's organizations are there
    OrganizationFactory()  # factories are bound to the fixture's session
    catalog.session.flush()
    assert catalog.session.execute(ORGS).scalar_one() == before + 1


def test_function_scope_2(catalog):
    assert catalog.session.execute(ORGS).scalar_one() == SEEN["catalog"]  # rolled back after test 1


def test_module_scope_1(e2e_module):
    SEEN["e2e"] = e2e_module.session.execute(ORGS).scalar_one()
    OrganizationFactory()
    e2e_module.session.commit()


def test_module_scope_2(e2e_module):
    assert e2e_module.session.execute(ORGS).scalar_one() == SEEN["e2e"] + 1  # shared by the module


def test_unknown_profile(broken):
    pass
