"""Bad input found by a fresh user: one line naming the file, profile and key, before any connection.

Configuration values (a volume's count, a seed, a key's spelling, a value's type), pack paths
and pack factories, and the production words the guard reads in the environment and in
database names.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from test_packs_support import DOMAIN_FACTORIES, write_pack

from seedkit.errors import ConfigError, UnsafeTargetError
from seedkit.packs import resolve_packs, validate_packs
from seedkit.seeding.config import load_settings
from seedkit.seeding.runner import seed_profile
from seedkit.stores.safety import ENVIRONMENT_VARIABLES, check_destructive

# Nothing listens on port 1: a check that passed would fail to connect instead of naming the key.
UNREACHABLE = "postgresql+psycopg://127.0.0.1:1/app_test"
FACTORIES = 'factories = ["seedkit_reference.model_factories", "seedkit_reference.document_factories"]\n'


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for variable in (*ENVIRONMENT_VARIABLES, "SEEDKIT_ALLOW_UNSAFE", "SEEDKIT_CONFIG"):
        monkeypatch.delenv(variable, raising=False)


# -- the production guard -------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("ENV", "prd"),
        ("ENV", "PRD"),
        ("APP_ENV", "prod-eu"),
        ("ENVIRONMENT", "production"),
        ("RAILS_ENV", "production"),
        ("NODE_ENV", "production"),
        ("DEPLOY_ENV", "live"),
        ("APP_ENV", "prod2"),
    ],
)
def test_an_environment_saying_production_is_refused(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str
) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(UnsafeTargetError, match=f"{variable}={value} says production"):
        check_destructive(UNREACHABLE, action="reset")


@pytest.mark.parametrize("value", ["staging", "test", "development", "products", "livestream", "ci"])
def test_other_environments_are_not_production(monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    monkeypatch.setenv("ENV", value)
    monkeypatch.setenv("NODE_ENV", value)
    check_destructive(UNREACHABLE, action="reset")


@pytest.mark.parametrize("database", ["app_prd_test", "prod_e2e", "test_live", "shop_production_ci"])
def test_a_database_name_saying_production_is_refused_even_with_a_test_word(database: str) -> None:
    with pytest.raises(UnsafeTargetError, match=rf"database name '{database}' says production"):
        check_destructive(f"postgresql+psycopg://127.0.0.1:1/{database}", action="reset")


def test_the_mongo_target_is_judged_the_same_way() -> None:
    with pytest.raises(UnsafeTargetError, match="database name 'seedkit_prd' says production"):
        check_destructive("mongodb://127.0.0.1:27017/seedkit_prd", action="reset")


# -- configuration values -------------------------------------------------------------------------
def write_config(tmp_path: Path, profile: str, top: str = FACTORIES, name: str = "seedkit.toml") -> Path:
    config = tmp_path / name
    if name == "pyproject.toml":
        config.write_text(f"[tool.seedkit]\n{top}\n[tool.seedkit.profiles.demo]\n{profile}\n")
    else:
        config.write_text(f"{top}\n[profiles.demo]\n{profile}\n")
    return config


@pytest.mark.parametrize(
    ("profile", "message"),
    [
        (
            'volumes = [{ factory = "OrganizationFactory", count = 0 }]',
            "profile 'demo': volumes[0] count: 0 is not a positive whole number (to make none, leave the volume out)",
        ),
        (
            "seed = -1",
            "profile 'demo': seed: -1 is negative; a seed is a whole number >= 0",
        ),
        (  # TOML text is not converted: it used to seed ten organizations
            'volumes = [{ factory = "OrganizationFactory", count = "10" }]',
            "profile 'demo': volumes[0] count: '10' is not a whole number (it is text: write the number without",
        ),
        (
            'volumes = [{ factory = "OrganizationFactory", count = 2.0 }]',
            "profile 'demo': volumes[0] count: 2.0 is not a whole number",
        ),
        (
            'volumes = [{ factory = "OrganizationFactory", count = true }]',
            "profile 'demo': volumes[0] count: True is not a whole number",
        ),
        (
            'seed = "7"',
            "profile 'demo': seed: '7' is not a whole number (it is text: write the number without quotes)",
        ),
        (
            "seed = 7.0",
            "profile 'demo': seed: 7.0 is not a whole number",
        ),
        (
            "seed = false",
            "profile 'demo': seed: False is not a whole number",
        ),
        (
            'volumes = [{ table = "organizations", count = "10" }]',
            "profile 'demo': volumes[0] (table organizations) count: '10' is not a whole number (it is text",
        ),
        (
            'volumes = [{ table = "organizations", count = 1.5 }]',
            "profile 'demo': volumes[0] (table organizations) count: 1.5 is not a whole number",
        ),
        (
            'volumes = [{ factory = "OrganizationFactory", cuont = 10 }]',
            "profile 'demo': volumes[0] needs 'count' (found 'cuont': did you mean 'count'?)",
        ),
        (
            "seeed = 4",
            "profile 'demo': unknown key(s) seeed (did you mean 'seed'?)",
        ),
        (
            'description = 5\nvolumes = [{ factory = "OrganizationFactory", count = 1 }]',
            "profile 'demo': description: 5 is not a text",
        ),
        (
            'volumes = { factory = "OrganizationFactory", count = 1 }',
            "profile 'demo': volumes: expected a list of volumes",
        ),
        (
            'locale = "xx_YY"',
            "profile 'demo': locale: 'xx_YY' is not a locale Faker knows (e.g. 'en_US', 'de_DE', 'fr_FR')",
        ),
        (
            'locale = "de-DE"',
            "profile 'demo': locale: 'de-DE' is not a locale Faker knows (did you mean 'de_DE'?)",
        ),
    ],
)
def test_a_bad_profile_value_names_the_file_profile_and_key(
    tmp_path: Path, profile: str, message: str
) -> None:
    config = write_config(tmp_path, profile)
    with pytest.raises(ConfigError) as refused:
        load_settings(config)
    assert str(refused.value).startswith(f"{config}: {message}")


@pytest.mark.parametrize(
    ("top", "message"),
    [
        ("factories = 5", "factories: expected a list of names, got 5"),
        ("state_dir = 3", "state_dir: 3 is not a text"),
        ('profiles = "demo"', "profiles: expected tables of profiles"),
        ("alembic = { script_location = 1 }", "alembic.script_location: 1 is not a text"),
    ],
)
def test_a_bad_setting_names_the_file_and_key(tmp_path: Path, top: str, message: str) -> None:
    config = tmp_path / "seedkit.toml"
    config.write_text(top + "\n")
    with pytest.raises(ConfigError) as refused:
        load_settings(config)
    assert str(refused.value).startswith(f"{config}: {message}")


@pytest.mark.parametrize(
    ("volume", "message"),
    [
        (
            '{ factory = "OrganizationFactory", count = 1, cuont = 10 }',
            "unknown key 'cuont' (did you mean 'count'?)",
        ),
        (
            '{ factory = "AuditEventFactory", count = 1, conut = 10 }',  # a Mongo factory takes any field but that
            "unknown key 'conut' (did you mean 'count'?)",
        ),
        (
            '{ factory = "CustomerFactory", count = 1, oders = 2 }',
            "CustomerFactory: unknown attribute 'oders' (did you mean 'orders'?)",
        ),
    ],
)
def test_a_volume_field_the_factory_would_refuse_is_named_before_connecting(
    tmp_path: Path, volume: str, message: str
) -> None:
    config = write_config(tmp_path, f"volumes = [{volume}]")
    with pytest.raises(ConfigError) as refused:
        seed_profile(load_settings(config), "demo", database_url=UNREACHABLE)
    assert str(refused.value).startswith(f"{config}: profile 'demo', volumes[0]: {message}")


def test_volume_fields_the_factory_knows_pass(tmp_path: Path) -> None:
    config = write_config(
        tmp_path,
        'volumes = [{ factory = "CustomerFactory", count = 1, orders = "0-2", orders__items = 2, '
        'full_name = "X" }, { factory = "AuditEventFactory", count = 1, channel = "web" }]',
    )
    with pytest.raises(Exception) as failed:  # every check passed: the connection is what fails
        seed_profile(load_settings(config), "demo", database_url=UNREACHABLE)
    assert not isinstance(failed.value, ConfigError), failed.value


def test_a_locale_faker_knows_is_accepted(tmp_path: Path) -> None:
    settings = load_settings(write_config(tmp_path, 'locale = "ja_JP"'))
    assert settings.profiles["demo"].locale == "ja_JP"


def test_a_negative_seed_given_on_the_command_line_is_refused(tmp_path: Path) -> None:
    config = write_config(tmp_path, 'volumes = [{ factory = "OrganizationFactory", count = 1 }]')
    with pytest.raises(ConfigError, match=r"\(--seed\): -3 is negative"):
        seed_profile(load_settings(config), "demo", database_url=UNREACHABLE, seed=-3)


# -- pack paths and pack factories ----------------------------------------------------------------
@pytest.mark.parametrize("name", ["seedkit.toml", "pyproject.toml"])
def test_a_missing_pack_path_names_the_configuration_file_and_key_in_every_command(
    tmp_path: Path, name: str
) -> None:
    config = write_config(tmp_path, 'packs = ["golden"]', top='packs = ["packz"]', name=name)
    key = "[tool.seedkit] packs" if name == "pyproject.toml" else "packs"
    expected = f"error: {config}: {key}: pack path packz is not a directory"
    for command in (["packs", "list"], ["packs", "validate"], ["packs", "validate", "--profile", "demo"]):
        result = subprocess.run(
            [sys.executable, "-m", "seedkit.cli", *command, "--config", str(config)],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert result.returncode == 2, result.stdout
        assert result.stderr.strip() == expected
    with pytest.raises(ConfigError) as refused:
        seed_profile(load_settings(config), "demo", database_url=UNREACHABLE)
    message = str(refused.value)  # the path as seen from the working directory
    assert message.startswith(f"{config}: {key}: pack path ") and message.endswith("packz is not a directory")


def test_an_unknown_pack_factory_gets_a_did_you_mean(tmp_path: Path) -> None:
    write_pack(tmp_path, "bad", {"users.yaml": "alice:\n  _factory: CustomrFactory\n"})
    problems = validate_packs(
        resolve_packs(["bad"], [tmp_path]), schema=None, factory_modules=DOMAIN_FACTORIES
    )
    assert [problem.field for problem in problems] == ["_factory"]
    assert "unknown factory 'CustomrFactory' (did you mean 'CustomerFactory'?)" in str(problems[0])
