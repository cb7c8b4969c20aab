"""The ledger's factories; ``LeakyCustomerFactory`` reads the OS's randomness on purpose."""

from __future__ import annotations

import datetime as dt
import uuid

import factory

import seedkit
from ledger.models import Account, Customer, Invoice


class CustomerFactory(seedkit.SQLAlchemyFactory):
    class Meta:
        model = Customer

    name = factory.Faker("company")
    role_id = 2  # "member", written by the data migration


class AccountFactory(seedkit.SQLAlchemyFactory):
    class Meta:
        model = Account

    customer = factory.SubFactory(CustomerFactory)


class InvoiceFactory(seedkit.SQLAlchemyFactory):
    class Meta:
        model = Invoice

    id = factory.Sequence(lambda n: n + 1)
    issued = factory.LazyFunction(lambda: seedkit.clock().now().date() + dt.timedelta(days=200))
    account = factory.SubFactory(AccountFactory)
    amount = factory.Faker("pydecimal", left_digits=3, right_digits=2, positive=True)


class LeakyCustomerFactory(CustomerFactory):
    public_id = factory.LazyFunction(uuid.uuid4)  # not the injected IDs: fingerprint --check names it
