"""Cost of ``factory.Faker`` values with and without seedkit's faster Faker paths.

    python -m benchmarks.faker_paths               # 5,000 values per case, mode and round, 5 rounds
    python -m benchmarks.faker_paths --n 2000 --rounds 3
    python -m benchmarks.faker_paths --frozen      # the clock frozen, as seeding runs

Prints two Markdown tables (docs/values.md quotes them):

- per provider, microseconds per value of the ``factory.Faker`` declaration evaluated as
  factory_boy's builder evaluates it (``evaluate_pre``, inside ``seedkit.deterministic()``),
  with **Faker**'s own code, with seedkit's cached weights only (**before**: what seedkit did
  before :mod:`seedkit.core.faker_paths` had its other paths) and with every path (**now**);
  the median and the range over the rounds of before/now;
- per path, the cases whose values call it (found with ``sys.setprofile``) and what one value
  of each of them costs with every path and with every path but this one: a path that does not
  pay shows about 1.00x.

Each round times every case in every mode, in a rotating order, in this one process. Times are
this process's CPU time (``time.process_time``), so other processes on a loaded machine change
them little. The values are the same in every mode (``tests/test_faker_paths.py``).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections import OrderedDict
from collections.abc import Collection
from datetime import UTC, datetime, timedelta
from typing import Any

import factory

from seedkit.core import faker_paths
from seedkit.core.determinism import deterministic

START = datetime(2025, 1, 1, tzinfo=UTC)
END = START + timedelta(days=30)
WEIGHTS = OrderedDict([("member", 0.8), ("admin", 0.15), ("owner", 0.05)])
NAMES = OrderedDict((f"name-{i}", 1.0 + i % 7) for i in range(700))  # as large as en_US first names

CASES: list[tuple[str, str, dict[str, Any]]] = [
    ("name", "name", {}),
    ("company", "company", {}),
    ("catch_phrase", "catch_phrase", {}),
    (
        "date_time_between, datetimes, UTC",
        "date_time_between",
        {"start_date": START, "end_date": END, "tzinfo": UTC},
    ),
    ("first_name", "first_name", {}),
    ("last_name", "last_name", {}),
    ("email", "email", {}),
    ("user_name", "user_name", {}),
    ("address", "address", {}),
    ("city", "city", {}),
    ("phone_number", "phone_number", {}),
    ("text", "text", {}),
    ("sentence", "sentence", {}),
    ("word", "word", {}),
    ("words", "words", {}),
    ("uuid4", "uuid4", {}),
    ("date_time_between -30d..now", "date_time_between", {"start_date": "-30d"}),
    ("date_between -2y..today", "date_between", {"start_date": "-2y"}),
    ("date_of_birth", "date_of_birth", {}),
    ("pyint", "pyint", {}),
    ("pydecimal 1..250", "pydecimal", {"min_value": 1, "max_value": 250, "right_digits": 2}),
    ("random_element, tuple", "random_element", {"elements": ("a", "b", "c")}),
    ("random_element, weighted", "random_element", {"elements": WEIGHTS}),
    ("random_elements, 2 of a tuple", "random_elements", {"elements": ("a", "b", "c"), "length": 2}),
    ("random_elements, 3 of 700 weighted", "random_elements", {"elements": NAMES, "length": 3}),
    ("bothify", "bothify", {"text": "??-####"}),
]
COMPILED_NAME = "name, as the compiled row path asks (`_get_faker(locale).format`)"
"""One more case: seedkit's compiled row path calls the Faker proxy's format, not the declaration."""

MODES: dict[str, Collection[str] | None] = {
    "faker": (),  # nothing replaced
    "before": ("faker.providers.BaseProvider.random_elements",),  # cached weights only
    "now": None,  # every path
}


def _time(declaration: Any, n: int) -> float:
    """Seconds per value for ``n`` evaluations, as factory_boy's builder evaluates a declaration."""
    evaluate = declaration.evaluate_pre
    started = time.process_time()
    for _ in range(n):
        evaluate(instance=None, step=None, overrides={})
    return (time.process_time() - started) / n


def _measure(declarations: list[Any], paths: Collection[str] | None, n: int) -> list[float]:
    """Seconds per value of each declaration with only ``paths`` installed (None: all, empty: none)."""
    if paths is not None and not paths:
        faker_paths.uninstall()
    else:
        faker_paths.install(paths)
    return [_time(declaration, n) for declaration in declarations]


def _touched(declarations: list[Any]) -> dict[str, list[int]]:
    """For each path, the cases whose values call it (found with ``sys.setprofile``, all installed)."""
    codes = {}
    for name, (_, _, _, fast) in zip(faker_paths.PATHS, faker_paths._PATCHES, strict=True):
        codes[(fast.__func__ if isinstance(fast, classmethod) else fast).__code__] = name
    touched: dict[str, list[int]] = {name: [] for name in codes.values()}
    faker_paths.install()
    for i, declaration in enumerate(declarations):
        seen: set[str] = set()

        def profile(frame: Any, event: str, arg: Any, seen: set[str] = seen) -> None:
            if event == "call" and frame.f_code in codes:
                seen.add(codes[frame.f_code])

        sys.setprofile(profile)
        try:
            for _ in range(20):
                declaration.evaluate_pre(instance=None, step=None, overrides={})
        finally:
            sys.setprofile(None)
        for name in seen:
            touched[name].append(i)
    return touched


def run(n: int = 5_000, rounds: int = 5, frozen: bool = False) -> dict[str, Any]:
    """Per-case seconds per value in each mode and round, and each path's worth on the cases it runs in.

    ``frozen``: with the context's clock frozen (freezegun), as seeding runs (``seedkit seed``,
    partitions): Faker's dates are then freezegun's ``FakeDatetime``, whose arithmetic is Python code.
    """
    factory.Faker._get_faker()  # made before any path is installed, as a host's would be
    declarations = [factory.Faker(provider, **kwargs) for _, provider, kwargs in CASES]
    get_faker = factory.Faker._get_faker
    declarations.append(factory.LazyFunction(lambda: get_faker(None).format("name")))
    names = list(faker_paths.PATHS)
    per_mode: dict[str, list[list[float]]] = {mode: [] for mode in MODES}
    paths: dict[str, dict[str, list[float]]] = {name: {"with": [], "without": []} for name in names}
    with deterministic(seed=1, start=START, freeze=frozen):
        touched = _touched(declarations)
        for round_ in range(rounds):
            modes = list(MODES)
            modes = modes[round_ % len(modes) :] + modes[: round_ % len(modes)]
            for mode in modes:
                per_mode[mode].append(_measure(declarations, MODES[mode], n))
            for name in names:
                cases = [declarations[i] for i in touched[name]]
                others = [m for m in names if m != name]
                order = ("with", "without") if round_ % 2 else ("without", "with")
                for key in order:
                    paths[name][key].append(sum(_measure(cases, None if key == "with" else others, n)))
    labels = {name: list(touched[name]) for name in names}
    return {"per_mode": per_mode, "paths": paths, "touched": labels, "n": n, "rounds": rounds}


def tables(results: dict[str, Any]) -> str:
    """The results as two Markdown tables (µs per value; ratios per round, then median and range)."""
    per_mode = results["per_mode"]
    lines = [
        "| `factory.Faker` provider | Faker | before | now | before / now, median (range) |",
        "|---|---:|---:|---:|---:|",
    ]
    totals = {mode: 0.0 for mode in per_mode}
    for i, label in enumerate([*(case[0] for case in CASES), COMPILED_NAME]):
        medians = {mode: statistics.median(r[i] for r in per_mode[mode]) for mode in per_mode}
        for mode in totals:
            totals[mode] += medians[mode]
        ratios = [before[i] / now[i] for before, now in zip(per_mode["before"], per_mode["now"], strict=True)]
        lines.append(
            f"| {label} | {medians['faker'] * 1e6:.2f} | {medians['before'] * 1e6:.2f} | "
            f"{medians['now'] * 1e6:.2f} | {statistics.median(ratios):.2f}x "
            f"({min(ratios):.2f}-{max(ratios):.2f}) |"
        )
    total_ratios = [sum(b) / sum(a) for b, a in zip(per_mode["before"], per_mode["now"], strict=True)]
    lines.append(
        f"| **all of the above** | {totals['faker'] * 1e6:.2f} | {totals['before'] * 1e6:.2f} | "
        f"{totals['now'] * 1e6:.2f} | {statistics.median(total_ratios):.2f}x "
        f"({min(total_ratios):.2f}-{max(total_ratios):.2f}) |"
    )
    lines += [
        "",
        "| path | cases it runs in | µs with it | µs without it | without / with, median (range) |",
        "|---|---:|---:|---:|---:|",
    ]
    for name, times in results["paths"].items():
        if not results["touched"][name]:
            lines.append(f"| `{name}` | 0 | | | |")
            continue
        ratios = [o / w for w, o in zip(times["with"], times["without"], strict=True)]
        lines.append(
            f"| `{name}` | {len(results['touched'][name])} | {statistics.median(times['with']) * 1e6:.2f} | "
            f"{statistics.median(times['without']) * 1e6:.2f} | {statistics.median(ratios):.2f}x "
            f"({min(ratios):.2f}-{max(ratios):.2f}) |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.faker_paths", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--n", type=int, default=5_000, help="values per case, mode and round")
    parser.add_argument("--rounds", type=int, default=5, help="rounds (every mode in each)")
    parser.add_argument("--frozen", action="store_true", help="freeze the clock, as seeding does")
    args = parser.parse_args(argv)
    print(tables(run(args.n, args.rounds, args.frozen)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
