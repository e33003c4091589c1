"""Published example vectors: GB/T 32905 (SM3), GB/T 32907 (SM4), GB/T 32918 (SM2)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from asn1crypto.algos import DSASignature
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from tongsuopy.crypto.asymciphers import ec as ts_ec

from medfed.crypto import CryptoError
from medfed.crypto.gm import DEFAULT_USER_ID, GmSuite, GmVerifyKey, sm3

pytestmark = pytest.mark.clause("5.5.1.3a")

# GB/T 32918.5-2017 recommended curve (also GM/T 0003.5-2012).
SM2_CURVE = {
    "p": "FFFFFFFEFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF00000000FFFFFFFFFFFFFFFF",
    "a": "FFFFFFFEFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF00000000FFFFFFFFFFFFFFFC",
    "b": "28E9FA9E9D9F5E344D5A9E4BCF6509A7F39789F515AB8F92DDBCBD414D940E93",
    "g": "32C4AE2C1F1981195F9904466A39C9948FE30BBFF2660BE1715A4589334C74C7"
    "BC3736A2F4F6779C59BDCEE36B692153D0A9877CC62A474002DF32E52139F0A0",
    "n": "FFFFFFFEFFFFFFFFFFFFFFFFFFFFFFFF7203DF6B21C6052B53BBF40939D54123",
}
# GB/T 32918.5 / GM/T 0003.5 Annex A: signature on the recommended curve, default user ID.
ANNEX_A = {
    "d": "3945208F7B2144B13F36E38AC6D39F95889393692860B51A42FB81EF4DF7C5B8",
    "k": "59276E27D506861A16680F3AD9C02DCCEF3CC1FA3CDBE4CE6D54B80DEAC1BC21",
    "r": "F5A03B0648D2C4630EEAC513E1BB81A15944DA3827D5B74143AC7EACEEE720B3",
    "s": "B1B6AA29DF212FD8763182BC0D421CA1BB9038FD1F7F42D4840B69C485BBC1AA",
}
# GB/T 32918.2 Annex A (draft-shen-sm2-ecdsa): the 256-bit test curve, ID ALICE123@YAHOO.COM.
TEST_CURVE = {
    "p": "8542D69E4C044F18E8B92435BF6FF7DE457283915C45517D722EDB8B08F1DFC3",
    "a": "787968B4FA32C3FD2417842E73BBFEFF2F3C848B6831D7E0EC65228B3937E498",
    "b": "63E4C6D3B23B0C849CF84241484BFE48F61D59A5B16BA06E6E12D1DA27C5249A",
    "g": "421DEBD61B62EAB6746434EBC3CC315E32220B3BADD50BDC4C4E6C147FEDD43D"
    "0680512BCBB42C07D47349D2153B70C4E5D7FDFCBFA36EA1A85841B9E46E09A2",
    "n": "8542D69E4C044F18E8B92435BF6FF7DD297720630485628D5AE74EE7C32E79B7",
}
ALICE_ID = b"ALICE123@YAHOO.COM"
ALICE = {
    "d": "128B2FA8BD433C6C068C8D803DFF79792A519A55171B1B650C23661D15897263",
    "pub": "0AE4C7798AA0F119471BEE11825BE46202BB79E2A5844495E97C04FF4DF2548A"
    "7C0240F88F1CD4E16352A73C17B7F16F07353E53A176D684A9FE0C6BB798E857",
    "za": "F4A38489E32B45B6F876E3AC2168CA392362DC8F23459C1D1146FC3DBFB7BC9A",
    "e": "B524F552CD82B8B028476E005C377FB19A87E6FC682D48BB5D42E3D9B9EFFE76",
    "k": "6CB28D99385C175C94F94E934817663FC176D925DD72B727260DBAAE1FB2F96F",
    "r": "40F1EC59F793D9F49E09DCEF49130D4194F79FB1EED2CAA55BACDB49C4E755D1",
    "s": "6FC6DAC32C5D5CF10C77DFB20F7C2EB667A457872FB09EC56327A67EC7DEEBE7",
}
MESSAGE = b"message digest"


def z_a(user_id: bytes, curve: dict[str, str], public_xy: str) -> bytes:
    """Z_A = SM3(ENTL_A ‖ ID_A ‖ a ‖ b ‖ x_G ‖ y_G ‖ x_A ‖ y_A), GB/T 32918.2 §5.5."""
    fields = bytes.fromhex(curve["a"] + curve["b"] + curve["g"] + public_xy)
    return sm3((len(user_id) * 8).to_bytes(2, "big") + user_id + fields)


def der_signature(r: str, s: str) -> bytes:
    return DSASignature({"r": int(r, 16), "s": int(s, 16)}).dump()


def test_sm3_example_1_abc() -> None:
    assert sm3(b"abc").hex() == "66c7f0f462eeedd9d1f2d46bdc10e4e24167c4875cf2f7a2297da02b8f4ba8e0"


def test_sm3_example_2_512_bits() -> None:
    assert (
        sm3(b"abcd" * 16).hex()
        == "debe9ff92275b8a138604889c18e5a4d6fdb70e5387e5765293dcba39c0c5732"
    )


def test_suite_digest_is_sm3(gm: GmSuite) -> None:
    assert gm.digest(b"abc") == sm3(b"abc") and gm.digest_size == 32


def test_sm4_example_1() -> None:
    key = bytes.fromhex("0123456789abcdeffedcba9876543210")
    enc = Cipher(algorithms.SM4(key), modes.ECB()).encryptor()
    assert (enc.update(key) + enc.finalize()).hex() == "681edf34d206965e86b3e94f536e4246"


def test_sm4_example_2_one_million_iterations() -> None:
    key = bytes.fromhex("0123456789abcdeffedcba9876543210")
    enc = Cipher(algorithms.SM4(key), modes.ECB()).encryptor()
    block = key
    for _ in range(1_000_000):
        block = enc.update(block)
    assert block.hex() == "595298c7c6fd271f0402f804c33d3f66"


def _annex_a_public_key() -> ts_ec.EllipticCurvePublicKey:
    return ts_ec.derive_private_key(int(ANNEX_A["d"], 16), ts_ec.SM2()).public_key()


def test_sm2_annex_a_signature_verifies_with_tongsuo() -> None:
    key = GmVerifyKey(_annex_a_public_key())
    key.verify(MESSAGE, der_signature(ANNEX_A["r"], ANNEX_A["s"]))


def test_sm2_annex_a_signature_is_reproduced_by_gmssl_with_z_a(
    gmssl_sm2: Callable[..., Any],
) -> None:
    numbers = _annex_a_public_key().public_numbers()
    public_xy = f"{numbers.x:064x}{numbers.y:064x}"
    e = sm3(z_a(DEFAULT_USER_ID, SM2_CURVE, public_xy) + MESSAGE)
    signer = gmssl_sm2(ANNEX_A["d"], public_xy)
    assert signer.sign(e, ANNEX_A["k"]) == (ANNEX_A["r"] + ANNEX_A["s"]).lower()
    assert signer.verify_with_sm3((ANNEX_A["r"] + ANNEX_A["s"]).lower(), MESSAGE)


def test_sm2_test_curve_example_z_a_e_and_signature(gmssl_sm2: Callable[..., Any]) -> None:
    # Checks our Z_A formula against the standard's intermediate values, and gmssl's
    # arithmetic against the published (r, s), on the example curve with a non-default ID.
    assert z_a(ALICE_ID, TEST_CURVE, ALICE["pub"]).hex().upper() == ALICE["za"]
    e = sm3(bytes.fromhex(ALICE["za"]) + MESSAGE)
    assert e.hex().upper() == ALICE["e"]
    table = {name: value.lower() for name, value in TEST_CURVE.items()}
    signer = gmssl_sm2(ALICE["d"], ALICE["pub"], ecc_table=table)
    assert signer._kg(int(ALICE["d"], 16), table["g"]).upper() == ALICE["pub"]
    assert signer.sign(e, ALICE["k"]).upper() == ALICE["r"] + ALICE["s"]


def test_sm2_annex_a_signature_on_another_message_is_refused() -> None:
    key = GmVerifyKey(_annex_a_public_key())
    with pytest.raises(CryptoError):
        key.verify(b"message digesT", der_signature(ANNEX_A["r"], ANNEX_A["s"]))
