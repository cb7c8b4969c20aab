"""The none strategy and the registry the pytest plugin uses to pick a strategy by name."""

from __future__ import annotations

from typing import Any

import pytest
import sqlalchemy as sa
from isolation_support import app_creates_organization, count_slug

from seedkit.errors import ConfigError
from seedkit.isolation import STRATEGIES, NoIsolation, Strategy, TruncateStrategy, create_strategy
from seedkit.seeding.config import ISOLATION_STRATEGIES


def test_every_configurable_strategy_is_registered_and_follows_the_protocol(db_url: str) -> None:
    assert set(STRATEGIES) == set(ISOLATION_STRATEGIES)
    for name in STRATEGIES:
        options: dict[str, Any] = {"server_url": db_url} if name == "snapshot" else {}
        strategy = create_strategy(name, db_url, **options)
        assert isinstance(strategy, Strategy) and strategy.name == name


def test_options_reach_the_strategy_and_unknown_names_are_refused(db_url: str) -> None:
    strategy = create_strategy("truncate", db_url, skip_unused=True)
    assert isinstance(strategy, TruncateStrategy) and strategy.skip_unused is True
    with pytest.raises(
        ConfigError, match="unknown isolation strategy 'savepoint'; known: truncate, rollback"
    ):
        create_strategy("savepoint", db_url)


def test_none_keeps_what_tests_commit(db_url: str) -> None:
    strategy = NoIsolation(db_url)
    strategy.prepare()
    first = strategy.begin()
    app_creates_organization(first.session, "kept")
    strategy.end(first)
    second = strategy.begin()
    assert count_slug(second.session, "kept") == 1 and second.visible_to_other_processes
    strategy.end(second)
    strategy.close()
    engine = sa.create_engine(db_url)
    assert count_slug(engine, "kept") == 1
    engine.dispose()
