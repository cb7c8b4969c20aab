"""The pytest plugin's failure modes: an unreachable server, a reset that fails, a kept database
whose session could not commit. Each is one readable line, and no test starts on a dirty database."""

from __future__ import annotations

from pathlib import Path

import pytest

pytest_plugins = ["pytester"]

SAMPLES = Path(__file__).resolve().parent / "plugin_samples"
TIMEOUT = 240


def use_sample(pytester: pytest.Pytester, sample: str, module: str) -> None:
    pytester.makepyfile(**{module: (SAMPLES / sample).read_text()})


def test_an_unreachable_server_is_one_seedkit_line(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_unreachable="def test_uses_the_database(seedkit_session):\n    pass\n")
    result = pytester.runpytest_subprocess(
        "--seedkit-profile=e2e", "--seedkit-database-url=postgresql://127.0.0.1:1/x_test", timeout=TIMEOUT
    )
    result.assert_outcomes(errors=1)
    output = result.stdout.str()
    assert "seedkit: cannot connect to PostgreSQL at postgresql://127.0.0.1:1/x_test: " in output
    assert "Traceback" not in output and "psycopg.OperationalError" not in output
    assert "sqlalchemy/" not in output and "site-packages" not in output


def test_a_failed_reset_stops_the_next_test_of_that_database(
    pytester: pytest.Pytester, pg_server_url: str
) -> None:
    use_sample(pytester, "failed_reset_suite.py", "test_failed_reset")
    result = pytester.runpytest_subprocess(
        "--seedkit-profile=e2e",
        f"--seedkit-database-url={pg_server_url}",
        "-p",
        "no:randomly",
        timeout=TIMEOUT,
    )
    # the first test passes, its teardown (the reset) errors; the second errors at setup, unrun
    result.assert_outcomes(passed=1, errors=2)
    output = result.stdout.str()
    teardown = output.split("ERROR at teardown of test_drops_a_table_the_reset_empties")[1]
    assert teardown.split("\n", 2)[1].startswith("seedkit: ") and "payments" in teardown.split("\n", 2)[1]
    assert "Traceback" not in output and "sqlalchemy.exc" not in output
    assert "ERROR at setup of test_starts_from_the_seed" in output
    assert "an earlier test's reset failed, so it may hold that test's data" in output


def test_keeping_a_database_says_what_the_session_could_not_commit(
    pytester: pytest.Pytester, pg_server_url: str
) -> None:
    from conftest import drop_database

    use_sample(pytester, "keep_lost_flush_suite.py", "test_keep_lost")
    result = pytester.runpytest_subprocess(
        "--seedkit-profile=e2e", f"--seedkit-database-url={pg_server_url}", "--seedkit-keep-failed",
        timeout=TIMEOUT,
    )  # fmt: skip
    result.assert_outcomes(failed=1, errors=1)
    output = result.stdout.str()
    assert "lacks what the test's session had flushed but not committed" in output
    for name in set(__import__("re").findall(r"kept database '([a-z0-9_]+)'", output)):
        drop_database(pg_server_url, name)


@pytest.mark.parametrize("strategy", ["truncate", "changed"])
def test_a_reset_blocked_by_a_leaked_transaction_is_retried_and_the_next_test_starts_clean(
    pytester: pytest.Pytester, pg_server_url: str, strategy: str
) -> None:
    use_sample(pytester, "leaked_transaction_suite.py", "test_leaked_transaction")
    result = pytester.runpytest_subprocess(
        "--seedkit-profile=e2e",
        f"--seedkit-strategy={strategy}",
        f"--seedkit-database-url={pg_server_url}",
        "--seedkit-lock-timeout=1s",
        "-p",
        "no:randomly",
        timeout=TIMEOUT,
    )
    result.assert_outcomes(passed=4)
    output = result.stdout.str()
    assert output.count("SeedkitWarning: the reset of database 'seedkit_test_e2e_") == 2
    assert "waited more than 1s for a table lock" in output
    assert "ended 1 session(s) that kept a transaction open on it and the retry succeeded" in output
