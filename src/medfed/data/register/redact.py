"""Finding original identifiers in text a registration writes, fast enough for big folders.

Text is cut into tokens twice: runs of ``[A-Za-z0-9_.^-]`` (whole IDs, UIDs, ``Family^Given``
names) and runs of ``[A-Za-z0-9_]`` (the words of a path or a sentence; a JSON key such as
``burned_in_excluded`` stays one word). An identifier matches a token exactly, so a short given name never
matches inside an ordinary word, and a check is a few set lookups whatever the folder size.

A source path is checked harder, since a hospital folder is often named after the patient
(``Doe_John/``, ``MRN12345_report.pdf``): it is also cut at underscores, names written in
other scripts (which have no word breaks) are searched for inside it, and it is checked for
its own file's identifiers anywhere inside it; the path of a file whose identifiers could
not be read is shown only as its hash, since nothing can vouch for it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

from medfed.data.deid import Identifiers

_TOKEN = re.compile(r"[A-Za-z0-9_.^\-]+")
_WORD = re.compile(r"[A-Za-z0-9]+")  # the parts of a name
_TEXT_WORD = re.compile(r"[A-Za-z0-9_]+")  # JSON keys (burned_in_excluded) stay whole
# Shorter names and IDs match too much by accident (a sex code, "CT").
MIN_LENGTH = 3
WITHHELD = "detail withheld: it names a patient"


def tokens(text: str) -> set[str]:
    """Every token and word of ``text``, upper-cased."""
    return {t.upper() for t in _TOKEN.findall(text)} | {w.upper() for w in _TEXT_WORD.findall(text)}


def words_with_letters(texts: Iterable[str]) -> frozenset[str]:
    """Every token and word of ``texts`` (upper-cased) that holds a letter: numbers, dates and
    UIDs are never vocabulary."""
    found: set[str] = set()
    for text in texts:
        found |= tokens(text)
    return frozenset(t for t in found if any(c.isalpha() for c in t))


def _is_uid_like(uid: str) -> bool:
    # A value such as "0" or "1.5" in a UI element is no instance UID and would match every
    # count or number a registration writes, refusing it for nothing.
    if len(uid) < MIN_LENGTH or "." not in uid:
        return False
    try:
        float(uid)
    except ValueError:
        return True
    return False


class Redactor:
    """The identifiers of a folder, indexed for token lookups."""

    def __init__(
        self,
        originals: Identifiers,
        own: Mapping[str, Identifiers] | None = None,
        *,
        unread_redacted: bool = False,
    ) -> None:
        names = {n.upper() for n in originals.names}
        names |= {w.upper() for n in originals.names for w in _WORD.findall(n)}
        self._kinds = {
            "name": {n for n in names if len(n) >= MIN_LENGTH},
            "id": {i.upper() for i in originals.ids if len(i) >= MIN_LENGTH},
            "uid": {u.upper() for u in originals.uids if _is_uid_like(u)},
            "date": {d for _, d in originals.dates},
        }
        # Names and IDs in scripts without ASCII word breaks (山田太郎) are searched as substrings.
        self._unbroken = tuple(
            s.upper() for s in originals.names | originals.ids if not s.isascii() and s.strip()
        )
        self._words = frozenset(self._kinds["name"] | self._kinds["id"])
        self._own = own or {}
        # A file whose identifiers could not be read (not DICOM, unreadable) may be named after
        # a patient nobody else in the folder names: its path cannot be vouched for.
        self._unread_redacted = unread_redacted

    def kinds_in(self, text: str, *, vocabulary: frozenset[str] = frozenset()) -> list[str]:
        """Which kinds of identifier (name, id, uid, date) occur in ``text`` as tokens.

        Tokens in ``vocabulary`` (upper-cased) do not count: words the product writes whatever
        the images hold, such as a class named "normal", tell nothing about a patient of that
        name. A whole name (``Normal^Jane``) or any other part of it still counts.
        """
        found = tokens(text) - vocabulary
        return [kind for kind, values in self._kinds.items() if not values.isdisjoint(found)]

    def names_anyone(self, text: str) -> bool:
        """Whether free text from the source (a path, an error message) holds an identifier."""
        if self.kinds_in(text):
            return True
        if not {w.upper() for w in _WORD.findall(text)}.isdisjoint(self._words):
            return True
        upper = text.upper()
        return any(s in upper for s in self._unbroken)

    def name(self, source: str, sha256: str) -> str:
        """``source`` as a record may show it: itself, or ``redacted-<hash>`` if it names anyone."""
        own = self._own.get(source)
        if own is None and self._unread_redacted:
            return f"redacted-{sha256[:12]}"
        if self.names_anyone(source) or (own is not None and own.found_in(source)):
            return f"redacted-{sha256[:12]}"
        return source

    def detail(self, text: str) -> str:
        """A reader's message as a record may show it: itself, or a note that it was withheld."""
        return WITHHELD if text and self.names_anyone(text) else text
