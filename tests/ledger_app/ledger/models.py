"""The ledger's models: customers in ``public``, accounts and invoices in ``billing``."""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal

import sqlalchemy as sa
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship


class Base(DeclarativeBase):
    pass


class Role(Base):
    """Filled by a data migration (admin, member)."""

    __tablename__ = "roles"
    id: Mapped[int] = mapped_column(sa.Integer, primary_key=True)  # serial
    name: Mapped[str] = mapped_column(sa.String(50), unique=True)


class Setting(Base):
    """State the application keeps itself (kept through resets: keep_tables)."""

    __tablename__ = "settings"
    name: Mapped[str] = mapped_column(sa.String(50), primary_key=True)
    value: Mapped[str] = mapped_column(sa.Text)


class Customer(Base):
    __tablename__ = "customers"
    id: Mapped[int] = mapped_column(sa.Integer, primary_key=True)  # serial
    name: Mapped[str] = mapped_column(sa.String(100))
    role_id: Mapped[int] = mapped_column(sa.ForeignKey("roles.id"))
    public_id: Mapped[uuid.UUID] = mapped_column(sa.Uuid, default=uuid.uuid4)  # a Python random default
    created_at: Mapped[dt.datetime] = mapped_column(sa.DateTime(timezone=True), server_default=sa.func.now())


class Account(Base):
    __tablename__ = "accounts"
    __table_args__ = {"schema": "billing"}
    id: Mapped[int] = mapped_column(sa.Integer, sa.Identity(always=True), primary_key=True)
    customer_id: Mapped[int] = mapped_column(sa.ForeignKey("customers.id"))
    opened_at: Mapped[dt.datetime] = mapped_column(
        sa.DateTime(timezone=False), server_default=sa.text("CURRENT_TIMESTAMP")
    )
    token: Mapped[uuid.UUID] = mapped_column(sa.Uuid, server_default=sa.text("gen_random_uuid()"))
    customer: Mapped[Customer] = relationship()


class Invoice(Base):
    __tablename__ = "invoices"
    __table_args__ = {"schema": "billing", "postgresql_partition_by": "RANGE (issued)"}
    id: Mapped[int] = mapped_column(sa.BigInteger, primary_key=True, autoincrement=False)
    issued: Mapped[dt.date] = mapped_column(sa.Date, primary_key=True)
    account_id: Mapped[int] = mapped_column(sa.ForeignKey("billing.accounts.id"))
    amount: Mapped[Decimal] = mapped_column(sa.Numeric(10, 2))
    account: Mapped[Account] = relationship()
