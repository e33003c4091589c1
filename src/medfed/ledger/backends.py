"""``open_store(url)``: pick a :class:`LedgerStore` backend from a configuration string."""

from __future__ import annotations

import importlib.util
from pathlib import Path

from medfed.errors import ConfigError
from medfed.ledger.memory import InMemoryLedgerStore
from medfed.ledger.sqlite import SqliteLedgerStore
from medfed.ledger.store import LedgerStore


def open_store(url: str | Path) -> LedgerStore:
    """A ledger store for ``url``.

    * ``"memory:"`` — :class:`InMemoryLedgerStore`;
    * ``"sqlite:///relative/path"``, ``"sqlite:////absolute/path"``, ``"sqlite:///:memory:"``
      or a plain file path — :class:`SqliteLedgerStore`;
    * ``"postgresql://..."`` — not provided by this version: ConfigError (with the package to
      install when ``psycopg`` is absent).

    Anything else is a ConfigError naming the accepted forms.
    """
    if isinstance(url, Path):
        return SqliteLedgerStore(url)
    if url == "memory:":
        return InMemoryLedgerStore()
    if url.startswith("sqlite:///"):
        path = url.removeprefix("sqlite:///")
        if not path:
            raise ConfigError("sqlite URL has no path: use sqlite:///path/to/ledger.sqlite")
        return SqliteLedgerStore(path)
    scheme = url.split("://", 1)[0] if "://" in url else ""
    if scheme in ("postgresql", "postgres"):
        if importlib.util.find_spec("psycopg") is None:
            raise ConfigError(
                "a PostgreSQL ledger store needs the psycopg package: "
                "pip install 'psycopg[binary]' (or use memory: or sqlite:///path)"
            )
        raise ConfigError("this medfed has no PostgreSQL ledger backend yet; use sqlite:///path")
    if scheme:
        raise ConfigError(
            f"unknown ledger store URL scheme {scheme!r}: use memory:, sqlite:///path, "
            "a file path, or postgresql://..."
        )
    if not url:
        raise ConfigError("empty ledger store URL: use memory:, sqlite:///path or a file path")
    return SqliteLedgerStore(url)
