"""The test modules shown in docs/async.md run as written, with the plugin and pytest-asyncio,
on real PostgreSQL, under every strategy that isolates."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

pytest_plugins = ["pytester"]


@pytest.fixture
def plugin_mongo(monkeypatch: pytest.MonkeyPatch) -> None:
    """The plugin in the subprocess uses the suite's Mongo server (SEEDKIT_TEST_MONGO_URL), else mongomock:
    its async fixtures then run on pymongo's AsyncMongoClient, else on mongomock-motor."""
    url = os.environ.get("SEEDKIT_TEST_MONGO_URL")
    if url:
        monkeypatch.setenv("SEEDKIT_MONGO_URL", url)
    else:
        monkeypatch.delenv("SEEDKIT_MONGO_URL", raising=False)


DOC = Path(__file__).resolve().parent.parent / "docs" / "async.md"
MODULE_BLOCK = re.compile(r"^```python\n# (test_\w+)\.py\n(.*?)^```", re.S | re.M)


@pytest.mark.mongo
@pytest.mark.parametrize("strategy", ["rollback", "truncate"])
def test_the_documented_async_web_app_tests_pass(
    pytester: pytest.Pytester, pg_server_url: str, strategy: str, plugin_mongo: None
) -> None:
    modules = MODULE_BLOCK.findall(DOC.read_text())
    assert len(modules) >= 1
    pytester.makepyfile(**dict(modules))
    result = pytester.runpytest_subprocess(
        "--seedkit-profile=e2e",
        f"--seedkit-strategy={strategy}",
        f"--seedkit-database-url={pg_server_url}",
        "--strict-markers",
        "-p",
        "no:cacheprovider",
        timeout=240,
    )
    tests = sum(len(re.findall(r"^async def test_", code, re.M)) for _, code in modules)
    assert tests >= 3
    result.assert_outcomes(passed=tests)
