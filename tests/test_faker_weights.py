"""Cached cumulative weights give Faker's own values, draw for draw."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterator
from typing import Any

import faker
import pytest
from faker.providers import BaseProvider

from seedkit.core import faker_weights

LOCALES = ["en_US", "de_DE", "fr_FR", "ja_JP", "pt_BR"]
FORMATTERS = [
    "name",
    "first_name",
    "last_name",
    "address",
    "company",
    "catch_phrase",
    "job",
    "email",
    "phone_number",
]


@pytest.fixture
def faker_own() -> Iterator[None]:
    faker_weights.uninstall()
    try:
        yield
    finally:
        faker_weights.install()


def _values(locale: str, count: int = 150) -> list[Any]:
    fake = faker.Faker(locale)
    fake.seed_instance(42)
    values: list[Any] = [getattr(fake, formatter)() for _ in range(count) for formatter in FORMATTERS]
    values.append(fake.random.random())  # the generator's state after all the draws
    return values


def _weighted_tables(locale: str) -> list[tuple[BaseProvider, OrderedDict[Any, Any]]]:
    fake = faker.Faker(locale)
    return [
        (provider, table)
        for provider in fake.providers
        for table in (
            getattr(provider, name, None) for name in dir(type(provider)) if not name.startswith("__")
        )
        if type(table) is OrderedDict and table and all(isinstance(w, int | float) for w in table.values())
    ]


@pytest.mark.parametrize("locale", LOCALES)
def test_formatters_give_fakers_own_values(locale: str, faker_own: None) -> None:
    expected = _values(locale)
    faker_weights.install()
    assert BaseProvider.random_elements is not faker_weights._ORIGINAL
    assert _values(locale) == expected


def test_every_weighted_table_gives_the_same_picks(faker_own: None) -> None:
    tables = [entry for locale in LOCALES for entry in _weighted_tables(locale)]
    assert len(tables) > 10

    def picks() -> list[Any]:
        found = []
        for provider, table in tables:
            provider.generator.random.seed(7)
            found.append([provider.random_element(table) for _ in range(20)])
            found.append(list(provider.random_elements(table, length=5)))
            found.append(provider.generator.random.random())
        return found

    expected = picks()
    faker_weights.install()
    assert picks() == expected


def test_other_calls_go_to_faker(faker_own: None) -> None:
    fake = faker.Faker()

    def calls() -> list[Any]:
        fake.seed_instance(3)
        table = OrderedDict([("a", 0.5), ("b", 0.3), ("c", 0.2)])
        return [
            fake.random_elements(table, unique=True, length=2),
            fake.random_elements(table, length=None),
            fake.random_elements(table, length=3, use_weighting=False),
            fake.random_elements(("x", "y", "z"), length=4),
        ]

    expected = calls()
    faker_weights.install()
    assert calls() == expected
    with pytest.raises(ValueError, match="OrderedDict"):
        fake.random_elements({"a": 1}, length=1)


def test_the_weights_are_kept_on_the_table_and_follow_added_keys() -> None:
    table = OrderedDict([("a", 1.0), ("b", 2.0)])
    fake = faker.Faker()
    fake.random_element(table)
    assert getattr(table, faker_weights._CACHE) == (("a", "b"), [1.0, 3.0])
    table["c"] = 1_000_000.0
    fake.seed_instance(1)
    assert [fake.random_element(table) for _ in range(5)] == ["c"] * 5
