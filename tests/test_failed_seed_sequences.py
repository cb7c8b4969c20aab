"""A failed or interrupted seeding leaves every sequence where it was: ``setval`` (moving sequences
past seeded keys) and ``nextval`` are not undone by a ROLLBACK, so the runner records them before
its first write and puts them back. Compared: the fingerprint and every sequence's position."""

from __future__ import annotations

import dataclasses
import uuid
from pathlib import Path

import pytest
import sqlalchemy as sa

from seedkit import faults
from seedkit.errors import SeedkitError
from seedkit.seeding.config import BUILTIN_CONFIG, Profile, Settings, TableVolumeConfig, Volume, load_settings
from seedkit.seeding.runner import reset_targets, seed_profile
from seedkit.seeding.targets import Targets, open_targets
from seedkit.stores.fingerprint import Fingerprint, fingerprint
from seedkit.stores.sequences import database_sequences, sequence_positions_of


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return dataclasses.replace(load_settings(BUILTIN_CONFIG), state_dir=tmp_path / ".seedkit")


@pytest.fixture
def targets(db_url: str, settings: Settings) -> Targets:
    """The reference schema plus a serial-keyed table and a free-standing sequence."""
    engine = sa.create_engine(db_url)
    with engine.begin() as conn:
        conn.execute(sa.text("CREATE TABLE tags (id serial PRIMARY KEY, name text NOT NULL)"))
        conn.execute(sa.text("CREATE SEQUENCE invoice_numbers START 100"))
    engine.dispose()
    return Targets(db_url, None, f"test_{uuid.uuid4().hex[:8]}", settings.state_dir, embedded=False)


def state(targets: Targets) -> tuple[Fingerprint, dict[str, tuple[int, bool]]]:
    with open_targets(targets) as (engine, db), engine.connect() as conn:
        return fingerprint(conn, db), sequence_positions_of(conn, database_sequences(conn))


def fail_at(monkeypatch: pytest.MonkeyPatch, where: str) -> None:
    real = faults.point

    def point(name: str) -> None:
        if name == where:
            raise KeyboardInterrupt(name)
        real(name)

    monkeypatch.setattr(faults, "point", point)


TAGS = Profile("p", tables=(TableVolumeConfig("tags", 5),))


def test_a_seed_failing_after_sequences_moved_puts_them_back(
    settings: Settings, targets: Targets, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = state(targets)
    fail_at(monkeypatch, "seed.before-commit")
    with pytest.raises(KeyboardInterrupt):
        seed_profile(settings, TAGS, targets)
    assert state(targets) == before
    monkeypatch.undo()
    seed_profile(settings, TAGS, targets)  # the same run succeeds, and moves the sequence
    assert state(targets)[1]['"public"."tags_id_seq"'] == (5, True)


def test_a_seed_refused_by_the_database_at_commit_puts_sequences_back(
    settings: Settings, targets: Targets
) -> None:
    with open_targets(targets) as (engine, _), engine.begin() as conn:
        conn.execute(sa.text("SELECT nextval('invoice_numbers')"))  # a used sequence, not at its start
        conn.execute(
            sa.text(
                "CREATE FUNCTION refuse() RETURNS trigger LANGUAGE plpgsql AS "
                "$$ BEGIN RAISE EXCEPTION 'tags are closed'; END $$"
            )
        )
        conn.execute(  # checked at COMMIT, after the sequences were moved past the seeded keys
            sa.text(
                "CREATE CONSTRAINT TRIGGER closed AFTER INSERT ON tags DEFERRABLE INITIALLY DEFERRED "
                "FOR EACH ROW EXECUTE FUNCTION refuse()"
            )
        )
    before = state(targets)
    with pytest.raises(SeedkitError, match="tags are closed"):
        seed_profile(settings, TAGS, targets)
    assert state(targets) == before


def test_a_failed_reset_puts_sequences_back(
    settings: Settings, targets: Targets, monkeypatch: pytest.MonkeyPatch
) -> None:
    seed_profile(settings, TAGS, targets)
    with open_targets(targets) as (engine, _), engine.begin() as conn:
        conn.execute(sa.text("SELECT setval('tags_id_seq', 40)"))
    before = state(targets)
    fail_at(monkeypatch, "reset.truncated")
    with pytest.raises(KeyboardInterrupt):
        reset_targets(settings, targets)
    assert state(targets) == before


def test_a_failed_seed_with_two_workers_puts_sequences_back(
    settings: Settings, targets: Targets, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = state(targets)
    fail_at(monkeypatch, "workers.before-commit")
    profile = Profile(
        "p", tables=(TableVolumeConfig("tags", 5),), volumes=(Volume("OrganizationFactory", 3),)
    )
    with pytest.raises(KeyboardInterrupt):
        seed_profile(settings, profile, targets, workers=2, partition_size=2)
    after = state(targets)
    assert after[1] == before[1]
    assert after[0] == before[0]  # Mongo too: the collections the run made are dropped again
