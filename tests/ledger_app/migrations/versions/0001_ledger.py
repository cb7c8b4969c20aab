"""The ledger schema, and the roles every installation has (a data migration)."""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None


def upgrade() -> None:
    op.execute("CREATE SCHEMA billing")
    roles = op.create_table(
        "roles",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("name", sa.String(50), nullable=False, unique=True),
    )
    op.create_table(
        "settings",
        sa.Column("name", sa.String(50), primary_key=True),
        sa.Column("value", sa.Text, nullable=False),
    )
    op.create_table(
        "customers",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("role_id", sa.Integer, sa.ForeignKey("roles.id"), nullable=False),
        sa.Column("public_id", sa.Uuid, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
    )
    op.create_table(
        "accounts",
        sa.Column("id", sa.Integer, sa.Identity(always=True), primary_key=True),
        sa.Column("customer_id", sa.Integer, sa.ForeignKey("customers.id"), nullable=False),
        sa.Column("opened_at", sa.DateTime, server_default=sa.text("CURRENT_TIMESTAMP"), nullable=False),
        sa.Column("token", sa.Uuid, server_default=sa.text("gen_random_uuid()"), nullable=False),
        schema="billing",
    )
    op.create_table(
        "invoices",
        sa.Column("id", sa.BigInteger, nullable=False),
        sa.Column("issued", sa.Date, nullable=False),
        sa.Column("account_id", sa.Integer, sa.ForeignKey("billing.accounts.id"), nullable=False),
        sa.Column("amount", sa.Numeric(10, 2), nullable=False),
        sa.PrimaryKeyConstraint("id", "issued"),
        schema="billing",
        postgresql_partition_by="RANGE (issued)",
    )
    for year in (2025, 2026):
        op.execute(
            f"CREATE TABLE billing.invoices_{year} PARTITION OF billing.invoices "
            f"FOR VALUES FROM ('{year}-01-01') TO ('{year + 1}-01-01')"
        )
    op.bulk_insert(roles, [{"name": "admin"}, {"name": "member"}])  # ids 1 and 2 from the sequence
