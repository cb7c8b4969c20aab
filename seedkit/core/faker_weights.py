"""Faker's weighted picks, with cumulative weights computed once per table instead of per call.

Faker's ``random_element`` over a weighted ``OrderedDict`` (first names, last names, name
formats...) copies the weights and accumulates them on every call, before drawing one number:
for ``en_US`` first names that is thousands of additions per name, most of the time
``fake.name()`` takes. :func:`install` replaces ``BaseProvider.random_elements`` with a version
that keeps the accumulated weights beside the table (where Faker already keeps its keys) and
passes them to ``random.choices(..., cum_weights=...)``: the same single draw from the same
generator, so the same value, byte for byte (``tests/test_faker_weights.py`` compares both
over every weighted table of several locales). Other calls go to Faker's own method.

Like Faker's own key cache, it assumes weight tables are not changed after their first use.
"""

from __future__ import annotations

from collections import OrderedDict
from itertools import accumulate
from typing import Any

from faker.providers import BaseProvider

_ORIGINAL = BaseProvider.random_elements
_CACHE = "_seedkit_cum_weights"


def _random_elements(
    self: BaseProvider,
    elements: Any = ("a", "b", "c"),
    length: int | None = None,
    unique: bool = False,
    use_weighting: bool | None = None,
) -> Any:
    if (
        length is not None
        and not unique
        and type(elements) is OrderedDict
        and (use_weighting if use_weighting is not None else self.__use_weighting__)
    ):
        cached = getattr(elements, _CACHE, None)
        if cached is None or len(cached[0]) != len(elements):
            keys = tuple(elements.keys())
            cached = (keys, list(accumulate(elements.values())))
            setattr(elements, _CACHE, cached)
        return self.generator.random.choices(cached[0], cum_weights=cached[1], k=length)
    return _ORIGINAL(self, elements, length, unique, use_weighting)


def install() -> None:
    """Use cached cumulative weights in every Faker provider (idempotent)."""
    BaseProvider.random_elements = _random_elements  # type: ignore[method-assign]


def uninstall() -> None:
    """Restore Faker's own ``random_elements``."""
    BaseProvider.random_elements = _ORIGINAL  # type: ignore[method-assign]
