"""Everything derived from the per-dataset secret: new UIDs, pseudonyms and date offsets.

All three are keyed hashes (HMAC of the crypto suite) of the original value, so the same input
always gives the same output within one dataset, and nobody without the secret can link a
pseudonym or a new UID back to the hospital's own identifiers.
"""

from __future__ import annotations

from dataclasses import dataclass

from medfed.crypto import get_suite
from medfed.errors import ConfigError

# ISO/IEC 9834-8 arc for UIDs made from a 128-bit number: no registered root needed.
UUID_ROOT = "2.25."
PSEUDONYM_PREFIX = "PSN-"
MIN_SECRET_BYTES = 16


@dataclass(frozen=True)
class DeidKey:
    """A per-dataset secret and the suite whose HMAC derives values from it.

    The secret stays at the hospital: with it anyone can recompute the mapping from original
    identifiers to pseudonyms, so it is as sensitive as the identifiers themselves.
    """

    secret: bytes
    suite: str = "intl"

    def __post_init__(self) -> None:
        if len(self.secret) < MIN_SECRET_BYTES:
            raise ConfigError(
                f"the de-identification secret must have at least {MIN_SECRET_BYTES} bytes "
                f"(it has {len(self.secret)}); generate one with secrets.token_bytes(32)"
            )
        get_suite(self.suite)  # ConfigError now, not at the first file

    def __repr__(self) -> str:  # never print the secret
        return f"DeidKey(suite={self.suite!r})"

    def _mac(self, purpose: str, value: str) -> bytes:
        # The purpose label separates the three derivations: a UID and a patient ID that happen
        # to be equal strings must not yield related outputs.
        return get_suite(self.suite).hmac(self.secret, f"{purpose}\x00{value}".encode())

    def uid(self, original: str) -> str:
        """The replacement UID for ``original``: ``2.25.`` and a 128-bit decimal (<= 44 chars)."""
        number = int.from_bytes(self._mac("uid", original.strip())[:16], "big")
        return f"{UUID_ROOT}{number}"

    def pseudonym(self, patient_id: str) -> str:
        """The study-local pseudonym of a patient (``PSN-`` and 16 hex digits)."""
        return PSEUDONYM_PREFIX + self._mac("patient", patient_id.strip()).hex()[:16]

    def date_offset_days(self, patient_id: str, max_days: int) -> int:
        """Days (1..``max_days``) by which every date of this patient moves into the past.

        Never zero, so a shifted date always differs from the original one.
        """
        if max_days < 1:
            raise ConfigError(f"max_shift_days must be at least 1, not {max_days}")
        value = int.from_bytes(self._mac("date-shift", patient_id.strip())[:8], "big")
        return 1 + value % max_days
