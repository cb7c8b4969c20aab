"""Pools of realistic values (names, cities, companies...) drawn once from Faker, then reused.

Generating a value with Faker costs 5-50 µs; picking one from a list with the seeded random
costs about 0.1 µs. A column of a million names does not need a million Faker calls: it needs
a few hundred distinct names, drawn in a realistic mix. :func:`pool` asks Faker (with its
weighting off: see docs/generate.md for the measurements behind this choice) for
:data:`POOL_SIZE` values of a kind in a locale, from a seed that depends only on the kind and
the locale, so every process builds the same pool; providers then index into it with the
seeded random of the partition they generate.
"""

from __future__ import annotations

import functools
import random

from faker import Faker

from seedkit.core.faker_order import stabilize

POOL_SIZE = 500
"""Values per pool: enough variety for realistic data, built in a few milliseconds."""

KINDS: dict[str, str] = {
    "first_name": "first_name",
    "last_name": "last_name",
    "city": "city",
    "country": "country",
    "country_code": "country_code",
    "company": "company",
    "street_address": "street_address",
    "postcode": "postcode",
    "state": "state",
    "word": "word",
    "job": "job",
    "domain": "free_email_domain",
    "currency_code": "currency_code",
    "color": "color_name",
    "language_code": "language_code",
    "timezone": "timezone",
    "catch_phrase": "catch_phrase",
    "phone": "phone_number",
}
"""Pool kinds and the Faker provider method that fills each."""


@functools.lru_cache(maxsize=256)
def pool(kind: str, locale: str = "en_US") -> tuple[str, ...]:
    """Up to :data:`POOL_SIZE` distinct values of ``kind`` (a key of :data:`KINDS`) in ``locale``.

    Deterministic: the same kind and locale give the same tuple in every process (for a given
    Faker version; data Faker builds from a set is sorted first: :mod:`seedkit.core.faker_order`).
    Raises KeyError for an unknown kind, AttributeError if the locale's Faker has no such provider.
    """
    fake = Faker(locale, use_weighting=False)
    stabilize(fake)  # Faker data built from a set is in another order in every process
    fake.seed_instance(f"seedkit-pool:{kind}:{locale}")
    method = getattr(fake, KINDS[kind])
    seen: dict[str, None] = {}
    for _ in range(POOL_SIZE * 3):
        seen[str(method())] = None
        if len(seen) >= POOL_SIZE:
            break
    values = sorted(seen)
    random.Random(f"{kind}:{locale}").shuffle(values)
    return tuple(values)
