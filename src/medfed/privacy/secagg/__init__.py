"""Secure aggregation: the aggregator learns only the SUM of the nodes' updates (5.5.1.1a).

A semi-honest-secure protocol after Bonawitz et al. 2017 ("Practical secure aggregation for
privacy-preserving machine learning") with the sparse neighbour graph of SecAgg+ (Bell et al.
2020), written as sans-IO state machines: ``SecAggClient`` per node, ``SecAggServer`` at the
aggregator, exchanging the dataclasses of ``messages`` (ints and bytes only).

Round, for n nodes, neighbour degree k and threshold t (``SecAggConfig``):

1. Advertise keys. Each node draws two X25519 key pairs: c (encrypts shares) and s (pairwise
   masks). The server sends each survivor its surviving neighbours' public keys.
2. Share keys. Each node u draws a 32-byte self-mask seed b_u and splits b_u and its s
   secret key t-of-(k+1) among its neighbours and itself, by Shamir over GF(2^521 − 1) (one
   field element per secret; u never reveals its own s-share). A neighbour's pair of shares is
   sealed with AES-256-GCM under HKDF-SHA256(X25519(c_sk_u, c_pk_v)); the associated data
   binds round seed, sender and receiver. The server routes the ciphertexts it cannot open.
3. Masked input. u encodes its float update x_u (|x| ≤ clip) by fixed point,
   round(x · 2^scale_bits) mod 2^m (m = 32 or 64; n · clip · 2^scale_bits < 2^(m−1) is
   checked, so the sum cannot wrap), and uploads y_u = x_u + PRG(b_u) + Σ_v ±PRG(s_uv) over
   the neighbours v that shared keys: + if u < v, − otherwise; s_uv =
   HKDF(X25519(s_sk_u, s_pk_v)), PRG = ChaCha20 keystream read as words. y_u travels as raw
   little-endian words: with m = 32 the upload is the size of the float32 update.
4. Unmasking. The server asks each survivor for its shares of b of surviving neighbours and
   of s_sk of neighbours that dropped after step 2 — never both for one node, which clients
   refuse. With t shares of each it removes PRG(b_u) of survivors and the dropped nodes'
   pairwise masks from Σ y_u, and decodes the sum of the survivors' inputs.

Drop-outs at any stage leave the exact (fixed-point) sum of the nodes whose masked input
arrived, as long as every needed secret still has t share holders; otherwise the round fails
with ``SecAggError`` before any sum exists, and the server never holds an individual input.

Neighbour graph (SecAgg+): a Harary graph H(k, n) over the ids ordered by
SHA-256(round_seed ‖ id), k = n − 1 (complete) up to n = 10, else 2⌈1.5·log2 n⌉ (18 at
n = 50), so per-node work and traffic grow as O(log n). t must be a majority of a
neighbourhood and at most k: (k + 1)/2 < t ≤ k.

Threat model (5.5.1.1c):

* Semi-honest (honest-but-curious) server and clients: they follow the protocol and try to
  learn from what they see. The server may collude with clients; an honest node's input
  stays hidden while fewer than t members of its neighbourhood (itself excluded) collude, and
  while the honest surviving nodes' graph stays connected (else the server learns the sums
  of its components). With a random Harary ordering both hold with high probability when the
  corrupted plus dropped fraction is small against k; the round seed must be fresh and
  unpredictable when corrupted nodes are fixed (drawn by the dispatcher at round start).
* Not covered: an active server that shows nodes inconsistent views or swaps public keys.
  Public keys must be authenticated by the transport (mTLS per node); the t > (k+1)/2
  majority only limits what inconsistent drop lists could reveal. Bonawitz's signed
  consistency round is not implemented.
* Clients see nothing of other inputs. The sum itself, and what follows from it, is the
  intended output (with two survivors each learns the other's update from it).
"""

from medfed.privacy.secagg._graph import default_degree
from medfed.privacy.secagg.client import ClientStage, SecAggClient
from medfed.privacy.secagg.config import SecAggConfig
from medfed.privacy.secagg.errors import SecAggError
from medfed.privacy.secagg.messages import (
    AdvertiseKeys,
    EncryptedShare,
    ForwardedShares,
    MaskedInput,
    NodeShare,
    Roster,
    ShareKeys,
    UnmaskRequest,
    UnmaskShares,
    payload_size,
)
from medfed.privacy.secagg.server import SecAggServer, Stage
from medfed.privacy.secagg.simulate import simulate_round

__all__ = [
    "AdvertiseKeys",
    "ClientStage",
    "EncryptedShare",
    "ForwardedShares",
    "MaskedInput",
    "NodeShare",
    "Roster",
    "SecAggClient",
    "SecAggConfig",
    "SecAggError",
    "SecAggServer",
    "ShareKeys",
    "Stage",
    "UnmaskRequest",
    "UnmaskShares",
    "default_degree",
    "payload_size",
    "simulate_round",
]
