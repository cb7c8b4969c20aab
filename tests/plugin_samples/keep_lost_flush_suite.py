"""Sample suite run with --seedkit-keep-failed: the test fails on a flush (a duplicate email), so
what its session had flushed before cannot be committed into the kept database."""

import pytest
from seedkit_reference.model_factories import UserFactory

pytestmark = pytest.mark.seedkit(strategy="truncate")


def test_fails_on_a_duplicate(seedkit_session):
    UserFactory(email="first@lost.example")
    seedkit_session.flush()
    UserFactory(email="first@lost.example")
    seedkit_session.flush()  # IntegrityError: the session's transaction is over
