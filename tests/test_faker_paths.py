"""seedkit's faster Faker paths give Faker's own values, draw for draw, and only inside seedkit's scope."""

from __future__ import annotations

import random
from collections import OrderedDict
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any
from unittest import mock
from zoneinfo import ZoneInfo

import factory
import faker
import pytest
from faker.providers import BaseProvider
from freezegun import freeze_time

from seedkit.core import faker_paths
from seedkit.core.determinism import deterministic

LOCALES = ["en_US", "de_DE", "ja_JP", "fr_FR", "pt_BR"]
SEEDS = [0, 1, 7, 42, 2026, 123456789]
START = datetime(2025, 1, 1, tzinfo=UTC)
END = START + timedelta(days=30)
WEIGHTED = OrderedDict([("member", 0.8), ("admin", 0.15), ("owner", 0.05)])

# (formatter, keyword arguments): the ordinary factories' providers, then what users commonly
# declare, then the arguments that take other branches of the paths.
CASES: list[tuple[str, dict[str, Any]]] = [
    ("name", {}),
    ("company", {}),
    ("catch_phrase", {}),
    ("date_time_between", {"start_date": START, "end_date": END, "tzinfo": UTC}),
    ("first_name", {}),
    ("last_name", {}),
    ("email", {}),
    ("user_name", {}),
    ("address", {}),
    ("city", {}),
    ("phone_number", {}),
    ("text", {}),
    ("sentence", {}),
    ("word", {}),
    ("words", {}),
    ("uuid4", {}),
    ("date_between", {"start_date": "-2y"}),
    ("date_of_birth", {}),
    ("pyint", {}),
    ("pydecimal", {"min_value": 1, "max_value": 250, "right_digits": 2}),
    ("random_element", {"elements": ("a", "b", "c")}),
    ("random_elements", {"elements": ("a", "b", "c"), "length": 2}),
    ("job", {}),
    ("postcode", {}),
    ("paragraph", {}),
    ("date_time_between", {"start_date": "-30y", "end_date": "now"}),
    ("date_time_between", {"start_date": "-2w", "end_date": "+3d", "tzinfo": ZoneInfo("Europe/Berlin")}),
    ("date_time_between", {"start_date": date(2020, 2, 29), "end_date": datetime(2020, 3, 1, 12)}),
    ("date_time_between", {"start_date": START, "end_date": START}),
    ("date_time_between", {"start_date": END, "end_date": START}),
    ("date_time_between", {"start_date": START, "end_date": START + timedelta(seconds=1)}),
    ("date_time_between", {"start_date": timedelta(days=-3), "end_date": 1_800_000_000}),
    ("date_between", {"start_date": "-30y", "end_date": "+1M"}),
    ("date_between", {"start_date": date(1999, 12, 31), "end_date": "today"}),
    ("date_time_between_dates", {"datetime_start": START, "datetime_end": END}),
    ("date_time_ad", {"start_datetime": date(1900, 1, 1)}),
    ("date_of_birth", {"minimum_age": 18, "maximum_age": 80, "tzinfo": UTC}),
    ("random_element", {"elements": ["x"]}),
    ("random_element", {"elements": "abcdef"}),
    ("random_element", {"elements": WEIGHTED}),
    ("random_element", {"elements": OrderedDict([("a", 1), ("b", 0)])}),
    ("random_elements", {"elements": WEIGHTED, "length": 4}),
    ("random_elements", {"elements": WEIGHTED, "unique": True, "length": 2}),
    ("random_choices", {"elements": ["p", "q", "r"], "length": 3}),
    ("random_sample", {"elements": "abcdef", "length": 3}),
    ("numerify", {"text": "#%$!@ -- ## %% $$ !! @@ # no marks"}),
    ("numerify", {"text": "plain text"}),
    ("lexify", {"text": "??-?", "letters": "XYZ"}),
    ("bothify", {"text": "## ?? #?!@"}),
    ("hexify", {"text": "^^:^^"}),
    ("randomize_nb_elements", {"number": 10}),
    ("randomize_nb_elements", {"number": 50, "le": True, "min": 40}),
    ("randomize_nb_elements", {"number": 50, "ge": True, "max": 60}),
    ("randomize_nb_elements", {"number": 5, "le": True, "ge": True}),
    ("sentence", {"nb_words": 1}),
    ("sentence", {"nb_words": 4, "variable_nb_words": False}),
    ("sentence", {"ext_word_list": ["alpha", "beta", "gamma"]}),
    ("sentence", {"nb_words": 0}),
    ("words", {"nb": 1}),
    ("words", {"nb": 5, "ext_word_list": ("one", "two")}),
    ("words", {"nb": 3, "unique": True}),
    ("word", {"ext_word_list": ["solo", "duo"]}),
    ("text", {"max_nb_chars": 20}),
    ("text", {"max_nb_chars": 80}),
    ("paragraphs", {"nb": 2}),
    ("safe_email", {}),
    ("free_email", {}),
    ("street_address", {}),
    ("bban", {}),
    ("license_plate", {}),
    ("ssn", {}),
]


def _supported(fake: faker.Faker) -> list[tuple[str, dict[str, Any]]]:
    return [case for case in CASES if hasattr(fake, case[0])]


def _run(fake: faker.Faker, seed: int, rounds: int) -> list[Any]:
    """Every case, round after round, from ``seed``; then the generator's state."""
    fake.seed_instance(seed)
    values: list[Any] = []
    cases = _supported(fake)
    for _ in range(rounds):
        for formatter, kwargs in cases:
            value = fake.format(formatter, **kwargs)
            values.append((formatter, value, type(value)))
    values.append(fake.random.getstate())
    return values


@pytest.fixture
def faker_own() -> Iterator[None]:
    """Faker's own code for the test, whatever the test installs; seedkit's state as it was after."""
    was = faker_paths.installed()
    faker_paths.uninstall()
    try:
        yield
    finally:
        (faker_paths.install if was else faker_paths.uninstall)()


@pytest.mark.parametrize("locale", LOCALES)
def test_every_path_gives_fakers_own_values_and_draws(locale: str, faker_own: None) -> None:
    fake = faker.Faker(locale)
    with freeze_time("2026-11-30 12:34:56.789", tz_offset=-5):  # relative bounds read the (local) clock
        expected = [_run(fake, seed, rounds=12) for seed in SEEDS]
        faker_paths.install()
        assert faker_paths.installed()
        assert [_run(fake, seed, rounds=12) for seed in SEEDS] == expected


ABSOLUTE_DATES: list[tuple[str, dict[str, Any]]] = [
    ("date_time_between", {"start_date": START, "end_date": END, "tzinfo": UTC}),
    ("date_time_between", {"start_date": date(2020, 2, 29), "end_date": datetime(2020, 3, 1, 12)}),
    ("date_time_between", {"start_date": START, "end_date": START + timedelta(seconds=1)}),
    ("date_time_between_dates", {"datetime_start": START, "datetime_end": END, "tzinfo": UTC}),
    ("date_between", {"start_date": date(1999, 12, 31), "end_date": date(2000, 3, 1)}),
    ("date_time_ad", {"start_datetime": date(1900, 1, 1), "end_datetime": START, "tzinfo": UTC}),
]


def test_absolute_date_bounds_with_the_wall_clock(faker_own: None) -> None:
    # Bounds that do not read the clock, without freezegun (which swaps datetime classes).
    def run(fake: faker.Faker, seed: int) -> list[Any]:
        fake.seed_instance(seed)
        values = [fake.format(formatter, **kwargs) for _ in range(50) for formatter, kwargs in ABSOLUTE_DATES]
        return [values, fake.random.getstate()]

    fake = faker.Faker()
    expected = [run(fake, seed) for seed in SEEDS]
    faker_paths.install()
    assert [run(fake, seed) for seed in SEEDS] == expected


def test_a_faker_made_inside_gives_the_same_values_as_one_made_outside(faker_own: None) -> None:
    outside = faker.Faker("de_DE")
    faker_paths.install()
    inside = faker.Faker("de_DE")  # binds the faster provider methods as its formatters
    with freeze_time("2026-11-30"):
        assert _run(inside, 5, rounds=10) == _run(outside, 5, rounds=10)


def _declared(seed: int) -> list[Any]:
    """factory.Faker declarations evaluated as factory_boy's builder does, in a deterministic context."""
    declarations = [factory.Faker(formatter, **kwargs) for formatter, kwargs in CASES[:25]]
    declarations += [factory.Faker("name", locale="ja_JP"), factory.Faker("address", locale="de_DE")]
    with deterministic(seed=seed, start=START, freeze=True) as context:
        values = [
            declaration.evaluate_pre(instance=None, step=None, overrides={})
            for _ in range(20)
            for declaration in declarations
        ]
        return [values, faker.generator.random.getstate(), context.clock.now()]


def test_factory_declarations_inside_seedkits_context_give_fakers_own_values() -> None:
    expected = []
    original = faker_paths.install
    with mock.patch.object(faker_paths, "install", faker_paths.uninstall):  # the context without the paths
        for seed in SEEDS:
            expected.append(_declared(seed))
            assert not faker_paths.installed()
    assert faker_paths.install is original
    found = [_declared(seed) for seed in SEEDS]
    assert found == expected


def test_the_paths_are_installed_only_inside_seedkits_context() -> None:
    assert not faker_paths.installed()
    assert BaseProvider.random_element is faker_paths._ORIGINAL_RANDOM_ELEMENT
    with deterministic(seed=1):
        assert faker_paths.installed()
        assert BaseProvider.random_element is not faker_paths._ORIGINAL_RANDOM_ELEMENT
        with deterministic(seed=2):
            pass
        assert faker_paths.installed()  # an inner context leaves them to the outer one
    assert not faker_paths.installed()
    for owner, name, original, _ in faker_paths._PATCHES:
        assert owner.__dict__.get(name, faker_paths._ABSENT) is original, name
    assert "format" not in vars(faker.Faker)  # the proxy's own way to it, through __getattr__


def _spy(name: str) -> Callable[..., Any]:
    original = getattr(faker_paths, name)
    return mock.Mock(side_effect=original)


def test_a_faker_made_inside_runs_fakers_own_code_once_outside() -> None:
    with deterministic(seed=3):
        fake = faker.Faker()  # its formatters are bound to the faster methods here
        spy = _spy("_ORIGINAL_RANDOM_ELEMENT")
        with mock.patch.object(faker_paths, "_ORIGINAL_RANDOM_ELEMENT", spy):
            fake.random_element(("a", "b"))
            fake.numerify("##")
            assert spy.call_count == 0
    spy = _spy("_ORIGINAL_RANDOM_ELEMENT")
    numerify = _spy("_ORIGINAL_NUMERIFY")
    with (
        mock.patch.object(faker_paths, "_ORIGINAL_RANDOM_ELEMENT", spy),
        mock.patch.object(faker_paths, "_ORIGINAL_NUMERIFY", numerify),
    ):
        fake.random_element(("a", "b"))
        fake.numerify("##")
    assert spy.call_count == 1
    assert numerify.call_count == 1


def test_a_faker_made_before_takes_the_faster_paths_through_format(faker_own: None) -> None:
    fake = faker.Faker()  # its formatters are Faker's own methods
    faker_paths.install()
    find = _spy("_find")  # only the faster numerify looks for its placeholders with str.find
    with mock.patch.object(faker_paths, "_find", find):
        fake.format("numerify", "##")
        assert find.call_count == 5  # one search per kind of placeholder
        faker_paths.uninstall()
        fake.format("numerify", "##")
        assert find.call_count == 5


class _Digits(BaseProvider):
    def random_digit(self) -> int:
        return 7

    def random_element(self, elements: Any = ("a", "b", "c")) -> Any:
        return "mine"


def test_a_provider_that_overrides_a_skipped_method_keeps_it(faker_own: None) -> None:
    fake = faker.Faker()
    fake.add_provider(_Digits)
    faker_paths.install()
    provider = next(p for p in fake.providers if isinstance(p, _Digits))
    assert provider.numerify("###") == "777"
    assert provider.lexify("??") == "minemine"
    assert faker.Faker().numerify("#" * 30) != "7" * 30  # other providers take the shortcut


class _WholeSeconds(faker.providers.date_time.Provider):
    def _rand_seconds(self, start_datetime: int, end_datetime: int) -> float:
        return self.generator.random.randint(start_datetime, end_datetime)  # Faker's on Windows


def test_a_date_provider_that_overrides_rand_seconds_keeps_it(faker_own: None) -> None:
    def draws() -> list[datetime]:
        fake = faker.Faker()
        fake.add_provider(_WholeSeconds)
        fake.seed_instance(9)
        return [fake.date_time_between(START, END, tzinfo=UTC) for _ in range(200)]

    expected = draws()
    assert all(value.microsecond == 0 for value in expected)
    faker_paths.install()
    assert draws() == expected
    fake = faker.Faker()
    fake.seed_instance(9)
    assert any(value.microsecond for value in (fake.date_time_between(START, END) for _ in range(20)))


class _Counting(random.Random):
    calls = 0

    def random(self) -> float:
        _Counting.calls += 1
        return super().random()


def test_a_random_that_is_not_a_plain_random_goes_to_faker(faker_own: None) -> None:
    fake = faker.Faker()
    fake.random = _Counting(4)
    expected = [fake.random_element(WEIGHTED) for _ in range(50)], _Counting.calls
    faker_paths.install()
    fake.random = _Counting(4)
    _Counting.calls = 0
    assert ([fake.random_element(WEIGHTED) for _ in range(50)], _Counting.calls) == expected


def test_errors_are_fakers_own(faker_own: None) -> None:
    fake = faker.Faker()

    def errors() -> list[str]:
        found = []
        for formatter, kwargs in [
            ("random_element", {"elements": ()}),
            ("random_element", {"elements": OrderedDict([("a", 0)])}),
            ("random_elements", {"elements": {"a": 1}, "length": 1}),
            ("date_time_between", {"start_date": "soon"}),
            ("date_time_between_dates", {"datetime_start": END, "datetime_end": START}),
            ("date_between", {"start_date": "-2q"}),
            ("no_such_formatter", {}),
            ("words", {"nb": 2, "ext_word_list": []}),
        ]:
            with pytest.raises(Exception) as info:
                fake.format(formatter, **kwargs)
            found.append(f"{type(info.value).__name__}: {info.value}")
        with pytest.raises(AttributeError) as info:
            fake.parse("{{last_name}} of {{no_such_formatter}}")  # a format string's token
        found.append(str(info.value))
        two_locales = faker.Faker(["en_US", "de_DE"])
        with pytest.raises(NotImplementedError) as info:
            two_locales.format("name")
        found.append(str(info.value))
        return found

    expected = errors()
    faker_paths.install()
    assert errors() == expected


def test_format_strings_are_split_once(faker_own: None) -> None:
    fake = faker.Faker()
    faker_paths.install()
    faker_paths._plans.clear()
    plan = _spy("_plan")
    with mock.patch.object(faker_paths, "_plan", plan):
        for _ in range(200):
            fake.name()
    patterns = {call.args[0] for call in plan.call_args_list}
    assert patterns and plan.call_count == len(patterns)  # each pattern once, then from _plans
    assert set(faker_paths._plans) == patterns


def test_format_strings_with_argument_groups_use_fakers_parse(faker_own: None) -> None:
    fake = faker.Faker()
    fake.set_arguments("small", {"min_value": 1, "max_value": 3})
    fake.seed_instance(9)
    expected = [fake.parse("{{ pyint:small }}-{{first_name}} {{ last_name }}!") for _ in range(30)]
    faker_paths.install()
    fake.seed_instance(9)
    assert [fake.parse("{{ pyint:small }}-{{first_name}} {{ last_name }}!") for _ in range(30)] == expected
    assert fake.parse("no tokens") == "no tokens"


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
    faker_paths.install()
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
            fake.random_element(OrderedDict([("u", 1), ("v", 2)]).keys()),
        ]

    expected = calls()
    faker_paths.install()
    assert calls() == expected


def test_the_weights_are_kept_on_the_table_and_follow_added_keys(faker_own: None) -> None:
    faker_paths.install()
    table = OrderedDict([("a", 1.0), ("b", 2.0)])
    fake = faker.Faker()
    fake.random_element(table)
    assert getattr(table, faker_paths._CACHE) == (("a", "b"), [1.0, 3.0], 3.0, 1)
    table["c"] = 1_000_000.0
    fake.seed_instance(1)
    assert [fake.random_element(table) for _ in range(5)] == ["c"] * 5
