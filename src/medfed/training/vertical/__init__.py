"""Vertical (hetero) logistic regression with Paillier encryption and an arbiter.

Parties: the **guest** holds the labels and some feature columns (and the bias); one or
two **hosts** hold other feature columns of the same patients; the **arbiter** (the
standard's auxiliary computing party) generates the Paillier key pair and keeps the
private key. Rows are aligned beforehand by private set intersection (``align_parties``).

Per iteration, on a seeded batch schedule every party derives alone:

1. each host sends the guest [[u_h]] = Enc(X_h w_h) for the batch rows;
2. the guest forms [[d]] = [[0.25·(u_A + b + Σ u_h) - y + 0.5]] (the second-order Taylor
   residual of the logistic loss; the same as 0.25·u - 0.5·y' for y' = 2y - 1) and sends
   it to every host;
3. every data party computes its encrypted gradient [[X^T d]], adds a fresh random mask R
   and sends [[X^T d + R]] to the arbiter, which decrypts and returns X^T d + R;
4. each party removes R, divides by the batch size, adds its L2 term and steps.

Threat model: every party is semi-honest (follows the protocol, may try to learn from what
it sees) and the arbiter does not collude with any data party. Then

* the arbiter sees only ciphertexts and masked values: no features, labels, partial
  scores, residuals or gradients (masks are uniform over ~2^(key bits - 64), so a masked
  value is statistically independent of the gradient);
* the guest sees hosts' partial scores only encrypted during training, never host
  features or weights; it learns its own gradients;
* a host sees the residual only encrypted (re-randomised by the guest, so it cannot cancel
  its own contribution) and learns its own gradients. As in every hetero-LR, a party's
  own gradients over many iterations say something about the residuals; training on
  mini-batches larger than the party's feature count keeps X_h^T d from determining d.

A malicious party is out of scope: e.g. a host that submitted the residual for decryption
would learn labels, which is why the arbiter accepts exactly one vector of each party's
weight count per iteration. A colluding arbiter and host learn the guest's labels.

Prediction sends hosts' plaintext partial scores to the guest (see ``simulate``).
"""

from medfed.training.vertical.arbiter import ArbiterParty
from medfed.training.vertical.config import VerticalConfig, batch_rows
from medfed.training.vertical.guest import GuestParty
from medfed.training.vertical.host import HostParty
from medfed.training.vertical.messages import (
    DecryptedGradient,
    HostForward,
    MaskedGradient,
    PartialScore,
    PublicKeyMessage,
    Residual,
    VerticalMessage,
    message_from_wire,
    wire_size,
)
from medfed.training.vertical.plaintext import TaylorLRModel, predict_proba, taylor_lr_fit
from medfed.training.vertical.simulate import (
    VerticalResult,
    align_parties,
    guest_of,
    predict_vertical,
    run_vertical_lr,
)

__all__ = [
    "ArbiterParty",
    "DecryptedGradient",
    "GuestParty",
    "HostForward",
    "HostParty",
    "MaskedGradient",
    "PartialScore",
    "PublicKeyMessage",
    "Residual",
    "TaylorLRModel",
    "VerticalConfig",
    "VerticalMessage",
    "VerticalResult",
    "align_parties",
    "batch_rows",
    "guest_of",
    "message_from_wire",
    "predict_proba",
    "predict_vertical",
    "run_vertical_lr",
    "taylor_lr_fit",
    "wire_size",
]
