"""The pytest plugin, driven from the outside: sample suites (tests/plugin_samples/) run in fresh
pytest processes on the session's real PostgreSQL server, and their outcomes are checked here."""

from __future__ import annotations

import json
import re
import socket
import subprocess
import uuid
from pathlib import Path

import pytest
import sqlalchemy as sa
from conftest import drop_database
from sqlalchemy.engine import make_url

from seedkit.pytest.run import psql_url, worker_database_name
from seedkit.pytest.server import embedded_root
from seedkit.seeding.config import load_settings
from seedkit.seeding.runner import seed_profile
from seedkit.stores.postgres import with_database
from seedkit.stores.urls import looks_like_test_name

pytest_plugins = ["pytester"]

SAMPLES = Path(__file__).resolve().parent / "plugin_samples"
TIMEOUT = 240


def use_sample(pytester: pytest.Pytester, sample: str, module: str) -> None:
    """Copy ``plugin_samples/<sample>`` into the pytester directory as test module ``module``."""
    pytester.makepyfile(**{module: (SAMPLES / sample).read_text()})


@pytest.fixture
def out(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A directory the sample suites write their observations to."""
    path = pytester.path / "out"
    path.mkdir()
    monkeypatch.setenv("SEEDKIT_SAMPLE_OUT", str(path))
    return path


def databases(server_url: str, like: str = "seedkit_test_%") -> set[str]:
    engine = sa.create_engine(server_url)
    with engine.connect() as conn:
        names = conn.execute(sa.text("SELECT datname FROM pg_database WHERE datname LIKE :p"), {"p": like})
        found = set(names.scalars())
    engine.dispose()
    return found


@pytest.fixture(scope="module")
def e2e_fingerprint(pg_server_url: str, tmp_path_factory: pytest.TempPathFactory) -> str:
    """What `seedkit seed --profile e2e` gives on an empty database, seeded independently of the plugin."""
    name = f"test_e2e_{uuid.uuid4().hex[:10]}"
    engine = sa.create_engine(pg_server_url, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    engine.dispose()
    try:
        settings = load_settings(cwd=tmp_path_factory.mktemp("e2e-state"))
        report = seed_profile(settings, "e2e", database_url=with_database(pg_server_url, name))
    finally:
        drop_database(pg_server_url, name)
    return report.fingerprint


@pytest.mark.mongo
@pytest.mark.parametrize("strategy", ["truncate", "rollback", "snapshot", "changed"])
def test_each_strategy_isolates_tests_and_keeps_the_seed_intact_over_50_writing_tests(
    pytester: pytest.Pytester,
    out: Path,
    pg_server_url: str,
    e2e_fingerprint: str,
    strategy: str,
    mongo_env: None,
) -> None:
    use_sample(pytester, "isolation_suite.py", "test_isolation")
    result = pytester.runpytest_subprocess(
        "--seedkit-profile=e2e",
        f"--seedkit-strategy={strategy}",
        f"--seedkit-database-url={pg_server_url}",
        "-p",
        "no:cacheprovider",
        timeout=TIMEOUT,
    )
    result.assert_outcomes(passed=53)
    # the data every test started from is what the profile seeds, byte for byte
    assert (out / "fingerprint.txt").read_text() == e2e_fingerprint


@pytest.mark.mongo
def test_xdist_workers_each_get_their_own_database(
    pytester: pytest.Pytester, out: Path, pg_server_url: str, mongo_env: None
) -> None:
    use_sample(pytester, "xdist_suite.py", "test_xdist")
    result = pytester.runpytest_subprocess(
        "-n",
        "2",
        "--dist",
        "each",
        "--seedkit-profile=e2e",
        f"--seedkit-database-url={pg_server_url}",
        "-p",
        "no:cacheprovider",
        timeout=TIMEOUT,
    )
    result.assert_outcomes(passed=6)  # 3 strategies x 2 workers, each pair at the same time
    seen = [json.loads(path.read_text()) for path in sorted(out.glob("*.json"))]
    assert len(seen) == 6
    for strategy in ("truncate", "rollback", "snapshot"):
        pair = [s for s in seen if s["database"].startswith(f"seedkit_test_e2e_{strategy}_")]
        assert sorted(s["worker"] for s in pair) == ["gw0", "gw1"]
        assert pair[0]["database"] != pair[1]["database"]
        for s in pair:
            assert s["worker"] in s["database"] and s["url_database"] == s["database"]
    assert databases(pg_server_url) & {s["database"] for s in seen} == set()  # dropped at the end


@pytest.mark.mongo
def test_markers_choose_profile_and_strategy_per_module_and_test(
    pytester: pytest.Pytester, pg_server_url: str, mongo_env: None
) -> None:
    factories = (SAMPLES.parent.parent / "factories").as_posix()
    config = (SAMPLES / "marker_seedkit.toml").read_text().replace("{factories}", factories)
    (pytester.path / "seedkit.toml").write_text(config)
    pytester.makeini(
        f"""
        [pytest]
        seedkit_profile = e2e
        seedkit_database_url = {pg_server_url}
        addopts = --strict-markers -p no:cacheprovider
        """
    )
    use_sample(pytester, "marker_catalog_suite.py", "test_catalog")
    use_sample(pytester, "marker_default_suite.py", "test_default")
    result = pytester.runpytest_subprocess(timeout=TIMEOUT)
    result.assert_outcomes(passed=5, errors=3)
    result.stdout.fnmatch_lines_random(
        [
            "seedkit: unknown profile 'nope' in */seedkit.toml; known profiles: catalog, e2e",
            "seedkit: the marker takes only the keyword arguments profile, strategy (got profil)",
            "seedkit: unknown isolation strategy 'nope'; known: truncate, rollback, snapshot*",
        ]
    )


KEPT_LINE = re.compile(r"^connect: psql (postgresql://\S+/(seedkit_test_e2e_(\w+?)_\w+_k\d+))$", re.M)


@pytest.mark.mongo
def test_keep_failed_keeps_the_failing_tests_database_and_says_how_to_connect(
    pytester: pytest.Pytester, pg_server_url: str, mongo_env: None
) -> None:
    use_sample(pytester, "keep_failed_suite.py", "test_keep")
    args = ("--seedkit-profile=e2e", f"--seedkit-database-url={pg_server_url}", "-p", "no:cacheprovider")
    before = databases(pg_server_url, "seedkit_test_%_k%")

    result = pytester.runpytest_subprocess(*args, timeout=TIMEOUT)  # without the option: nothing kept
    result.assert_outcomes(failed=4, passed=4)
    assert "database kept" not in result.stdout.str()
    assert databases(pg_server_url, "seedkit_test_%_k%") == before

    result = pytester.runpytest_subprocess(*args, "--seedkit-keep-failed", timeout=TIMEOUT)
    result.assert_outcomes(failed=4, passed=4)  # and the tests after a kept failure start from the seed
    output = result.stdout.str()
    kept = {match[2]: (match[0], match[1]) for match in KEPT_LINE.findall(output)}
    assert sorted(kept) == ["changed", "rollback", "snapshot", "truncate"]
    try:
        for strategy, (url, _name) in kept.items():
            assert f"psql {url}" in output.split("seedkit: databases kept for inspection")[1]  # summary
            assert ":***@" not in url and "password" not in url
            # the printed URL leaves the password out (the user gave it); the server requires it
            password = make_url(pg_server_url).password
            engine = sa.create_engine(make_url(url).set(drivername="postgresql+psycopg", password=password))
            with engine.connect() as conn:
                rows = conn.execute(sa.text("SELECT email FROM users WHERE email LIKE '%@kept.example'"))
                assert set(rows.scalars()) == {
                    f"committed-{strategy}@kept.example",
                    f"flushed-{strategy}@kept.example",
                }
                seeded = sa.text("SELECT count(*) FROM users WHERE email = 'admin@acme.example'")
                assert conn.execute(seeded).scalar_one() == 1
            engine.dispose()
    finally:
        for _, name in kept.values():
            drop_database(pg_server_url, name)


def _port_open(url: str) -> bool:
    parsed = make_url(url)
    with socket.socket() as sock:
        sock.settimeout(1)
        return sock.connect_ex((parsed.host or "127.0.0.1", parsed.port or 5432)) == 0


@pytest.mark.mongo
def test_without_a_url_the_workers_share_one_embedded_server_stopped_at_the_end(
    pytester: pytest.Pytester, out: Path, monkeypatch: pytest.MonkeyPatch, mongo_env: None
) -> None:
    for variable in ("SEEDKIT_DATABASE_URL", "SEEDKIT_CONFIG"):
        monkeypatch.delenv(variable, raising=False)
    use_sample(pytester, "embedded_suite.py", "test_embedded")
    basetemp = pytester.path / "basetemp"
    result = pytester.runpytest_subprocess(
        "-n", "2", "--dist", "each", "--seedkit-profile=e2e", f"--basetemp={basetemp}", timeout=TIMEOUT
    )
    result.assert_outcomes(passed=4)
    seen = [json.loads((out / f"{worker}.json").read_text()) for worker in ("gw0", "gw1")]
    assert seen[0]["server"] == seen[1]["server"]  # one server for the run
    assert make_url(seen[0]["url"]).database != make_url(seen[1]["url"]).database
    assert not embedded_root(basetemp / "seedkit").exists()  # stopped and deleted
    assert not _port_open(seen[0]["server"])


@pytest.mark.mongo
def test_a_kept_database_keeps_the_embedded_server_running_until_the_printed_command_stops_it(
    pytester: pytest.Pytester, out: Path, monkeypatch: pytest.MonkeyPatch, mongo_env: None
) -> None:
    for variable in ("SEEDKIT_DATABASE_URL", "SEEDKIT_CONFIG"):
        monkeypatch.delenv(variable, raising=False)
    monkeypatch.setenv("SEEDKIT_SAMPLE_FAIL", "1")
    use_sample(pytester, "embedded_suite.py", "test_embedded")
    basetemp = pytester.path / "basetemp"
    args = ("--seedkit-profile=e2e", "--seedkit-keep-failed", f"--basetemp={basetemp}")
    result = pytester.runpytest_subprocess(*args, "-p", "no:cacheprovider", timeout=TIMEOUT)
    result.assert_outcomes(passed=1, failed=1)
    server = json.loads((out / "master.json").read_text())["server"]
    assert _port_open(server) and embedded_root(basetemp / "seedkit").exists()
    lines = result.stdout.lines
    command = lines[
        lines.index("the embedded PostgreSQL keeps running for that; stop and delete it with:") + 1
    ]
    subprocess.run(command.strip(), shell=True, check=True)
    assert not _port_open(server) and not embedded_root(basetemp / "seedkit").exists()


def test_the_plugin_does_nothing_unless_its_fixtures_are_used(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("SEEDKIT_DATABASE_URL", raising=False)
    use_sample(pytester, "inert_suite.py", "test_inert")
    basetemp = pytester.path / "basetemp"
    result = pytester.runpytest_subprocess(
        f"--basetemp={basetemp}", "-p", "no:cacheprovider", timeout=TIMEOUT
    )
    result.assert_outcomes(passed=1)
    assert not (basetemp / "seedkit").exists() and not embedded_root(basetemp / "seedkit").exists()


def test_p_no_seedkit_disables_the_plugin(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_disabled="def test_uses_the_plugin(seedkit_session):\n    pass\n")
    result = pytester.runpytest_subprocess("-p", "no:seedkit", "-p", "no:cacheprovider", timeout=TIMEOUT)
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*fixture 'seedkit_session' not found*"])


def test_database_names_look_like_tests_stay_short_and_never_merge_two_profiles() -> None:
    names = {
        worker_database_name(profile, strategy, "1a2b3c4d", worker)
        for profile in ("e2e", "integration_orders", "integration_payments", "Integration Orders")
        for strategy in ("truncate", "rollback", "snapshot", "none", "none_tables")
        for worker in ("main", "gw0", "gw12345678")
    }
    assert len(names) == 4 * 5 * 3
    assert all(len(name) <= 51 and looks_like_test_name(name) for name in names)
    assert (
        worker_database_name("e2e", "truncate", "1a2b3c4d", "gw0") == "seedkit_test_e2e_truncate_1a2b3c4d_gw0"
    )


def test_psql_url_drops_the_driver_and_the_password() -> None:
    url = "postgresql+psycopg://app:s3cret@127.0.0.1:5433/seedkit_test_x_k1"
    assert psql_url(url) == "postgresql://app@127.0.0.1:5433/seedkit_test_x_k1"


def test_without_a_profile_choice_the_error_names_the_ways_to_choose(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_unchosen="def test_needs_data(seedkit_session):\n    pass\n")
    result = pytester.runpytest_subprocess(
        "-p", "no:cacheprovider", timeout=TIMEOUT
    )  # built-in config: 3 profiles
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(
        [
            "seedkit: choose a profile: --seedkit-profile NAME, seedkit_profile in the ini file, or "
            "@pytest.mark.seedkit(profile=NAME); known profiles: dev, e2e, load"
        ]
    )


def test_fixture_factories_give_a_profile_strategy_and_scope_of_ones_choosing(
    pytester: pytest.Pytester, pg_server_url: str
) -> None:
    factories = (SAMPLES.parent.parent / "factories").as_posix()
    config = (SAMPLES / "marker_seedkit.toml").read_text().replace("{factories}", factories)
    (pytester.path / "seedkit.toml").write_text(config)
    pytester.makeini(
        f"""
        [pytest]
        seedkit_database_url = {pg_server_url}
        addopts = -p no:cacheprovider
        """
    )
    use_sample(pytester, "fixture_factory_suite.py", "test_factories")
    result = pytester.runpytest_subprocess(timeout=TIMEOUT)
    result.assert_outcomes(passed=4, errors=1)
    result.stdout.fnmatch_lines(
        ["*seedkit: unknown profile 'nope' in */seedkit.toml; known profiles: catalog, e2e"]
    )
