"""The test modules shown in docs/pytest.md run as written, with the plugin, on real PostgreSQL."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

pytest_plugins = ["pytester"]

DOC = Path(__file__).resolve().parent.parent / "docs" / "pytest.md"
MODULE_BLOCK = re.compile(r"^```python\n# (test_\w+)\.py\n(.*?)^```", re.S | re.M)


@pytest.mark.mongo
def test_the_documented_test_modules_pass(
    pytester: pytest.Pytester, pg_server_url: str, mongo_env: None
) -> None:
    modules = MODULE_BLOCK.findall(DOC.read_text())
    assert len(modules) >= 4
    pytester.makepyfile(**dict(modules))
    result = pytester.runpytest_subprocess(
        "--seedkit-profile=e2e",
        f"--seedkit-database-url={pg_server_url}",
        "--strict-markers",
        "-p",
        "no:cacheprovider",
        timeout=240,
    )
    tests = sum(len(re.findall(r"^def test_", code, re.M)) for _, code in modules)
    result.assert_outcomes(passed=tests)
