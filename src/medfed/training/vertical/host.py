"""A host: holds feature columns X_h only (no labels).

Per iteration t: send [[u_h]] = Enc(2^F·X_h w_h) over the batch rows to the guest; on
[[D]] from the guest send [[X_h^T D + R]] to the arbiter; on X_h^T D + R from the arbiter
remove R, step, and send the next forward.
"""

from __future__ import annotations

import numpy as np

from medfed.errors import ProtocolError
from medfed.privacy.he.paillier import encode_fixed
from medfed.training.vertical._party import _GradientParty
from medfed.training.vertical.config import VerticalConfig
from medfed.training.vertical.messages import (
    DecryptedGradient,
    HostForward,
    PartialScore,
    PublicKeyMessage,
    Residual,
    VerticalMessage,
)

__all__ = ["HostParty"]


class HostParty(_GradientParty):
    """Sans-IO host. ``features`` float64 (n, k_h), rows aligned with the guest's."""

    def __init__(
        self, name: str, features: np.ndarray, *, guest: str, arbiter: str, config: VerticalConfig
    ) -> None:
        x = np.asarray(features, dtype=np.float64)
        super().__init__(name, x, arbiter=arbiter, config=config, penalised=np.ones(x.shape[1]))
        self._guest = guest
        self._state = "await_key"  # → await_residual → await_gradient → await_residual …

    @property
    def weights(self) -> np.ndarray:
        return self._w.copy()

    def start(self) -> list[VerticalMessage]:
        """Nothing: the host waits for the arbiter's key."""
        return []

    def receive(self, message: VerticalMessage) -> list[VerticalMessage]:
        """Consume one message; return the messages it triggers."""
        if self.done:
            raise ProtocolError(f"host {self.name!r} has finished; got {message.kind!r}")
        if self._state == "await_key":
            self._expect(message, PublicKeyMessage, (self._arbiter,), 0)
            assert isinstance(message, PublicKeyMessage)
            self._take_key(message)
            return self._forward()
        if self._state == "await_residual":
            self._expect(message, Residual, (self._guest,), self._t)
            assert isinstance(message, Residual)
            rows = self._rows()
            residual = self._ciphertexts_in(message, len(rows))
            self._state = "await_gradient"
            return [self._masked_gradient(residual, rows)]
        self._expect(message, DecryptedGradient, (self._arbiter,), self._t)
        assert isinstance(message, DecryptedGradient)
        self._apply_gradient(message, len(self._rows()))
        return [] if self.done else self._forward()

    def _forward(self) -> list[VerticalMessage]:
        key = self.key
        u = encode_fixed(self._x[self._rows()] @ self._w, self._config.frac_bits)
        cts = self._ciphertexts_out([key.encrypt(m) for m in u])
        self._state = "await_residual"
        return [
            HostForward(
                self.name, self._guest, self._t, fingerprint=key.fingerprint(), ciphertexts=cts
            )
        ]

    def partial_scores(self, features: np.ndarray) -> PartialScore:
        """Plaintext u_h = X_h w_h, float64 (n,), for rows ``features`` (n, k_h) to score,
        addressed to the guest (standard hetero-LR prediction; see ``simulate``)."""
        if not self.done:
            raise ProtocolError(f"host {self.name!r}: the model is not trained yet")
        x = np.asarray(features, dtype=np.float64)
        if x.ndim != 2 or x.shape[1] != self._w.shape[0]:
            raise ProtocolError(
                f"host {self.name!r}: rows to score must have {self._w.shape[0]} columns"
            )
        return PartialScore(self.name, self._guest, self._config.iterations, scores=x @ self._w)
