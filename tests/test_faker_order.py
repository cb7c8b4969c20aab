"""Faker data built from a set (hash-ordered) is put in a stable order: same values in every process."""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
import textwrap

import pytest

from seedkit.core.faker_order import MIN_LENGTH, hash_ordered

_SCAN = textwrap.dedent(
    """
    import hashlib, json, warnings
    warnings.simplefilter("ignore")
    from faker import Faker
    from faker.config import AVAILABLE_LOCALES
    from seedkit.core.faker_order import stabilize, vars_of
    out = {}
    for locale in AVAILABLE_LOCALES:
        fake = Faker(locale)
        stabilize(fake)
        for provider in fake.providers:
            for name, _ in vars_of(type(provider)):
                value = getattr(provider, name)
                key = f"{locale}:{type(provider).__module__}.{name}"
                out[key] = hashlib.sha256(repr(list(value)).encode()).hexdigest()
    print(json.dumps(out))
    """
)

_DRAWS = textwrap.dedent(
    """
    import factory, json
    from seedkit import values
    from seedkit.core.determinism import Deterministic, activate
    class Clinic(factory.DictFactory):
        city = factory.Faker("city", locale="it_IT")
        town = values.City(locale="it_IT")
    with activate(Deterministic(seed=7)):
        print(json.dumps([Clinic() for _ in range(20)]))
    """
)


def _run(code: str, hash_seed: str) -> str:
    env = {**os.environ, "PYTHONHASHSEED": hash_seed}
    return subprocess.run(
        [sys.executable, "-c", code], env=env, check=True, capture_output=True, text=True
    ).stdout


def test_every_locales_provider_data_is_the_same_under_two_hash_seeds() -> None:
    first, second = (json.loads(_run(_SCAN, seed)) for seed in ("1", "2"))
    assert first.keys() == second.keys() and len(first) > 1000
    differ = sorted(key for key in first if first[key] != second[key])
    assert differ == []


def test_faker_and_values_declarations_draw_the_same_in_processes_with_other_hash_seeds() -> None:
    first, second = (json.loads(_run(_DRAWS, seed)) for seed in ("1", "2"))
    assert first == second
    assert len({row["city"] for row in first}) > 10  # real draws, not one value


def test_a_list_made_from_a_set_is_recognised_and_a_written_one_is_not() -> None:
    rnd = random.Random(3)
    for n in (MIN_LENGTH, 50, 400, 5000):
        words = list({"".join(rnd.choices("abcdefghijklmnopqrstuvwxyz", k=9)) for _ in range(n)})
        assert hash_ordered(words), n
        assert not hash_ordered(sorted(words)), n
        rnd.shuffle(words)
        assert not hash_ordered(words), n
    assert not hash_ordered(list({f"w{i}" for i in range(MIN_LENGTH - 1)}))  # too short to judge
    assert not hash_ordered(["a", *[f"w{i}" for i in range(40)], "a"])  # repeated: not from a set


@pytest.mark.parametrize("hash_seed", ["1", "2"])
def test_the_host_faker_is_left_alone(hash_seed: str) -> None:
    code = textwrap.dedent(
        """
        from faker import Faker
        from faker.providers.address.it_IT import Provider
        import factory
        from seedkit.core.determinism import Deterministic, activate
        before = list(Provider.cities)
        class F(factory.DictFactory):
            city = factory.Faker("city", locale="it_IT")
        with activate(Deterministic(seed=1)):
            F()
        host = Faker("it_IT")
        assert Provider.cities == before
        assert host.providers and all("cities" not in vars(p) for p in host.providers)
        print("ok")
        """
    )
    assert _run(code, hash_seed).strip() == "ok"
