"""Cost of the national-cryptography suite against the international one, same run, same CPU.

  sign/s, verify/s   SM2 with SM3 (Z_A, default ID) by tongsuopy and by gmssl (pure Python),
                     ECDSA P-256 with SHA-256 by pyca/cryptography; 200-byte messages
  hash MB/s          SM3 vs SHA-256 (pyca/cryptography) on 1 MiB buffers
  seal MB/s          SM4-GCM vs AES-256-GCM (pyca/cryptography) through ``Suite.seal``, 1 MiB
  agree/s            SM2-curve ECDH + SM3-KDF vs X25519 + HKDF-SHA256 through ``AgreementKey``

Each figure is the best of three timed windows of about ``--seconds`` / 3.
Prints one JSON line. Usage: python bench/crypto.py [--seconds 1.0]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from collections.abc import Callable
from functools import partial

from cryptography.hazmat.primitives import hashes

from medfed.crypto import get_suite

MESSAGE = os.urandom(200)
BUFFER = os.urandom(1 << 20)


def _rate(call: Callable[[], object], seconds: float) -> float:
    """Best calls-per-second over three windows of ``seconds / 3`` each."""
    best = 0.0
    for _ in range(3):
        count, start = 0, time.perf_counter()
        while (elapsed := time.perf_counter() - start) < seconds / 3 or count == 0:
            call()
            count += 1
        best = max(best, count / elapsed)
    return best


def _hash(algorithm: hashes.HashAlgorithm) -> Callable[[], bytes]:
    def run() -> bytes:
        h = hashes.Hash(algorithm)
        h.update(BUFFER)
        return h.finalize()

    return run


def _gmssl(seconds: float) -> dict[str, float] | None:
    try:
        from gmssl import sm2
    except ImportError:
        return None
    key = get_suite("gm").generate_signing_key()
    numbers = key._key.private_numbers()  # type: ignore[attr-defined]
    signer = sm2.CryptSM2(private_key=f"{numbers.private_value:064x}", public_key="00", asn1=True)
    # gmssl's constructor mangles keys starting with "04"; set the x ‖ y hex afterwards.
    signer.public_key = f"{numbers.public_numbers.x:064x}{numbers.public_numbers.y:064x}"
    signature = signer.sign_with_sm3(MESSAGE, os.urandom(32).hex())
    return {
        "sign_per_s": _rate(lambda: signer.sign_with_sm3(MESSAGE, os.urandom(32).hex()), seconds),
        "verify_per_s": _rate(lambda: signer.verify_with_sm3(signature, MESSAGE), seconds),
    }


def _signatures(seconds: float) -> dict[str, dict[str, float] | None]:
    out: dict[str, dict[str, float] | None] = {}
    for label, suite in (("sm2_tongsuopy", get_suite("gm")), ("ecdsa_p256", get_suite("intl"))):
        key = suite.generate_signing_key()
        signature, verify_key = key.sign(MESSAGE), key.verify_key()
        out[label] = {
            "sign_per_s": _rate(partial(key.sign, MESSAGE), seconds),
            "verify_per_s": _rate(partial(verify_key.verify, MESSAGE, signature), seconds),
        }
    out["sm2_gmssl"] = _gmssl(seconds)
    return out


def _symmetric(seconds: float) -> dict[str, dict[str, float]]:
    mb = len(BUFFER) / 1e6
    out: dict[str, dict[str, float]] = {
        "hash_mb_per_s": {
            "sm3": _rate(_hash(hashes.SM3()), seconds) * mb,
            "sha256": _rate(_hash(hashes.SHA256()), seconds) * mb,
        },
        "seal_mb_per_s": {},
        "open_mb_per_s": {},
        "agree_per_s": {},
    }
    for label, suite in (("sm4_gcm", get_suite("gm")), ("aes256_gcm", get_suite("intl"))):
        key = suite.generate_seal_key()
        sealed = suite.seal(key, BUFFER)
        out["seal_mb_per_s"][label] = _rate(partial(suite.seal, key, BUFFER), seconds) * mb
        out["open_mb_per_s"][label] = _rate(partial(suite.open, key, sealed), seconds) * mb
        mine = suite.generate_agreement_key()
        peer = suite.generate_agreement_key().public_bytes()
        out["agree_per_s"][suite.name] = _rate(partial(mine.agree, peer, info=b"bench"), seconds)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=1.0, help="time per measured figure")
    seconds = parser.parse_args().seconds
    result: dict[str, object] = {
        "bench": "crypto",
        "cpu": platform.processor() or platform.machine(),
        **_signatures(seconds),
        **_symmetric(seconds),
    }
    print(json.dumps(_rounded(result)))


def _rounded(value: object) -> object:
    if isinstance(value, float):
        return round(value, 1)
    if isinstance(value, dict):
        return {k: _rounded(v) for k, v in value.items()}
    return value


if __name__ == "__main__":
    main()
