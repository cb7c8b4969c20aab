"""What a generation plan will do, as data: what ``seedkit plan`` prints (and ``--json`` gives).

:func:`explain` lists the tables in insert order with, per column, its type and the provider
chosen and why; the foreign-key cycles and how each is broken; and what is not generated
(columns left to the database, generated columns, nullable columns of a type seedkit cannot
make, which stay NULL).
"""

from __future__ import annotations

from typing import Any

from seedkit.generate.plan import GenerationPlan


def explain(plan: GenerationPlan) -> dict[str, Any]:
    """``{"tables": [...], "cycles": [...], "not_generated": [...]}`` for ``plan`` (JSON-able)."""
    tables = []
    not_generated = []
    for table_plan in plan.tables:
        table = table_plan.table
        by_column = {c: step for step in table_plan.steps for c in step.columns}
        columns = []
        for name, column in table.columns.items():
            step = by_column.get(name)
            if step is not None:
                how, why = step.provider.describe(), step.source
            elif column.generated:
                how, why = "computed by the database (GENERATED ALWAYS AS)", "generated column"
            elif name in table_plan.left_to_database:
                how, why = f"the column's default ({column.default or 'identity'})", "left to the database"
            else:
                how, why = "NULL", f"type {column.type.name} cannot be generated"
            columns.append({"column": name, "type": column.type.name, "generator": how, "why": why})
            if step is None:
                not_generated.append({"table": table_plan.name, "column": name, "what": f"{how} ({why})"})
        tables.append({"table": table_plan.name, "count": table_plan.count, "columns": columns})
    cycles = [
        {
            "table": breaker.table,
            "foreign_key": breaker.foreign_key.name,
            "columns": list(breaker.foreign_key.columns),
            "references": breaker.foreign_key.referred_table,
            "broken_by": (
                "inserted NULL, set by UPDATE once the referenced rows exist"
                if breaker.how == "null"
                else "a placeholder with the constraint DEFERRED, set by UPDATE before commit"
            ),
        }
        for breaker in plan.breakers
    ]
    return {"seed": plan.seed, "tables": tables, "cycles": cycles, "not_generated": not_generated}
