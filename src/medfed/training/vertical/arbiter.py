"""The arbiter: an auxiliary computing party that holds the Paillier private key.

It sends the public key to every data party, then decrypts each party's masked gradient
[[G + R]] and returns G + R to that party. It never receives features, labels, partial
scores or residuals, and every value it decrypts carries a mask it does not know.

Integrity cross-check (standard 5.5.1.1e): a data party masks each gradient value G with R
uniform below 2^(|n| − headroom), and |G| < 2^(|n| − 2·headroom), so every honest G + R lies
in (−2^(|n| − 2·headroom), 2^(|n| − headroom) + 2^(|n| − 2·headroom)). A ciphertext replaced by
a random unit mod n² decrypts to a value uniform mod n, outside that window except with
probability about 2^−(headroom − 1): the arbiter refuses it, names the sender in ``faults``, and
returns nothing for it (the arbiter learns nothing new: the window is public).
"""

from __future__ import annotations

from collections.abc import Mapping

from medfed.errors import HEError, ProtocolError
from medfed.privacy.he.paillier import PaillierPrivateKey, generate_keypair
from medfed.training.vertical.config import VerticalConfig
from medfed.training.vertical.messages import (
    DecryptedGradient,
    MaskedGradient,
    PublicKeyMessage,
    VerticalMessage,
)

__all__ = ["ArbiterParty"]


class ArbiterParty:
    """Sans-IO arbiter. ``parties`` maps each data party to the number of gradient values it
    may submit per iteration (its weight count; the guest's includes the bias), so a party
    cannot ask for a batch-sized vector such as the residual to be decrypted."""

    def __init__(
        self,
        name: str,
        *,
        parties: Mapping[str, int],
        config: VerticalConfig,
        key_bits: int = 2048,
        private_key: PaillierPrivateKey | None = None,
    ) -> None:
        if not parties or name in parties or any(k < 1 for k in parties.values()):
            raise ProtocolError(
                "the arbiter needs data parties other than itself, each with weights"
            )
        self.name = name
        self._config = config
        self._sizes = dict(parties)
        # Key generation happens here, at the party that will hold the private half.
        self._sk = private_key if private_key is not None else generate_keypair(key_bits)[1]
        self._fingerprint = self._sk.public_key.fingerprint()
        self._next = dict.fromkeys(parties, 0)
        self._started = False
        self.decrypted: list[DecryptedGradient] = []  # what this party has seen, for audit
        self.faults: dict[str, str] = {}  # party -> what the integrity check found

    @property
    def done(self) -> bool:
        return all(t >= self._config.iterations for t in self._next.values())

    def start(self) -> list[VerticalMessage]:
        """The public key for every data party; call once."""
        if self._started:
            raise ProtocolError("arbiter already started")
        self._started = True
        n = self._sk.public_key.n
        return [PublicKeyMessage(self.name, party, 0, n=n) for party in self._sizes]

    def receive(self, message: VerticalMessage) -> list[VerticalMessage]:
        """Decrypt one masked gradient and send the plaintext back to its sender."""
        if not self._started:
            raise ProtocolError("arbiter: message before start()")
        if not isinstance(message, MaskedGradient):
            raise ProtocolError(f"arbiter: unexpected {message.kind!r} message")
        sender = message.sender
        if sender not in self._sizes or message.recipient != self.name:
            raise ProtocolError(f"arbiter: masked gradient from unknown party {sender!r}")
        if message.iteration != self._next[sender] or message.iteration >= self._config.iterations:
            raise ProtocolError(
                f"arbiter: gradient from {sender!r} for iteration {message.iteration}, "
                f"expected {self._next[sender]}"
            )
        if message.fingerprint != self._fingerprint:
            raise HEError("ciphertexts were made under another key")
        if len(message.ciphertexts) != self._sizes[sender]:
            raise ProtocolError(
                f"arbiter: {sender!r} sent {len(message.ciphertexts)} values, expected {self._sizes[sender]}"
            )
        pk = self._sk.public_key
        values = tuple(
            self._sk.decrypt_many([pk.ciphertext_from_bytes(c) for c in message.ciphertexts])
        )
        self._check_window(sender, values)
        self._next[sender] += 1
        reply = DecryptedGradient(self.name, sender, message.iteration, values=values)
        self.decrypted.append(reply)
        return [reply]

    def _check_window(self, sender: str, values: tuple[int, ...]) -> None:
        bits = self._sk.public_key.bits
        headroom = self._config.mask_headroom_bits
        gradient_limit = 1 << (bits - 2 * headroom)
        upper = (1 << (bits - headroom)) + gradient_limit
        outside = sum(1 for v in values if not -gradient_limit < v < upper)
        if outside:
            self.faults[sender] = f"{outside} masked gradient value(s) outside the masking window"
            raise ProtocolError(
                f"arbiter: {sender!r} sent {outside} masked gradient value(s) that no honest party "
                "can produce (a corrupted or random ciphertext)"
            )
