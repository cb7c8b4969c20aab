"""pytest-factoryboy on seedkit's factories: a sample project (plugin_samples/factoryboy_suite.py) run
by pytest in a subprocess with ``-n 2``, on the session's real PostgreSQL server."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

pytest_plugins = ["pytester"]

SAMPLE = Path(__file__).resolve().parent / "plugin_samples" / "factoryboy_suite.py"
TIMEOUT = 300
RECORDED = 5 * 3 * 2  # tests x strategies x rounds that write what they saw


@pytest.fixture
def out(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = pytester.path / "out"
    path.mkdir()
    monkeypatch.setenv("SEEDKIT_SAMPLE_OUT", str(path))
    return path


def test_registered_fixtures_work_in_any_order_and_stay_isolated_under_xdist(
    pytester: pytest.Pytester, out: Path, pg_server_url: str
) -> None:
    pytester.makepyfile(test_factoryboy=SAMPLE.read_text())
    result = pytester.runpytest_subprocess(
        "-n",
        "2",
        "--seedkit-profile=e2e",
        f"--seedkit-database-url={pg_server_url}",
        "-p",
        "no:cacheprovider",
        timeout=TIMEOUT,
    )
    result.assert_outcomes(passed=RECORDED + 1)
    seen = [json.loads(path.read_text()) for path in sorted(out.glob("*.json"))]
    assert len(seen) == RECORDED
    # Every test saw the seeded rows and nothing a previous test made, under every strategy...
    assert {(s["other_users"], s["other_organizations"]) for s in seen} == {
        (seen[0]["other_users"], seen[0]["other_organizations"])
    }
    assert {s["strategy"] for s in seen} == {"rollback", "truncate", "snapshot"}
    # ...and made the same first row: the deterministic context was active before any fixture made one.
    # (pytest-factoryboy's model fixtures take one sequence number more than a factory call.)
    emails = {(s["made_by"] == "test_factory_fixture", s["first_email"]) for s in seen if s["first_email"]}
    assert len(emails) == 2 and {by_factory for by_factory, _ in emails} == {True, False}
