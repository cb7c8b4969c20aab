"""The built wheel is complete and installs beside an application's own packages.

Built from this checkout and installed (not editable) into a fresh virtual environment whose
dependencies come from the test environment's site-packages (a ``.pth`` line: that directory's
own ``.pth`` files, and so the editable seedkit, are not loaded). Then, as a new user would:
``seedkit seed --profile e2e`` from an empty directory, and ``from seedkit import UserFactory``
in a directory that has its own ``factories`` package.
"""

from __future__ import annotations

import importlib.metadata
import os
import subprocess
import sys
import sysconfig
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


def _setuptools_major() -> int:
    try:
        return int(importlib.metadata.version("setuptools").split(".")[0])
    except importlib.metadata.PackageNotFoundError:
        return 0


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    build = [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(out), str(REPO)]
    if _setuptools_major() >= 77:  # new enough for this pyproject.toml: build offline with it
        build.insert(5, "--no-build-isolation")
    done = subprocess.run(build, capture_output=True, text=True, timeout=300, cwd=out)
    assert done.returncode == 0, done.stderr[-3000:]
    (found,) = out.glob("seedkit-*.whl")
    return found


@pytest.fixture(scope="module")
def venv(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    root = tmp_path_factory.mktemp("venv")
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(root)], check=True, timeout=120)
    python = root / "bin" / "python"
    purelib = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    Path(purelib, "test-deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    install = [sys.executable, "-m", "pip", "--python", str(python), "install", "--no-deps", "-q", str(wheel)]
    done = subprocess.run(install, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    yield root


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SEEDKIT_", "PYTHON"))}
    return env


def test_the_wheel_holds_every_package_and_the_reference_domain(wheel: Path) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    for package in sorted(p.parent for p in (REPO / "seedkit").rglob("__init__.py")):
        dotted = package.relative_to(REPO).as_posix()
        assert f"{dotted}/__init__.py" in names, f"package {dotted} is missing from the wheel"
    assert "seedkit/py.typed" in names
    for file in ("seedkit.toml", "migrations/env.py", "migrations/script.py.mako", "packs/golden/pack.yaml"):
        assert f"seedkit_reference/{file}" in names
    assert any(n.startswith("seedkit_reference/migrations/versions/") for n in names)
    assert not any(n.startswith("factories/") for n in names)  # no generic top-level name


def test_seed_e2e_runs_from_an_empty_directory_with_the_installed_wheel(venv: Path, tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    seedkit = str(venv / "bin" / "seedkit")
    try:
        done = subprocess.run(
            [seedkit, "seed", "--profile", "e2e"],
            cwd=empty,
            capture_output=True,
            text=True,
            timeout=300,
            env=_env(),
        )
        assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
        assert "fingerprint" in done.stdout.lower()
    finally:
        subprocess.run([seedkit, "db", "stop"], cwd=empty, capture_output=True, timeout=120, env=_env())


def test_user_factory_imports_beside_an_application_factories_package(venv: Path, tmp_path: Path) -> None:
    app = tmp_path / "app"
    (app / "factories").mkdir(parents=True)
    (app / "factories" / "__init__.py").write_text("APP = 'mine'\n")
    code = (
        "import factories\n"
        "from seedkit import UserFactory\n"
        "assert factories.APP == 'mine', factories\n"
        "print(UserFactory._meta.model.__name__)\n"
    )
    done = subprocess.run(
        [str(venv / "bin" / "python"), "-c", code],
        cwd=app,
        capture_output=True,
        text=True,
        timeout=120,
        env=_env(),
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == "User"


def test_a_configuration_naming_factories_finds_the_applications_own_module(
    venv: Path, tmp_path: Path
) -> None:
    """``factories = ["factories"]`` used to search the bundled reference domain instead."""
    app = tmp_path / "helpdesk"
    (app / "factories").mkdir(parents=True)
    (app / "factories" / "__init__.py").write_text(
        "import factory\n\nclass AccountFactory(factory.Factory):\n    class Meta:\n        model = dict\n"
    )
    (app / "seedkit.toml").write_text('factories = ["factories"]\n[profiles.demo]\nseed = 1\n')
    code = (
        "from pathlib import Path\n"
        "from seedkit.seeding.config import load_settings\n"
        "from seedkit.seeding.runner import resolve_factory\n"
        "found = resolve_factory('AccountFactory', load_settings(Path('seedkit.toml')))\n"
        "print(found.__module__, found.__name__)\n"
    )
    done = subprocess.run(
        [str(venv / "bin" / "python"), "-c", code],
        cwd=app,
        capture_output=True,
        text=True,
        timeout=120,
        env=_env(),
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == "factories AccountFactory"
