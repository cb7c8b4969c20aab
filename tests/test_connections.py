"""Unreachable databases give one line that names the URL without its password."""

from __future__ import annotations

import pytest

from seedkit.errors import DatabaseUnavailable
from seedkit.stores import mongo, postgres
from seedkit.stores.urls import redact


def test_unreachable_postgres() -> None:
    with pytest.raises(DatabaseUnavailable) as error:
        postgres.create_engine("postgresql://app:s3cret@127.0.0.1:9/shop_test")
    message = str(error.value)
    assert message.startswith("cannot connect to PostgreSQL at postgresql://app:***@127.0.0.1:9/shop_test: ")
    assert "s3cret" not in message and "\n" not in message


def test_unreachable_mongo(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(mongo, "SERVER_TIMEOUT_MS", 300)
    with pytest.raises(DatabaseUnavailable) as error:
        mongo.connect("mongodb://app:s3cret@127.0.0.1:9/?directConnection=true", "shop_test")
    message = str(error.value)
    assert message.startswith("cannot connect to MongoDB at mongodb://app:***@127.0.0.1:9/")
    assert "s3cret" not in message and "\n" not in message
    assert message.endswith("Connection refused")  # no half-cut pymongo details


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("postgresql+psycopg://app:s3cret@db:5432/shop", "postgresql://app:***@db:5432/shop"),
        ("postgresql://app:s3cret@db/shop", "postgresql://app:***@db/shop"),
        ("postgresql+psycopg:///shop_test?host=/tmp", "postgresql:///shop_test?host=/tmp"),
        ("mongodb://u:pw@mongo:27017/app", "mongodb://u:***@mongo:27017/app"),
        ("postgresql://[::1:5432/x", "<unparseable URL>"),
    ],
)
def test_messages_show_urls_as_users_write_them_without_passwords(url: str, shown: str) -> None:
    assert redact(url) == shown
