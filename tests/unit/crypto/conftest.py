"""Adapters to gmssl (pure-Python SM2/SM3/SM4), the independent implementation we cross-check."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from medfed.crypto import get_suite
from medfed.crypto.gm import GmSuite
from medfed.crypto.intl import IntlSuite


@pytest.fixture(scope="session")
def gm() -> GmSuite:
    suite = get_suite("gm")
    assert isinstance(suite, GmSuite)
    return suite


@pytest.fixture(scope="session")
def intl() -> IntlSuite:
    suite = get_suite("intl")
    assert isinstance(suite, IntlSuite)
    return suite


@pytest.fixture(scope="session")
def gmssl_sm2() -> Callable[..., Any]:
    """A factory of gmssl ``CryptSM2`` objects ``(private_hex, public_xy_hex, **kwargs)``.

    The public key is set after construction because gmssl's constructor ``lstrip("04")``s
    it, which corrupts keys whose hex starts with 0 or 4.
    """
    sm2 = pytest.importorskip("gmssl.sm2")

    def make(private_hex: str | None, public_xy_hex: str, **kwargs: Any) -> Any:
        signer = sm2.CryptSM2(private_key=private_hex, public_key="00", **kwargs)
        signer.public_key = public_xy_hex
        return signer

    return make
