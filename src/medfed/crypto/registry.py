"""Suite lookup by name (kept apart from the package root so submodules can import it)."""

from __future__ import annotations

from medfed.crypto.suite import Suite
from medfed.errors import ConfigError

SUITE_NAMES = ("gm", "intl")


def get_suite(name: str) -> Suite:
    """The suite called ``name`` ("gm" or "intl"); ConfigError for any other name."""
    if name == "intl":
        from medfed.crypto.intl import IntlSuite

        return IntlSuite()
    if name == "gm":
        from medfed.crypto.gm import GmSuite

        return GmSuite()
    raise ConfigError(f"unknown crypto suite {name!r}; choose one of {', '.join(SUITE_NAMES)}")
