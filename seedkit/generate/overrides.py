"""Column overrides written in configuration (TOML), turned into providers.

In a profile, a table volume may override columns::

    volumes = [
      { table = "teams", count = 2_000 },
      { table = "users", count = 10_000, columns = {
          team_id = { per_parent = "3-5" },            # 3 to 5 users per team
          # challenge_id = { existing = true },        # only rows there before (a pack's challenges)
          status = { choice = ["active", "invited"], weights = [9, 1] },
          country_code = "NL",                          # a constant
          score = { range = [0, 100] },                 # whole numbers (decimals if a bound has a dot)
          nickname = { faker = "user_name" },           # a pool of Faker's values
          code = { pattern = "^[A-Z]{3}-[0-9]{4}$" },   # a regular expression
      } },
    ]

:func:`from_config` checks the shape (one readable line naming where, otherwise); the plan
then checks the column exists and the values fit its type.
"""

from __future__ import annotations

import functools
from decimal import Decimal
from typing import Any

from faker import Faker

from seedkit.errors import ConfigError
from seedkit.generate.plan import Existing, PerParent
from seedkit.generate.providers import Choice, Decimals, Integers, Pattern

FORMS = ("choice", "weights", "per_parent", "existing", "range", "faker", "pattern", "locale")


def from_config(column: str, value: Any, where: str) -> Any:
    """The override for ``column`` written as ``value`` in a configuration file (see the module docstring)."""
    at = f"{where}: columns.{column}"
    if not isinstance(value, dict):
        return value  # a constant or a list of choices: checked against the column by the plan
    unknown = sorted(set(value) - set(FORMS))
    if unknown or not value:
        raise ConfigError(
            f"{at}: unknown key(s) {', '.join(unknown) or '(none given)'}; use one of {', '.join(FORMS)}"
        )
    if "existing" in value:
        if value["existing"] is not True or len(value) > 1:
            raise ConfigError(
                f"{at}: existing = true stands alone (refer only to rows there before generation)"
            )
        return Existing()
    if "per_parent" in value:
        try:
            return PerParent.parse(value["per_parent"])
        except ValueError as exc:
            raise ConfigError(f"{at}: per_parent {exc}") from None
    if "choice" in value:
        options = value["choice"]
        weights = value.get("weights")
        if not isinstance(options, list) or not options:
            raise ConfigError(f"{at}: choice needs a non-empty list")
        if weights is not None and (
            not isinstance(weights, list)
            or len(weights) != len(options)
            or not all(isinstance(w, int | float) and not isinstance(w, bool) and w >= 0 for w in weights)
        ):
            raise ConfigError(f"{at}: weights needs one number >= 0 per choice ({len(options)})")
        return options if weights is None else Choice(tuple(options), tuple(weights))
    if "range" in value:
        bounds = value["range"]
        if (
            not isinstance(bounds, list)
            or len(bounds) != 2
            or not all(isinstance(b, int | float) and not isinstance(b, bool) for b in bounds)
            or bounds[0] > bounds[1]
        ):
            raise ConfigError(f"{at}: range needs [low, high] with low <= high")
        if all(isinstance(b, int) for b in bounds):
            return Integers(int(bounds[0]), int(bounds[1]))
        return Decimals(Decimal(str(bounds[0])), Decimal(str(bounds[1])), 2)
    if "faker" in value:
        method = value["faker"]
        locale = value.get("locale", "en_US")
        try:
            options = faker_pool(str(method), str(locale))
        except AttributeError:
            raise ConfigError(f"{at}: Faker has no provider {method!r}") from None
        return Choice(options, label=f"faker {method} ({locale}, pool)")
    if "pattern" in value:
        return Pattern(str(value["pattern"]))
    raise ConfigError(f"{at}: give one of choice, per_parent, range, faker, pattern")


@functools.lru_cache(maxsize=64)
def faker_pool(method: str, locale: str = "en_US", size: int = 500) -> tuple[Any, ...]:
    """``size`` values of Faker's ``method`` in ``locale`` (weighting off, fixed seed): the same in every process."""
    fake = Faker(locale, use_weighting=False)
    fake.seed_instance(f"seedkit-faker:{method}:{locale}")
    make = getattr(fake, method)
    return tuple(make() for _ in range(size))
