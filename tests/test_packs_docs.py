"""The examples of docs/packs.md: its pack files load as described, its error and API examples hold."""

from __future__ import annotations

import re
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from test_packs_support import DOMAIN_FACTORIES

from seedkit.core.clock import parse_instant
from seedkit.core.determinism import deterministic
from seedkit.core.ids import label_uuid
from seedkit.packs import apply_packs, resolve_packs, validate_packs

DOC = Path(__file__).resolve().parent.parent / "docs" / "packs.md"
BLOCK = re.compile(r"^```(?P<lang>\w+)(?P<info>[^\n]*)\n(?P<body>.*?)^```$", re.M | re.S)
START = parse_instant("2025-01-01T00:00:00Z")


def blocks() -> list[tuple[str, dict[str, str], str]]:
    found = []
    for match in BLOCK.finditer(DOC.read_text()):
        info = dict(part.split("=", 1) for part in match["info"].split() if "=" in part)
        found.append((match["lang"], info, match["body"]))
    return found


@pytest.fixture
def doc_packs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The ``file=...`` blocks written under a directory, which is also the working directory."""
    written = 0
    for _, info, body in blocks():
        if "file" in info:
            target = tmp_path / info["file"]
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(body)
            written += 1
    assert written >= 8
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.mark.mongo
def test_the_shop_example_loads_as_described(doc_packs: Path, engine: sa.Engine, mongo_db: Any) -> None:
    packs = resolve_packs(["shop"], [doc_packs])
    assert validate_packs(packs, factory_modules=DOMAIN_FACTORIES) == []
    with deterministic(5, start=START) as context, engine.connect() as conn:
        counts = apply_packs(
            packs, connection=conn, mongo=mongo_db, context=context, factory_modules=DOMAIN_FACTORIES
        )
    assert counts == {
        "pg:organizations": 1, "pg:users": 1, "pg:products": 1, "pg:orders": 1, "mongo:audit_events": 1,
    }  # fmt: skip
    acme, dora = label_uuid("organizations", "acme"), label_uuid("users", "dora")
    with engine.connect() as conn:
        org = conn.execute(sa.text("SELECT * FROM organizations")).one()
        user = conn.execute(sa.text("SELECT * FROM users")).one()
        product = conn.execute(sa.text("SELECT * FROM products")).one()
        order = conn.execute(sa.text("SELECT * FROM orders")).one()
    assert org.id == acme and org.created_at == START - timedelta(days=30)
    assert (user.id, user.organization_id) == (dora, acme)
    # Left out: the clock's time, ticking by its step (1s) per record, in insertion order.
    assert (product.created_at, user.created_at) == (START, START + timedelta(seconds=1))
    assert product.organization_id == acme and product.price == Decimal("34.50")
    assert order.id == label_uuid("orders", "first") and order.user_id == dora
    assert order.currency == "EUR" and order.status == "pending"  # filled by OrderFactory
    (event,) = mongo_db.audit_events.find()
    assert event["actor_user_id"] == str(dora) and event["subject"] == {"type": "user", "id": str(dora)}
    assert event["occurred_at"].replace(tzinfo=None) == (START - timedelta(hours=1)).replace(tzinfo=None)


def test_the_error_example_is_what_validation_reports(doc_packs: Path) -> None:
    ((_, _, expected),) = [
        (lang, info, body) for lang, info, body in blocks() if info.get("error") == "broken"
    ]
    problems = validate_packs(resolve_packs(["broken"], [doc_packs]), factory_modules=DOMAIN_FACTORIES)
    assert [str(problem) for problem in problems] == [expected.strip()]


@pytest.mark.mongo
def test_the_python_api_example_runs(engine: sa.Engine, mongo_db: Any) -> None:
    examples = [body for lang, _, body in blocks() if lang == "python"]
    assert examples
    for body in examples:
        exec(compile(body, str(DOC), "exec"), {"engine": engine, "mongo_db": mongo_db})
    assert mongo_db.audit_events.count_documents({}) == 2
