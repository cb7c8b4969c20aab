"""Factories whose declarations read "today": Faker's relative dates, ``factory.fuzzy`` ranges
that end now, ``date.today()`` and ``datetime.now()`` in a ``LazyFunction``. Seeding runs them
under the injected clock (freezegun), so they give the same data on any day."""

from __future__ import annotations

import datetime as dt

import factory
import factory.fuzzy

from ledger.factories import AccountFactory, CustomerFactory, InvoiceFactory


class DatedCustomerFactory(CustomerFactory):
    class Params:
        joined = factory.Faker("past_date", start_date="-90d")

    name = factory.LazyAttribute(
        lambda o: f"joined {o.joined.isoformat()}, listed {dt.date.today().isoformat()}"
    )
    created_at = factory.Faker("date_time_this_year", tzinfo=dt.UTC)


class DatedAccountFactory(AccountFactory):
    customer = factory.SubFactory(DatedCustomerFactory)
    opened_at = factory.fuzzy.FuzzyNaiveDateTime(dt.datetime(2025, 1, 1))  # ends at datetime.now()


class DatedInvoiceFactory(InvoiceFactory):
    issued = factory.Faker("date_between", start_date="-30d", end_date="today")
    account = factory.SubFactory(DatedAccountFactory)


class FuzzyInvoiceFactory(DatedInvoiceFactory):
    issued = factory.fuzzy.FuzzyDate(dt.date(2025, 5, 1))  # ends at date.today()


class StampedAccountFactory(AccountFactory):
    customer = factory.SubFactory(DatedCustomerFactory)
    opened_at = factory.LazyFunction(dt.datetime.now)
