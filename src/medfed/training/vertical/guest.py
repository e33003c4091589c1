"""The guest: holds the labels y ∈ {0, 1}, its feature columns X_A and the bias.

Per iteration t, once it has [[u_h]] from every host for the batch rows:

    [[D]] = sum_h [[u_h]] + Enc(2^F·(u_A + b + 2 - 4y))      (D = 2^(F+2)·d)

with d = 0.25·u - y + 0.5 = 0.25·u - 0.5·y', y' = 2y - 1: the derivative in u of the
second-order Taylor expansion of the logistic loss log(1 + e^(-y'u)) ≈ log 2 - y'u/2 + u²/8
around u = 0. It sends [[D]] to every host and [[X_A^T D + R]] (bias column included) to
the arbiter; the arbiter returns X_A^T D + R and the guest removes R and steps.
"""

from __future__ import annotations

from collections.abc import Sequence

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

__all__ = ["GuestParty"]


class GuestParty(_GradientParty):
    """Sans-IO guest. ``features`` float64 (n, k_A), ``labels`` int (n,) in {0, 1}, rows
    aligned with every host's; ``weights`` (k_A,) and ``bias`` are its model share."""

    def __init__(
        self,
        name: str,
        features: np.ndarray,
        labels: np.ndarray,
        *,
        hosts: Sequence[str],
        arbiter: str,
        config: VerticalConfig,
    ) -> None:
        x = np.asarray(features, dtype=np.float64)
        y = np.asarray(labels)
        if y.shape != (x.shape[0],) or not np.isin(y, (0, 1)).all():
            raise ProtocolError(f"guest {name!r} needs labels in {{0, 1}}, one per feature row")
        if not hosts or len(set(hosts)) != len(hosts) or name in hosts or arbiter in hosts:
            raise ProtocolError("the guest needs one or more distinct host names")
        ones = np.ones((x.shape[0], 1))
        penalised = np.r_[np.ones(x.shape[1]), 0.0]  # no ridge penalty on the bias
        super().__init__(
            name, np.hstack([x, ones]), arbiter=arbiter, config=config, penalised=penalised
        )
        self._y = y.astype(np.int64)
        self._hosts = tuple(hosts)
        self._forwards: dict[int, dict[str, HostForward]] = {}
        self._awaiting_gradient = False

    @property
    def weights(self) -> np.ndarray:
        return self._w[:-1].copy()

    @property
    def bias(self) -> float:
        return float(self._w[-1])

    def start(self) -> list[VerticalMessage]:
        """Nothing: the guest waits for the arbiter's key and the hosts' forwards."""
        return []

    def receive(self, message: VerticalMessage) -> list[VerticalMessage]:
        """Consume one message; return the messages it triggers."""
        if self.done:
            raise ProtocolError(f"guest {self.name!r} has finished; got {message.kind!r}")
        if isinstance(message, PublicKeyMessage):
            self._expect(message, PublicKeyMessage, (self._arbiter,), 0)
            self._take_key(message)
        elif isinstance(message, HostForward):
            # A host may run one iteration ahead: its next forward does not need our update.
            t = self._t + 1 if self._awaiting_gradient else self._t
            self._expect(message, HostForward, self._hosts, t)
            if t >= self._config.iterations:
                raise ProtocolError(f"guest: forward for iteration {t} beyond the last")
            slot = self._forwards.setdefault(t, {})
            if message.sender in slot:
                raise ProtocolError(
                    f"guest: second forward from {message.sender!r} for iteration {t}"
                )
            slot[message.sender] = message
        elif isinstance(message, DecryptedGradient):
            if not self._awaiting_gradient:
                raise ProtocolError("guest: decrypted gradient arrived before it was asked for")
            self._expect(message, DecryptedGradient, (self._arbiter,), self._t)
            self._apply_gradient(message, len(self._rows()))
            self._awaiting_gradient = False
        else:
            raise ProtocolError(f"guest: unexpected {message.kind!r} message")
        return self._progress()

    def _progress(self) -> list[VerticalMessage]:
        slot = self._forwards.get(self._t, {})
        if (
            self._key is None
            or self._awaiting_gradient
            or self.done
            or len(slot) < len(self._hosts)
        ):
            return []
        key, rows = self.key, self._rows()
        del self._forwards[self._t]
        total = [key.encrypt(m) for m in self._own_part(rows)]
        # A fresh encryption of our part (not add_plain) re-randomises [[D]]: otherwise a
        # host could divide out its own [[u_h]] and read u_A + 2 - 4y, i.e. the labels.
        for host in self._hosts:
            cts = self._ciphertexts_in(slot[host], len(rows))
            total = [key.add(a, b) for a, b in zip(total, cts, strict=True)]
        residual = self._ciphertexts_out(total)
        out: list[VerticalMessage] = [
            Residual(self.name, host, self._t, fingerprint=key.fingerprint(), ciphertexts=residual)
            for host in self._hosts
        ]
        out.append(self._masked_gradient(total, rows))
        self._awaiting_gradient = True
        return out

    def _own_part(self, rows: np.ndarray) -> list[int]:
        u_own = self._x[rows] @ self._w  # includes the bias column
        return encode_fixed(u_own + 2.0 - 4.0 * self._y[rows], self._config.frac_bits)

    def predict_proba(self, features: np.ndarray, scores: Sequence[VerticalMessage]) -> np.ndarray:
        """P(y = 1) float64 (n,) for rows ``features`` (n, k_A), given one ``partial_score``
        from every host for the same rows in the same order (plaintext u_h, see simulate)."""
        if not self.done:
            raise ProtocolError("guest: the model is not trained yet")
        x = np.asarray(features, dtype=np.float64)
        u = x @ self._w[:-1] + self._w[-1]
        seen: set[str] = set()
        for s in scores:
            self._expect(s, PartialScore, self._hosts, self._config.iterations)
            assert isinstance(s, PartialScore)
            if s.sender in seen or s.scores.shape != u.shape:
                raise ProtocolError(
                    f"guest: partial scores from {s.sender!r} repeated or of the wrong shape"
                )
            seen.add(s.sender)
            u = u + s.scores
        if seen != set(self._hosts):
            raise ProtocolError(
                f"guest: missing partial scores from {sorted(set(self._hosts) - seen)}"
            )
        return np.exp(-np.logaddexp(0.0, -u))  # sigmoid without overflow for large |u|
