"""Number theory of Paillier with g = n + 1: primes, DJN noise, CRT decryption.

Nothing here enforces the key-length policy (``paillier.py`` does, on every public path),
so the formulas can be checked on textbook-sized numbers. Integers are ``gmpy2.mpz``
internally; callers convert at their boundary.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor

import gmpy2
from gmpy2 import mpz

MIN_BITS = 2048  # key-length policy floor (standard 5.4.3.4-2; NIST SP 800-57 112-bit level)
MAX_BITS = 16384  # a sanity ceiling, so a typo cannot start an hour-long key generation
WINDOW_BITS = 8  # fixed-base window: one byte of the exponent per table row
_ONE = mpz(1)


def security_bits(bits: int) -> int:
    """Classical security of a factoring-based modulus of ``bits`` bits (NIST SP 800-57)."""
    for floor, level in ((15360, 256), (7680, 192), (3072, 128)):
        if bits >= floor:
            return level
    return 112


def noise_exponent_bytes(bits: int) -> int:
    """Length in bytes of the DJN exponent α: twice the modulus' security level."""
    return 2 * security_bits(bits) // 8


def random_prime(bits: int) -> mpz:
    """A random prime of exactly ``bits`` bits whose two top bits are set (so a product of
    two such primes has exactly ``2 * bits`` bits). Candidates come from ``secrets``."""
    while True:
        start = mpz(secrets.randbits(bits)) | (mpz(3) << (bits - 2)) | 1
        prime = gmpy2.next_prime(start)
        # next_prime is GMP's sieve + BPSW; 32 extra Miller-Rabin rounds cost ~1 ms.
        if prime.bit_length() == bits and gmpy2.is_prime(prime, 32):
            return prime


def generate_primes(bits: int) -> tuple[mpz, mpz]:
    """Primes p ≠ q of ``bits // 2`` bits each with n = p·q of exactly ``bits`` bits,
    gcd(n, (p-1)(q-1)) = 1 and |p - q| large (no Fermat factoring)."""
    half = bits // 2
    while True:
        p, q = random_prime(half), random_prime(half)
        if primes_ok(p, q) and (p * q).bit_length() == bits:
            return p, q


def primes_ok(p: mpz, q: mpz) -> bool:
    """True when (p, q) is a sound Paillier key: distinct primes of equal size, far apart,
    with gcd(pq, (p-1)(q-1)) = 1 (that makes g = n + 1 a valid generator)."""
    half = p.bit_length()
    return (
        p != q
        and q.bit_length() == half
        and abs(p - q).bit_length() > half - 100
        and gmpy2.gcd(p * q, (p - 1) * (q - 1)) == 1
        and gmpy2.is_prime(p, 32)
        and gmpy2.is_prime(q, 32)
    )


def encrypt_with(n: int, m: int, r: int) -> mpz:
    """The textbook ciphertext (1 + m·n) · r^n mod n² of 0 ≤ m < n with the given r.

    Deterministic and policy-free: for known-answer tests, not for use with secrets.
    """
    n = mpz(n)
    nsquare = n * n
    return (1 + mpz(m) * n) * gmpy2.powmod(mpz(r), n, nsquare) % nsquare


class FixedBase:
    """base^e mod ``modulus`` for many exponents e of ``length`` bytes, by table lookup.

    Row i holds base^(d·256^i) for d = 0..255, so a power costs one modular product per
    non-zero exponent byte and no squarings: ``length`` products instead of the ~8·length
    squarings plus products of a square-and-multiply. Memory: 256·length residues.
    """

    def __init__(self, base: mpz, modulus: mpz, length: int) -> None:
        self.modulus = modulus
        rows = []
        step = base % modulus
        for _ in range(length):
            row = [_ONE]
            for _ in range(255):
                row.append(row[-1] * step % modulus)
            rows.append(row)
            step = row[-1] * step % modulus
        self.rows: list[list[mpz]] = rows


class Obfuscator:
    """Fresh random n-th residues mod n² (the r^n of Paillier encryption), by DJN.

    Damgård–Jurik–Nielsen: pick x at random, h = -x² mod n, h_s = h^n mod n²; each draw is
    h_s^α with α uniform of 2κ bits (κ: the modulus' security level). With ``primes`` the
    products run modulo p² and q² (a quarter the size of n²) and are joined by CRT, about
    1.5 times faster; only a holder of the secret key can do that.
    """

    def __init__(self, n: int, primes: tuple[int, int] | None = None) -> None:
        n = mpz(n)
        self.nsquare = n * n
        self.length = noise_exponent_bytes(n.bit_length())
        x = mpz(secrets.randbelow(int(n) - 2) + 2)
        h_s = gmpy2.powmod(-(x * x) % n, n, self.nsquare)
        self._crt: tuple[mpz, mpz, mpz] | None = None
        if primes is None:
            self._tables = [FixedBase(h_s, self.nsquare, self.length)]
        else:
            psquare, qsquare = mpz(primes[0]) ** 2, mpz(primes[1]) ** 2
            self._tables = [
                FixedBase(h_s, psquare, self.length),
                FixedBase(h_s, qsquare, self.length),
            ]
            self._crt = (psquare, qsquare, gmpy2.invert(qsquare, psquare))

    def draw(self) -> mpz:
        """One random element h_s^α of the n-th residues mod n², α fresh from ``secrets``."""
        alpha = secrets.token_bytes(self.length)
        if self._crt is None:
            modulus = self.nsquare
            acc = _ONE
            for row, digit in zip(self._tables[0].rows, alpha, strict=True):
                if digit:
                    acc = acc * row[digit] % modulus
            return acc
        psquare, qsquare, q2_inv = self._crt
        acc_p = acc_q = _ONE
        for row_p, row_q, digit in zip(
            self._tables[0].rows, self._tables[1].rows, alpha, strict=True
        ):
            if digit:
                acc_p = acc_p * row_p[digit] % psquare
                acc_q = acc_q * row_q[digit] % qsquare
        return acc_q + (acc_p - acc_q) * q2_inv % psquare * qsquare


class CrtDecryptor:
    """Paillier decryption with the factors: m mod p and m mod q, joined by CRT.

    m_p = L_p(c^(p-1) mod p²) · h_p mod p with L_p(x) = (x - 1) / p and
    h_p = L_p(g^(p-1) mod p²)^-1 mod p (likewise for q); four times cheaper than the
    textbook c^λ mod n².
    """

    def __init__(self, p: int, q: int) -> None:
        self.p, self.q = mpz(p), mpz(q)
        self.n = self.p * self.q
        self.psquare, self.qsquare = self.p * self.p, self.q * self.q
        self.hp = self._h(self.p, self.psquare)
        self.hq = self._h(self.q, self.qsquare)
        self.q_inv = gmpy2.invert(self.q, self.p)

    def _h(self, prime: mpz, square: mpz) -> mpz:
        return gmpy2.invert((gmpy2.powmod(self.n + 1, prime - 1, square) - 1) // prime, prime)

    def _join(self, xp: mpz, xq: mpz) -> mpz:
        p, q = self.p, self.q
        mp = (xp - 1) // p * self.hp % p
        mq = (xq - 1) // q * self.hq % q
        return mq + (mp - mq) * self.q_inv % p * q

    def decrypt(self, c: mpz) -> mpz:
        """The plaintext in [0, n) of one ciphertext in Z*_{n²}."""
        xp = gmpy2.powmod(c % self.psquare, self.p - 1, self.psquare)
        xq = gmpy2.powmod(c % self.qsquare, self.q - 1, self.qsquare)
        return self._join(xp, xq)

    def decrypt_many(self, cs: Sequence[mpz], *, threads: bool = True) -> list[mpz]:
        """Plaintexts in [0, n) of many ciphertexts.

        ``powmod_base_list`` releases the GIL, so with ``threads`` the p half runs on a
        second thread while this one does the q half: nearly twice as fast on two cores.
        """
        if not cs:
            return []
        bases_p = [c % self.psquare for c in cs]
        bases_q = [c % self.qsquare for c in cs]
        if threads and len(cs) > 1:
            with ThreadPoolExecutor(max_workers=1) as pool:
                future = pool.submit(gmpy2.powmod_base_list, bases_p, self.p - 1, self.psquare)
                xq = gmpy2.powmod_base_list(bases_q, self.q - 1, self.qsquare)
                xp = future.result()
        else:
            xp = gmpy2.powmod_base_list(bases_p, self.p - 1, self.psquare)
            xq = gmpy2.powmod_base_list(bases_q, self.q - 1, self.qsquare)
        return [self._join(a, b) for a, b in zip(xp, xq, strict=True)]
