"""What commands leave behind: Mongo clients are closed; a bad pack path names its configuration."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pymongo
import pytest

from seedkit.errors import ConfigError
from seedkit.seeding.config import load_settings
from seedkit.seeding.runner import seed_profile
from seedkit.stores import mongo


def test_open_database_closes_the_client_it_opened(monkeypatch: pytest.MonkeyPatch) -> None:
    opened: list[pymongo.MongoClient[Any]] = []

    def connect(url: str | None, database: str) -> Any:  # a real client, without a server to reach
        client: pymongo.MongoClient[Any] = pymongo.MongoClient(url, connect=False)
        opened.append(client)
        return client[database]

    monkeypatch.setattr(mongo, "connect", connect)
    with mongo.open_database("mongodb://127.0.0.1:1/", "x_test"):
        pass
    with pytest.raises(pymongo.errors.InvalidOperation, match="after close"):
        opened[0]["x_test"]["c"].find_one()


def test_a_missing_pack_path_names_the_configuration_file(tmp_path: Path) -> None:
    config = tmp_path / "seedkit.toml"
    config.write_text('packs = ["packz"]\n\n[profiles.demo]\npacks = ["golden"]\n')
    settings = load_settings(config)
    with pytest.raises(ConfigError) as raised:
        seed_profile(settings, "demo", database_url="postgresql://127.0.0.1:1/x_test")
    assert str(raised.value).startswith(f"{config}: packs: pack path ")  # the key that sets the paths
    assert "packz is not a directory" in str(raised.value)
