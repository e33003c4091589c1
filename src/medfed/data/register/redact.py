"""Finding original identifiers in text a registration writes, fast enough for big folders.

Text is cut into tokens twice: runs of ``[A-Za-z0-9_.^-]`` (whole IDs, UIDs, ``Family^Given``
names) and runs of ``[A-Za-z0-9_]`` (the words of a path or a sentence; a JSON key such as
``burned_in_excluded`` stays one word). An identifier matches a token exactly, so a short given name never
matches inside an ordinary word, and a check is a few set lookups whatever the folder size.
A source path is also checked for its own file's identifiers anywhere inside it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from medfed.data.deid import Identifiers

_TOKEN = re.compile(r"[A-Za-z0-9_.^\-]+")
_WORD = re.compile(r"[A-Za-z0-9]+")  # the parts of a name
_TEXT_WORD = re.compile(r"[A-Za-z0-9_]+")  # JSON keys (burned_in_excluded) stay whole
# Shorter names and IDs match too much by accident (a sex code, "CT").
MIN_LENGTH = 3


def tokens(text: str) -> set[str]:
    """Every token and word of ``text``, upper-cased."""
    return {t.upper() for t in _TOKEN.findall(text)} | {w.upper() for w in _TEXT_WORD.findall(text)}


class Redactor:
    """The identifiers of a folder, indexed for token lookups."""

    def __init__(self, originals: Identifiers, own: Mapping[str, Identifiers] | None = None) -> None:
        names = {n.upper() for n in originals.names}
        names |= {w.upper() for n in originals.names for w in _WORD.findall(n)}
        self._kinds = {
            "name": {n for n in names if len(n) >= MIN_LENGTH},
            "id": {i.upper() for i in originals.ids if len(i) >= MIN_LENGTH},
            "uid": {u.upper() for u in originals.uids},
            "date": {d for _, d in originals.dates},
        }
        self._own = own or {}

    def kinds_in(self, text: str) -> list[str]:
        """Which kinds of identifier (name, id, uid, date) occur in ``text`` as tokens."""
        found = tokens(text)
        return [kind for kind, values in self._kinds.items() if not values.isdisjoint(found)]

    def name(self, source: str, sha256: str) -> str:
        """``source`` as a record may show it: itself, or ``redacted-<hash>`` if it names anyone."""
        own = self._own.get(source)
        if self.kinds_in(source) or (own is not None and own.found_in(source)):
            return f"redacted-{sha256[:12]}"
        return source
