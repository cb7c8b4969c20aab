"""Sample suite that uses no seedkit fixture: the plugin must stay out of the way."""

import sys


def test_nothing_of_seedkits_machinery_is_loaded():
    assert "seedkit.pytest.run" not in sys.modules
    assert "seedkit.isolation" not in sys.modules
    assert "alembic" not in sys.modules
