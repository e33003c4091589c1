"""The trusted evidence party (R-notary, standard 5.4.2.3i): checks, chains and receipts entries.

Sans-IO: :class:`Notary` takes a request and its signature and returns a receipt; the
service that carries requests over the network is someone else's. That service must also
check that the authenticated peer *is* ``request.party`` (the signature proves only that
the party's key signed it, possibly for someone relaying it).
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from medfed.crypto import CryptoError, SigningKey, Suite, VerifyKey
from medfed.errors import ConfigError
from medfed.ledger._canonical import canonical_json, genesis_hash
from medfed.ledger.entries import EntryRequest, LedgerEntry
from medfed.ledger.errors import EntryRejectedError, SubmissionRefusal, SubmissionRefusedError
from medfed.ledger.schema import check_payload
from medfed.ledger.store import LedgerStore

RECEIPT_SCHEMA = "medfed.ledger.receipt/1"


@dataclass(frozen=True)
class Receipt:
    """The notary's signed word that entry ``sequence`` has hash ``entry_hash``.

    A party keeps its receipts (in its operation log): if the ledger later lacks the entry
    or holds another at that sequence, the receipt proves the notary changed its record.
    """

    sequence: int
    entry_hash: str
    signature: bytes

    @staticmethod
    def signed_digest(suite: Suite, sequence: int, entry_hash: str) -> bytes:
        body = {"schema": RECEIPT_SCHEMA, "sequence": sequence, "entry_hash": entry_hash}
        return suite.digest(canonical_json(body))

    def verify(self, suite: Suite, notary_key: VerifyKey) -> None:
        """Return if the notary signed this receipt; CryptoError otherwise."""
        notary_key.verify(self.signed_digest(suite, self.sequence, self.entry_hash), self.signature)

    def to_dict(self) -> dict[str, Any]:
        return {
            "sequence": self.sequence,
            "entry_hash": self.entry_hash,
            "signature": self.signature.hex(),
        }

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> Receipt:
        try:
            return cls(
                int(raw["sequence"]), str(raw["entry_hash"]), bytes.fromhex(raw["signature"])
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise EntryRejectedError(f"malformed receipt: {exc}") from None


class Notary:
    """Records signed requests from registered parties in a hash-chained ledger.

    ``keys`` maps each party name to its verify key (from its certificate); the notary
    signs receipts with ``notary_key``. One notary per store: it serialises its own
    appends, and the store refuses a second writer's conflicting one.
    """

    def __init__(
        self,
        store: LedgerStore,
        suite: Suite,
        keys: Mapping[str, VerifyKey],
        *,
        notary_key: SigningKey,
        name: str = "notary",
    ) -> None:
        self.store = store
        self.suite = suite
        self.name = name
        self._keys = dict(keys)
        self._key = notary_key
        self._lock = threading.Lock()

    @property
    def verify_key(self) -> VerifyKey:
        """The key parties and auditors check receipts with."""
        return self._key.verify_key()

    @property
    def parties(self) -> dict[str, VerifyKey]:
        """A copy of the registered parties and their keys (what an audit needs)."""
        return dict(self._keys)

    def register(self, party: str, key: VerifyKey) -> None:
        """Admit a party that joins later; ConfigError if the name is taken by another key."""
        known = self._keys.get(party)
        if known is not None and known.public_bytes() != key.public_bytes():
            raise ConfigError(f"party {party!r} is already registered with another key")
        self._keys[party] = key

    def submit(self, request: EntryRequest, signature: bytes) -> Receipt:
        """Verify, chain and store one request; return the signed receipt.

        SubmissionRefusedError if the party is not registered or the signature does not
        verify; EntryRejectedError if the payload breaks its kind's schema.
        """
        key = self._keys.get(request.party)
        if key is None:
            raise SubmissionRefusedError(
                SubmissionRefusal.UNKNOWN_PARTY, f"{request.party!r} is not a registered party"
            )
        try:
            key.verify(request.digest(self.suite), signature)
        except CryptoError:
            raise SubmissionRefusedError(
                SubmissionRefusal.BAD_SIGNATURE,
                f"the signature is not {request.party!r}'s over this request",
            ) from None
        # The request checked itself when built; check again in case it was built elsewhere.
        check_payload(request.kind, request.payload)
        with self._lock:
            head = self.store.head()
            entry = LedgerEntry.chain(
                request,
                signature,
                sequence=0 if head is None else head.sequence + 1,
                prev_hash=genesis_hash(self.suite.digest_size) if head is None else head.entry_hash,
                suite=self.suite,
            )
            self.store.append(entry)
        digest = Receipt.signed_digest(self.suite, entry.sequence, entry.entry_hash)
        return Receipt(entry.sequence, entry.entry_hash, self._key.sign(digest))
