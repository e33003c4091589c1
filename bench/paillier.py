"""Paillier throughput: medfed's packed scheme against ``phe``, same key length, one process.

A value is one float parameter.
  medfed  ``PackedPaillier.encrypt`` of a vector of --values floats (N(0, 0.05)), then
          ``decrypt`` of its chunks (p and q halves on two threads, as in production;
          ``medfed_decrypt_1thread`` is the same on one thread). The noise tables are built
          once per key, timed apart as ``medfed_setup_s``.
  phe     ``public_key.encrypt(x)`` and ``private_key.decrypt`` one float at a time, on the
          first --phe-values of the same floats (phe with gmpy2, as installed).
Rates are values over seconds of the median of --repeat runs; speedups are medfed's rate
over phe's. Prints one JSON line.
Usage: python bench/paillier.py [--values 20000] [--phe-values 100] [--repeat 3] [--bits 2048]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from collections.abc import Callable
from typing import Any

import numpy as np
from phe import paillier as phe

from medfed.privacy.he.paillier import PackedPaillier, generate_keypair


def median_seconds(call: Callable[[], Any], repeat: int) -> float:
    """The median wall time of ``repeat`` calls."""
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        call()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--values", type=int, default=20_000)
    parser.add_argument("--phe-values", type=int, default=100)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--bits", type=int, default=2048)
    args = parser.parse_args()
    values = np.random.default_rng(0).normal(0.0, 0.05, args.values)

    print("medfed ...", file=sys.stderr)
    public, private = generate_keypair(args.bits)
    scheme = PackedPaillier(public, private)
    start = time.perf_counter()
    scheme.encrypt(values[:1])  # builds the noise tables
    setup = time.perf_counter() - start
    chunks = scheme.encrypt(values)
    error = float(np.max(np.abs(scheme.decrypt(chunks, values.size) - values)))
    assert error <= 2.0 ** -(scheme.frac_bits + 1), error
    encrypt_s = median_seconds(lambda: scheme.encrypt(values), args.repeat)
    decrypt_s = median_seconds(lambda: scheme.decrypt(chunks, values.size), args.repeat)
    decryptor = private._decryptor
    ciphertexts = scheme._read(chunks, check_unit=True)[1]
    decrypt_1t_s = median_seconds(
        lambda: decryptor.decrypt_many(ciphertexts, threads=False), args.repeat
    )

    print("phe ...", file=sys.stderr)
    phe_public = phe.PaillierPublicKey(public.n)
    phe_private = phe.PaillierPrivateKey(phe_public, private.p, private.q)
    sample = [float(v) for v in values[: args.phe_values]]
    encrypted = [phe_public.encrypt(v) for v in sample]
    assert all(
        abs(phe_private.decrypt(e) - v) < 1e-12 for e, v in zip(encrypted, sample, strict=True)
    )
    phe_encrypt_s = median_seconds(lambda: [phe_public.encrypt(v) for v in sample], args.repeat)
    phe_decrypt_s = median_seconds(lambda: [phe_private.decrypt(e) for e in encrypted], args.repeat)

    rates = {
        "medfed_encrypt": round(args.values / encrypt_s, 1),
        "medfed_decrypt": round(args.values / decrypt_s, 1),
        "medfed_decrypt_1thread": round(args.values / decrypt_1t_s, 1),
        "phe_encrypt": round(args.phe_values / phe_encrypt_s, 1),
        "phe_decrypt": round(args.phe_values / phe_decrypt_s, 1),
    }
    report = {
        "encrypt_speedup": round(rates["medfed_encrypt"] / rates["phe_encrypt"], 1),
        "decrypt_speedup": round(rates["medfed_decrypt"] / rates["phe_decrypt"], 1),
        "values_per_s": rates,
        "bits": public.bits,
        "values": args.values,
        "phe_values": args.phe_values,
        "values_per_ciphertext": scheme.slots,
        "medfed_setup_s": round(setup, 4),
        "ciphertext_bytes_per_value": round(sum(map(len, chunks)) / args.values, 2),
        "cpu_cores": os.cpu_count(),
    }
    print(json.dumps(report))


if __name__ == "__main__":
    main()
