"""Per-value cost of ``seedkit.values`` declarations next to the Faker declarations they replace.

    python -m benchmarks.values            # 20,000 values per case, best of 3
    python -m benchmarks.values --n 5000

Prints a Markdown table (docs/values.md quotes it): microseconds per value of

- **Faker**: the ``factory.Faker`` declaration, evaluated as factory_boy's builder does
  (``evaluate_pre``), inside ``seedkit.deterministic()`` (so with seedkit's faster
  paths, :mod:`seedkit.core.faker_paths`: what a seedkit factory gets);
- **values, one by one**: the ``seedkit.values`` declaration, evaluated the same way, one value
  per call (what a per-object build pays; the stream's blocks are made on the way, from a fresh
  context each round);
- **values, draw(n)**: the same values drawn in one batch (what a row path can pay);
- **mimesis**: the nearest seeded ``mimesis.Generic`` method, when mimesis is installed (it is
  not a dependency: ``pip install mimesis`` to include it).

Times are this process's CPU time (``time.process_time``), not the wall clock, so a loaded
machine (other processes on the same cores) changes them little. Only the declarations are
timed, not a factory around them (a factory_boy build costs tens of
microseconds per object whatever its declarations are).
"""

from __future__ import annotations

import argparse
import time
from collections import OrderedDict
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import factory

from seedkit import values
from seedkit.core.determinism import deterministic

Mimesis = tuple[str, Callable[[Any], Any]]
Case = tuple[str, Callable[[], Any], Callable[[], values.ValueDeclaration], Mimesis | None]


def _m(label: str, call: Callable[[Any], Any]) -> Mimesis:
    """A mimesis method (``label`` as shown), called on a seeded ``mimesis.Generic``."""
    return label, call


def _faker(provider: str, **kwargs: Any) -> Callable[[], Any]:
    return lambda: factory.Faker(provider, **kwargs)


def _faker_unique_email() -> Any:
    def unique_email() -> str:
        fake = factory.Faker._get_faker()
        return str(fake.unique.email())

    return factory.LazyFunction(unique_email)


WEIGHTS = OrderedDict([("member", 0.8), ("admin", 0.15), ("owner", 0.05)])

CASES: list[Case] = [
    (
        "first_name",
        _faker("first_name"),
        values.FirstName,
        _m("person.first_name()", lambda g: g.person.first_name()),
    ),
    (
        "last_name",
        _faker("last_name"),
        values.LastName,
        _m("person.last_name()", lambda g: g.person.last_name()),
    ),
    ("name", _faker("name"), values.Name, _m("person.full_name()", lambda g: g.person.full_name())),
    ("email", _faker("email"), values.Email, _m("person.email()", lambda g: g.person.email())),
    ("email, unique", _faker_unique_email, lambda: values.Email(unique=True), None),
    (
        "street_address",
        _faker("street_address"),
        values.StreetAddress,
        _m("address.address()", lambda g: g.address.address()),
    ),
    ("city", _faker("city"), values.City, _m("address.city()", lambda g: g.address.city())),
    (
        "postcode",
        _faker("postcode"),
        values.Postcode,
        _m("address.postal_code()", lambda g: g.address.postal_code()),
    ),
    ("country", _faker("country"), values.Country, _m("address.country()", lambda g: g.address.country())),
    ("address", _faker("address"), values.Address, None),
    ("company", _faker("company"), values.Company, _m("finance.company()", lambda g: g.finance.company())),
    ("catch_phrase", _faker("catch_phrase"), values.CatchPhrase, None),
    (
        "phone_number",
        _faker("phone_number"),
        values.PhoneNumber,
        _m("person.phone_number()", lambda g: g.person.phone_number()),
    ),
    ("sentence", _faker("sentence"), values.Sentence, _m("text.sentence()", lambda g: g.text.sentence())),
    ("paragraph", _faker("paragraph"), values.Paragraph, _m("text.text(3)", lambda g: g.text.text(3))),
    ("text", _faker("text"), values.Text, None),
    (
        "date_between -2y..today",
        _faker("date_between", start_date="-2y"),
        lambda: values.DateBetween("-2y"),
        None,
    ),
    (
        "date_time_between -2y..now",
        _faker("date_time_between", start_date="-2y", tzinfo=UTC),
        lambda: values.DateTimeBetween("-2y"),
        _m("datetime.datetime(2023, 2025)", lambda g: g.datetime.datetime(2023, 2025)),
    ),
    (
        "pydecimal 1..250",
        _faker("pydecimal", min_value=1, max_value=250, right_digits=2),
        lambda: values.PyDecimal(1, 250),
        None,
    ),
    (
        "pyint 1..5",
        _faker("pyint", min_value=1, max_value=5),
        lambda: values.PyInt(1, 5),
        _m("numeric.integer_number(1, 5)", lambda g: g.numeric.integer_number(1, 5)),
    ),
    (
        "random_element, weighted",
        _faker("random_element", elements=WEIGHTS),
        lambda: values.RandomElement(WEIGHTS),
        _m("choice(['member', 'admin', 'owner'])", lambda g: g.choice(["member", "admin", "owner"])),
    ),
    ("uuid4", _faker("uuid4"), values.Uuid4, _m("cryptographic.uuid()", lambda g: g.cryptographic.uuid())),
]


def _best(rounds: int, measure: Callable[..., float | None], *args: Any, **kwargs: Any) -> float | None:
    """The fastest of ``rounds`` measurements (seconds per value), or None when one cannot be made."""
    times = [measure(*args, **kwargs) for _ in range(rounds)]
    return None if None in times else min(t for t in times if t is not None)


def _time_declarations(make: Callable[[], Any], n: int, *, seedkit_stream: bool) -> float:
    """Seconds per value for ``n`` evaluations of one declaration, as factory_boy's builder evaluates it."""
    declaration = make()
    if seedkit_stream:
        declaration.stream_name = "Bench.field"
    with deterministic(seed=1, start=datetime(2025, 1, 1, tzinfo=UTC)):
        evaluate = declaration.evaluate_pre
        started = time.process_time()
        for _ in range(n):
            evaluate(instance=None, step=None, overrides={})
        return (time.process_time() - started) / n


def _time_draw(make: Callable[[], values.ValueDeclaration], n: int) -> float:
    declaration = make()
    declaration.stream_name = "Bench.field"
    with deterministic(seed=1, start=datetime(2025, 1, 1, tzinfo=UTC)):
        started = time.process_time()
        declaration.draw(n)
        return (time.process_time() - started) / n


def _time_mimesis(case: Mimesis, n: int) -> float | None:
    try:
        from mimesis import Generic, Locale
    except ImportError:
        return None
    generic = Generic(locale=Locale.EN, seed=1)
    call = case[1]
    started = time.process_time()
    for _ in range(n):
        call(generic)
    return (time.process_time() - started) / n


def run(n: int = 20_000, rounds: int = 3) -> list[dict[str, Any]]:
    """Per-value seconds for every case: ``faker``, ``one_by_one``, ``draw``, ``mimesis`` (None if absent)."""
    results = []
    for label, faker_declaration, values_declaration, mimesis_call in CASES:
        faker_n = min(n, 5_000) if label == "email, unique" else n  # Faker's unique retries grow with n
        mimesis = None if mimesis_call is None else _best(rounds, _time_mimesis, mimesis_call, n)
        results.append(
            {
                "case": label,
                "faker": _best(rounds, _time_declarations, faker_declaration, faker_n, seedkit_stream=False),
                "one_by_one": _best(rounds, _time_declarations, values_declaration, n, seedkit_stream=True),
                "draw": _best(rounds, _time_draw, values_declaration, n),
                "mimesis": mimesis,
                "mimesis_call": None if mimesis_call is None else mimesis_call[0],
            }
        )
    return results


def table(results: list[dict[str, Any]]) -> str:
    """The results as a Markdown table (µs per value; the ratio is Faker's time over one-by-one's)."""
    lines = [
        "| Faker provider | Faker | `seedkit.values`, one by one | faster | `draw(n)` | mimesis (seeded) |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for row in results:
        mimesis = (
            "" if row.get("mimesis") is None else f"{row['mimesis'] * 1e6:.2f} (`{row['mimesis_call']}`)"
        )
        lines.append(
            f"| {row['case']} | {row['faker'] * 1e6:.2f} | {row['one_by_one'] * 1e6:.2f} | "
            f"{row['faker'] / row['one_by_one']:.0f}x | {row['draw'] * 1e6:.2f} | {mimesis} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.values", description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=20_000, help="values per case and round")
    parser.add_argument("--rounds", type=int, default=3, help="rounds per case (the best is kept)")
    args = parser.parse_args(argv)
    values.Name().draw(1, factory=object, field="warm-up")  # builds the pools: not part of any case
    for case in CASES:
        case[2]().draw(1, factory=object, field="warm-up")
    print(table(run(args.n, args.rounds)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
