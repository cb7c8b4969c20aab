"""Per-test overhead over a long suite: does the plugin's set-up and teardown grow with the tests run?

A generated project runs 2,000 trivial tests in one pytest process (no xdist) on the shared
server, profile ``e2e``, strategy ``rollback``, in two flavours:

- ``session``: each test asks for ``seedkit_session`` only;
- ``factoryboy``: each test asks for pytest-factoryboy's ``user`` fixture (a seedkit factory
  registered with ``register()``; pytest-factoryboy makes a factory subclass per model fixture
  per test) before ``seedkit_session``;
- ``plain-factoryboy``: the same with plain factory_boy factories of the same models, writing
  through the session the plugin binds: what pytest-factoryboy and pytest cost by themselves.

pytest's own report durations give each test's set-up and teardown (wall clock), and the CPU
time the test process spent in them (``time.process_time``: what other work on a shared machine
changes least); the figures are the median of the 50 tests ending at test 100 and at test 2,000
(``--quick``: 500). At the end the suite counts the factory classes still alive after
``gc.collect()``.
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path
from typing import Any

_SEEDKIT_FACTORIES = """
from seedkit_reference.model_factories import OrganizationFactory, UserFactory

register(OrganizationFactory)
register(UserFactory)
"""

# The same models with plain factory_boy factories, writing through the session the plugin binds:
# what pytest-factoryboy and pytest cost by themselves.
_PLAIN_FACTORIES = """
import datetime
import uuid

import factory
import factory.alchemy
from seedkit.factories.binding import current_session
from seedkit_reference.models import Organization, User


class OrganizationFactory(factory.alchemy.SQLAlchemyModelFactory):
    class Meta:
        model = Organization
        sqlalchemy_session_factory = current_session
        sqlalchemy_session_persistence = "flush"

    id = factory.LazyFunction(uuid.uuid4)
    name = factory.Faker("company")
    slug = factory.Sequence(lambda n: f"plain-{n}")
    created_at = factory.LazyFunction(lambda: datetime.datetime.now(datetime.UTC))


class UserFactory(factory.alchemy.SQLAlchemyModelFactory):
    class Meta:
        model = User
        sqlalchemy_session_factory = current_session
        sqlalchemy_session_persistence = "flush"

    id = factory.LazyFunction(uuid.uuid4)
    organization = factory.SubFactory(OrganizationFactory)
    full_name = factory.Faker("name")
    email = factory.Sequence(lambda n: f"plain.{n}@example.com")
    role = "member"
    created_at = factory.LazyFunction(lambda: datetime.datetime.now(datetime.UTC))


register(OrganizationFactory)
register(UserFactory)
"""

FLAVOURS = {
    "session": ("", "seedkit_session"),
    "factoryboy": (_SEEDKIT_FACTORIES, "user, seedkit_session"),
    "plain-factoryboy": (_PLAIN_FACTORIES, "user, seedkit_session"),
}
WINDOW = 50
EARLY = 100

_CONFTEST = """
import gc
import json
import os
import time

import pytest

_durations = []  # per test: [set-up s, teardown s, set-up CPU s, teardown CPU s]


@pytest.hookimpl(wrapper=True)
def pytest_runtest_setup(item):
    started = time.process_time()
    try:
        return (yield)
    finally:
        _durations.append([0.0, 0.0, time.process_time() - started, 0.0])


@pytest.hookimpl(wrapper=True)
def pytest_runtest_teardown(item, nextitem):
    started = time.process_time()
    try:
        return (yield)
    finally:
        _durations[-1][3] = time.process_time() - started


@pytest.hookimpl(trylast=True)
def pytest_runtest_logreport(report):
    if report.when == "setup":
        _durations[-1][0] = report.duration
    elif report.when == "teardown":
        _durations[-1][1] = report.duration


def pytest_sessionfinish(session):
    from factory.base import BaseFactory

    gc.collect()
    alive, stack = 0, [BaseFactory]
    while stack:
        for sub in stack.pop().__subclasses__():
            stack.append(sub)
            alive += 1
    with open(os.environ["SEEDKIT_BENCH_OUT"], "w") as out:
        json.dump({"durations": _durations, "factory_classes_alive": alive}, out)
"""


_TESTS = """
import pytest
from pytest_factoryboy import register
{factories}

@pytest.mark.parametrize("n", range({count}))
def test_trivial(n, {fixtures}):
    assert n >= 0
"""


def _run_suite(server_url: str, flavour: str, count: int, workdir: Path) -> dict[str, Any]:
    project = workdir / flavour
    project.mkdir()
    (project / "conftest.py").write_text(textwrap.dedent(_CONFTEST))
    factories, fixtures = FLAVOURS[flavour]
    (project / "test_long.py").write_text(_TESTS.format(count=count, factories=factories, fixtures=fixtures))
    out = project / "durations.json"
    started = time.perf_counter()
    completed = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "-p",
            "no:xdist",
            "--seedkit-profile=e2e",
            "--seedkit-strategy=rollback",
            f"--seedkit-database-url={server_url}",
            str(project),
        ],
        cwd=project,
        capture_output=True,
        text=True,
        env={**_environ(), "SEEDKIT_BENCH_OUT": str(out)},
        check=False,
    )
    elapsed = time.perf_counter() - started
    if completed.returncode != 0:
        raise RuntimeError(
            f"long suite ({flavour}) failed:\n{completed.stdout[-3000:]}\n{completed.stderr[-3000:]}"
        )
    data = json.loads(out.read_text())
    durations = data["durations"]
    assert len(durations) == count, (len(durations), count)
    early, late = durations[EARLY - WINDOW : EARLY], durations[count - WINDOW : count]

    def median_ms(rows: list[list[float]], *columns: int) -> float:
        return statistics.median(sum(row[c] for c in columns) * 1000 for row in rows)

    return {
        "tests": count,
        "early_test": EARLY,
        "early_ms": median_ms(early, 0, 1),
        "late_ms": median_ms(late, 0, 1),
        "early_cpu_ms": median_ms(early, 2, 3),
        "late_cpu_ms": median_ms(late, 2, 3),
        "suite_s": elapsed,
        "factory_classes_alive": data["factory_classes_alive"],
    }


def _environ() -> dict[str, str]:
    import os

    environ = dict(os.environ)
    environ.pop("PYTEST_ADDOPTS", None)
    return environ


def run(server_url: str, *, quick: bool, log: Any) -> dict[str, Any]:
    """Both flavours' per-test set-up + teardown at test 100 and at the last test (ms)."""
    count = 500 if quick else 2_000
    results: dict[str, Any] = {"window": WINDOW}
    with tempfile.TemporaryDirectory(prefix="seedkit-bench-suite-") as tmp:
        for flavour in FLAVOURS:
            entry = _run_suite(server_url, flavour, count, Path(tmp))
            results[flavour] = entry
            log(
                f"  {flavour}: test {EARLY} {entry['early_ms']:.1f} ms, test {count:,} {entry['late_ms']:.1f} ms "
                f"(set-up + teardown; CPU {entry['early_cpu_ms']:.1f} / {entry['late_cpu_ms']:.1f} ms), "
                f"suite {entry['suite_s']:.0f} s, "
                f"{entry['factory_classes_alive']} factory classes alive at the end"
            )
    return results
