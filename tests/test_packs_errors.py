"""Bad packs: one PackError naming file, record and field, and both stores exactly as before."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from test_packs_support import DOMAIN_FACTORIES, REFERENCE_PACKS, state, write_pack

from seedkit.core.determinism import deterministic
from seedkit.core.ids import label_object_id
from seedkit.errors import PackError
from seedkit.packs import apply_packs, resolve_packs

ALICE = """\
alice:
  organization_id: "@organizations.acme"
  email: alice@example.com
  full_name: Alice
  role: admin
"""

# (files of pack "bad", which depends on "catalog"), expected (file, record, field), message fragment
CASES: dict[str, tuple[dict[str, str], tuple[str, str | None, str | None], str]] = {
    "unknown table": (
        {"widgets.yaml": "w1:\n  name: x\n"},
        ("widgets.yaml", None, None),
        "unknown table 'widgets'",
    ),
    "unknown column": (
        {"users.yaml": ALICE + "  nickname: Al\n"},
        ("users.yaml", "alice", "nickname"),
        "unknown column of table 'users'",
    ),
    "dangling label": (
        {"users.yaml": ALICE.replace("@organizations.acme", "@organizations.acmee")},
        ("users.yaml", "alice", "organization_id"),
        "dangling reference @organizations.acmee: no record labelled 'acmee' in 'organizations'",
    ),
    "duplicate label across packs": (
        {"organizations.yaml": "acme:\n  name: Other\n  slug: other\n"},
        ("organizations.yaml", "acme", None),
        "duplicate label: @organizations.acme is also defined in",
    ),
    "text for a numeric price": (
        {"products.yaml": 'lamp: {organization_id: "@organizations.acme", sku: L1, name: L, price: cheap}\n'},
        ("products.yaml", "lamp", "price"),
        "expected a number, got text 'cheap'",
    ),
    "bad time in a CSV": (
        {
            "users.csv": "_label,organization_id,email,full_name,role,created_at\n"
            "bo,@organizations.acme,b@x,Bo,admin,yesterday\n"
        },
        ("users.csv", "bo", "created_at"),
        "expected a date-time",
    ),
    "text too long": (
        {
            "users.yaml": ALICE,
            "orders.yaml": 'o1:\n  user_id: "@users.alice"\n  status: paid\n  currency: EURO\n  subtotal: 1\n'
            "  total: 1\n",
        },
        ("orders.yaml", "o1", "currency"),
        "'EURO' is longer than 3 characters",
    ),
    "missing NOT NULL value": (
        {"users.yaml": ALICE.replace("  email: alice@example.com\n", "")},
        ("users.yaml", "alice", "email"),
        "missing value: the column is NOT NULL and has no default",
    ),
    "null for a NOT NULL column": (
        {"users.yaml": ALICE.replace("full_name: Alice", "full_name: null")},
        ("users.yaml", "alice", "full_name"),
        "cannot be null",
    ),
    "unknown factory": (
        {"users.yaml": "alice:\n  _factory: CustomrFactory\n"},
        ("users.yaml", "alice", "_factory"),
        "unknown factory 'CustomrFactory'",
    ),
    "unique violation between two records": (
        {"users.yaml": ALICE + ALICE.replace("alice:", "bob:").replace("full_name: Alice", "full_name: Bob")},
        ("users.yaml", "bob", "email"),
        "unique value email=(alice@example.com) is also used by record 'alice' in",
    ),
    "unique violation with a row already there": (
        {"organizations.yaml": "other:\n  name: Other\n  slug: existing\n"},
        ("organizations.yaml", "other", "slug"),
        "unique value slug=(existing) already exists in the database",
    ),
    "check constraint": (
        {"users.yaml": ALICE.replace("role: admin", "role: boss")},
        ("users.yaml", "alice", "role"),
        "CHECK constraint ck_users_role on (role) is violated: CHECK (",
    ),
    "reference to a row of the wrong table": (
        {"users.yaml": ALICE.replace("@organizations.acme", "@products.keyboard")},
        ("users.yaml", "alice", "organization_id"),
        'is not present in table "organizations"',
    ),
    "mongo reference to a missing user": (
        {"audit_events.yaml": 'e1:\n  actor_user_id: "@users.nobody"\n'},
        ("audit_events.yaml", "e1", "actor_user_id"),
        "dangling reference @users.nobody",
    ),
    "mongo insert fails after rows and other documents": (
        {
            "users.yaml": ALICE,
            "notifications.yaml": 'n1:\n  user_id: "@users.alice"\n',
            "audit_events.yaml": 'e1:\n  actor_user_id: "@users.alice"\nexisting:\n  action: clash\n',
        },
        ("audit_events.yaml", "existing", "_id"),
        "duplicate key",
    ),
}


@pytest.fixture
def before(engine: sa.Engine, mongo_db: Any) -> tuple[str, dict[str, int]]:
    """Data that was there before the load: a row and a document (with the id a pack label will want)."""
    with engine.begin() as conn:
        conn.execute(
            sa.text("INSERT INTO organizations VALUES (:id, 'Existing', 'existing', now())"),
            {"id": uuid.uuid4()},
        )
    mongo_db.audit_events.insert_one({"_id": label_object_id("audit_events", "existing"), "action": "kept"})
    return state(engine, mongo_db)


@pytest.mark.mongo
@pytest.mark.parametrize("case", list(CASES))
def test_bad_pack_raises_one_located_error_and_changes_nothing(
    case: str, tmp_path: Path, engine: sa.Engine, mongo_db: Any, before: tuple[str, dict[str, int]]
) -> None:
    files, (file, record, field), fragment = CASES[case]
    mongo_files = tuple(f for f in files if f.startswith(("audit_events", "notifications")))
    write_pack(tmp_path, "bad", files, depends_on=("catalog",), mongo=mongo_files)
    packs = resolve_packs(["bad"], [tmp_path, REFERENCE_PACKS])
    with deterministic(0) as context, engine.connect() as conn, pytest.raises(PackError) as error:
        apply_packs(packs, connection=conn, mongo=mongo_db, context=context, factory_modules=DOMAIN_FACTORIES)
    found = error.value
    assert found.file is not None and found.file.endswith(f"bad/{file}"), str(found)
    assert (found.record, found.field) == (record, field), str(found)
    assert fragment in str(found)
    assert str(found).startswith(found.file)
    assert state(engine, mongo_db) == before
    assert mongo_db.audit_events.find_one({"action": "kept"}) is not None


@pytest.mark.mongo
def test_yaml_syntax_error_fails_before_anything_is_written(
    tmp_path: Path, engine: sa.Engine, mongo_db: Any, before: tuple[str, dict[str, int]]
) -> None:
    write_pack(tmp_path, "bad", {"users.yaml": ALICE + "bob: {email: [b@x.com}\n"}, depends_on=("catalog",))
    with pytest.raises(PackError, match="YAML syntax error") as error:
        resolve_packs(["bad"], [tmp_path, REFERENCE_PACKS])
    assert error.value.file is not None and error.value.file.endswith("bad/users.yaml")
    assert error.value.line == 6
    assert state(engine, mongo_db) == before


def test_several_problems_are_summed_up_in_one_error(tmp_path: Path, engine: sa.Engine) -> None:
    write_pack(tmp_path, "bad", {"users.yaml": "a:\n  email: 1.5\nb:\n  nickname: x\n"})
    with deterministic(0) as context, engine.connect() as conn, pytest.raises(PackError) as error:
        apply_packs(resolve_packs(["bad"], [tmp_path]), connection=conn, mongo=None, context=context)
    assert "more problems; run `seedkit packs validate`" in str(error.value)
    assert error.value.record == "a"


def test_missing_store_is_an_error(tmp_path: Path, engine: sa.Engine) -> None:
    write_pack(tmp_path, "docs", {"audit_events.yaml": "e1:\n  action: x\n"}, mongo=("audit_events.yaml",))
    with (
        deterministic(0) as context,
        engine.connect() as conn,
        pytest.raises(PackError, match="no Mongo database"),
    ):
        apply_packs(resolve_packs(["docs"], [tmp_path]), connection=conn, mongo=None, context=context)


@pytest.mark.mongo
def test_duplicate_key_between_two_documents_names_both_records(tmp_path: Path, mongo_db: Any) -> None:
    mongo_db.notifications.create_index("dedupe_key", unique=True)
    files = {
        "notifications.yaml": "first:\n  dedupe_key: k1\nsecond:\n  dedupe_key: k2\n"
        "third:\n  dedupe_key: k1\n"
    }
    write_pack(tmp_path, "docs", files, mongo=("notifications.yaml",))
    with deterministic(0) as context, pytest.raises(PackError) as error:
        apply_packs(resolve_packs(["docs"], [tmp_path]), connection=None, mongo=mongo_db, context=context)
    assert (error.value.record, error.value.field) == ("third", "dedupe_key")
    assert "duplicate key dedupe_key=k1: also used by record 'first' in" in str(error.value)
    assert mongo_db.notifications.count_documents({}) == 0
    assert "notifications" in mongo_db.list_collection_names()  # it existed before: kept, with its index


@pytest.mark.mongo
def test_a_context_that_is_not_active_is_activated_for_the_load(engine: sa.Engine, mongo_db: Any) -> None:
    from seedkit.core.determinism import Deterministic
    from seedkit.isolation import clear_collections, truncate_tables

    packs = resolve_packs(["customers"], [REFERENCE_PACKS])
    with engine.connect() as conn:
        apply_packs(
            packs, connection=conn, mongo=mongo_db, context=Deterministic(1), factory_modules=DOMAIN_FACTORIES
        )
    loaded_inactive = state(engine, mongo_db)
    assert loaded_inactive[1]["pg:organizations"] > 0
    with engine.begin() as conn:
        truncate_tables(conn)
    clear_collections(mongo_db)
    with deterministic(1) as context, engine.connect() as conn:
        apply_packs(packs, connection=conn, mongo=mongo_db, context=context, factory_modules=DOMAIN_FACTORIES)
    assert state(engine, mongo_db) == loaded_inactive
