"""The ```python examples of the README and the factory, determinism and migration docs run as written.

The blocks of one document run in order in one namespace; each block gets a fresh database
at the reference schema as ``engine`` and a fresh Mongo database as ``mongo_db``.
"""

from __future__ import annotations

import re
import sys
import types
import uuid
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from conftest import connect_test_mongo, create_database, drop_database

DOCS = Path(__file__).resolve().parent.parent / "docs"
BLOCK = re.compile(r"^```python\n(.*?)^```", re.S | re.M)


@pytest.mark.mongo
@pytest.mark.parametrize(
    ("document", "minimum_blocks"),
    [
        ("determinism.md", 4),
        ("factories.md", 4),
        ("migrating-from-factory-boy.md", 1),
        ("../README.md", 1),
        ("async.md", 2),
        ("values.md", 3),
    ],
)
def test_examples_run(
    document: str, minimum_blocks: int, pg_server_url: str, reference_template: str
) -> None:
    blocks = BLOCK.findall((DOCS / document).read_text())
    assert len(blocks) >= minimum_blocks
    # A registered module, like a reader's code (freezegun patches `datetime` in sys.modules).
    module = types.ModuleType(f"docs_{Path(document).stem}")
    sys.modules[module.__name__] = module
    namespace: dict[str, Any] = module.__dict__
    try:
        for number, code in enumerate(blocks, start=1):
            name = f"test_{uuid.uuid4().hex[:12]}"
            engine = sa.create_engine(create_database(pg_server_url, name, template=reference_template))
            mongo_db = connect_test_mongo(name)
            namespace.update(engine=engine, mongo_db=mongo_db)
            try:
                exec(compile(code, f"docs/{document} (python block {number})", "exec"), namespace)
            finally:
                engine.dispose()
                drop_database(pg_server_url, name)
                mongo_db.client.drop_database(name)
    finally:
        del sys.modules[module.__name__]
