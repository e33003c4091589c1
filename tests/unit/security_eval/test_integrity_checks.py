"""Protocol-level integrity checks (5.5.1.1e): each names the faulty party; clean runs flag nobody."""

from __future__ import annotations

import dataclasses
import secrets
from collections import deque

import numpy as np
import pytest

from medfed.aggregation.fedavg import FedAvg
from medfed.aggregation.screening import ScreenedStrategy, outliers
from medfed.aggregation.secure_integrity import check_shares, find_share_faults
from medfed.aggregation.strategy import ClientReply
from medfed.errors import HEError, ProtocolError
from medfed.node.adversary import flip_labels, random_ciphertexts, random_shares
from medfed.orchestration.security_eval import _he_round, _secure_round, hospital_names
from medfed.privacy.he import generate_scheme, load_scheme
from medfed.privacy.he.integrity import check_decrypted_sum, check_fresh_update, header_bytes
from medfed.privacy.he.paillier import generate_keypair
from medfed.privacy.secagg._shamir import PRIME, split
from medfed.training.vertical import ArbiterParty, GuestParty, HostParty, VerticalConfig
from medfed.training.vertical.messages import MaskedGradient

NAMES = hospital_names(10)


@pytest.fixture(scope="module")
def paillier():
    key = generate_scheme("paillier", max_addends=64)
    return key, load_scheme(key.public_bytes())


@pytest.fixture(scope="module")
def ckks():
    key = generate_scheme("ckks", max_addends=64)
    return key, load_scheme(key.public_bytes())


@pytest.mark.clause("5.5.1.1e")
def test_a_wrong_shamir_share_is_named_and_the_secret_still_recovered() -> None:
    shares = split(123456789, list(range(1, 11)), 6, secrets)
    assert check_shares(shares, 6).faulty == ()  # clean: nobody flagged
    shares[4] = (shares[4] + 1) % PRIME
    shares[9] = 7
    result = check_shares(shares, 6)
    assert result.decided and result.faulty == (4, 9)
    # Exactly t shares cannot be checked; more wrong shares than (k − t) / 2 cannot be attributed.
    assert check_shares({x: shares[x] for x in (1, 2, 3, 4, 5, 6)}, 6).faulty == ()
    shares[2] = 11
    assert not check_shares(shares, 6).decided and check_shares(shares, 6).faulty == ()
    faults, undecided = find_share_faults({(3, "self-mask"): shares}, 6)
    assert faults == [] and undecided == [(3, "self-mask")]


@pytest.mark.clause("5.5.1.1a")
@pytest.mark.clause("5.5.1.1e")
def test_secure_aggregation_names_nodes_sending_random_shares_and_keeps_the_sum() -> None:
    rng = np.random.default_rng(1)
    updates = {n: rng.normal(0, 0.05, 300).astype(np.float32) for n in NAMES}
    truth: list = []
    detected, info = _secure_round(NAMES, NAMES[:2], "shares", 1, updates, rng, 0.5, truth)
    assert detected == set(NAMES[:2]) and set(info["faults"]) == set(NAMES[:2])
    assert {f.node for f in truth} == set(NAMES[:2]) and all(f.target == "shares" for f in truth)
    assert info["included"] == sorted(NAMES)  # their masked inputs were already in the sum
    assert info["max_error"] < 0.05  # the sum was rebuilt from the consistent shares
    clean_truth: list = []
    detected, info = _secure_round(NAMES, (), "shares", 2, updates, rng, 0.5, clean_truth)
    assert detected == set() and info["faults"] == {} and clean_truth == []


@pytest.mark.clause("5.5.1.1e")
def test_a_node_dropping_at_any_stage_leaves_the_round_to_the_others() -> None:
    rng = np.random.default_rng(2)
    updates = {n: rng.normal(0, 0.05, 100).astype(np.float32) for n in NAMES}
    for round_number in range(1, 5):  # each round drops the adversaries at another stage
        truth: list = []
        detected, info = _secure_round(NAMES, NAMES[:3], "dropout", round_number, updates, rng, 0.5, truth)
        assert detected == set(NAMES[:3]) and len(truth) == 3
        assert info["max_error"] < 0.05


@pytest.mark.clause("5.5.1.1e")
def test_paillier_ciphertexts_are_checked_before_adding(paillier) -> None:
    key, public = paillier
    size = 70
    chunks = key.encrypt(np.linspace(-1, 1, size))
    check_fresh_update(public, chunks, size)  # a fresh, well-formed update passes
    head = header_bytes(key, chunks[0])
    n = key.public_key.n
    length = len(chunks[0]) - head
    for bad_value in (0, n, n * n, n * n + 5):  # zero, not a unit, out of range
        body = (bad_value % 2 ** (8 * length)).to_bytes(length, "big")
        with pytest.raises(HEError):
            check_fresh_update(public, [chunks[0][:head] + body, *chunks[1:]], size)
    with pytest.raises(HEError, match="chunks"):
        check_fresh_update(public, chunks[:-1], size)
    with pytest.raises(HEError, match="1 addend"):
        check_fresh_update(public, public.add([chunks, chunks]), size)
    # A random unit mod n² is well-formed: the key holder's range check on the sum catches it.
    rng = np.random.default_rng(3)
    forged, changed = random_ciphertexts(chunks, 0.5, rng, header_bytes=head, modulus=n * n)
    assert changed >= 1
    total = key.decrypt(public.add([chunks, chunks]), size)
    check_decrypted_sum(total, addends=2, bound=key.bound)
    with pytest.raises(HEError):
        check_decrypted_sum(key.decrypt(public.add([forged, chunks]), size), addends=2, bound=key.bound)


@pytest.mark.clause("5.5.1.1e")
def test_encrypted_rounds_exclude_named_senders_and_flag_nobody_when_clean(ckks, paillier) -> None:
    rng = np.random.default_rng(4)
    updates = {n: rng.normal(0, 0.05, 500).astype(np.float32) for n in NAMES}
    key, public = ckks
    truth: list = []
    detected, info = _he_round(key, public, NAMES, NAMES[:2], 1, updates, rng, 0.5, truth)
    assert detected == set(NAMES[:2]) and info["included"] == sorted(NAMES[2:])
    assert info["max_error"] < 1e-4 and not info["sum_refused"]
    truth = []
    detected, info = _he_round(key, public, NAMES, (), 2, updates, rng, 0.5, truth)
    assert detected == set() and truth == [] and info["max_error"] < 1e-4
    key, public = paillier
    detected, info = _he_round(key, public, NAMES, NAMES[:2], 3, updates, rng, 0.5, truth)
    assert info["sum_refused"]  # well-formed random ciphertexts: caught at decryption, unnamed
    detected, info = _he_round(key, public, NAMES, (), 4, updates, rng, 0.5, [])
    assert detected == set() and not info["sum_refused"] and info["max_error"] < 1e-6


@pytest.fixture(scope="module")
def arbiter_key():
    return generate_keypair(2048)[1]


def _vertical(arbiter_key, corrupt=None):
    rng = np.random.default_rng(0)
    cfg = VerticalConfig(2, 0.5)
    parties = {
        "guest": GuestParty("guest", rng.normal(size=(6, 2)), np.array([0, 1, 1, 0, 1, 0]), hosts=["h1"],
                            arbiter="arb", config=cfg),
        "h1": HostParty("h1", rng.normal(size=(6, 2)), guest="guest", arbiter="arb", config=cfg),
        "arb": ArbiterParty("arb", parties={"guest": 3, "h1": 2}, config=cfg, private_key=arbiter_key),
    }
    queue = deque(parties["arb"].start())
    while queue:
        message = queue.popleft()
        if corrupt is not None:
            message = corrupt(message)
        queue.extend(parties[message.recipient].receive(message))
    return parties["arb"]


@pytest.mark.clause("5.5.1.1e")
def test_the_arbiter_names_a_party_whose_masked_gradient_is_random(arbiter_key) -> None:
    assert _vertical(arbiter_key).faults == {}  # an honest run: nobody flagged
    n2 = arbiter_key.public_key.n ** 2
    rng = np.random.default_rng(5)

    def corrupt(message):
        if isinstance(message, MaskedGradient) and message.sender == "h1":
            forged = int.from_bytes(rng.bytes(520), "big") % n2
            cts = (forged.to_bytes(len(message.ciphertexts[0]), "big"), *message.ciphertexts[1:])
            return dataclasses.replace(message, ciphertexts=cts)
        return message

    with pytest.raises(ProtocolError, match="'h1'"):
        _vertical(arbiter_key, corrupt)


@pytest.mark.clause("5.5.1.1e")
def test_the_update_screen_names_attackers_and_not_honest_nodes() -> None:
    rng = np.random.default_rng(6)
    base = {"w": np.zeros(50, np.float32), "n": np.array(0)}
    honest = [ClientReply(f"h{i}", {"w": rng.normal(0.1, 0.02, 50).astype(np.float32), "n": np.array(0)}, 10)
              for i in range(8)]
    assert outliers(base, honest, 3.0) == {}
    attackers = [ClientReply(f"a{i}", {"w": (-10 * honest[i].params["w"]), "n": np.array(0)}, 10) for i in range(2)]
    screen = ScreenedStrategy(FedAvg(), factor=3.0)
    out = screen.aggregate(1, base, honest + attackers)
    assert set(screen.flagged[1]) == {"a0", "a1"}
    assert float(out["w"].mean()) > 0.05  # the sign-flipped updates did not pull the mean below 0


def test_fault_injectors_keep_type_and_range() -> None:
    rng = np.random.default_rng(7)
    shares = ((1, (5).to_bytes(66, "big")), (2, (9).to_bytes(66, "big")))
    out = random_shares(shares, rng)
    assert [o for o, _ in out] == [1, 2] and all(len(v) == 66 and int.from_bytes(v, "big") < PRIME for _, v in out)
    assert out != shares
    np.testing.assert_array_equal(flip_labels(np.array([0, 1, 1, 0]), 2), [1, 0, 0, 1])


@pytest.mark.clause("5.5.1.1e")
def test_shares_replayed_from_an_earlier_round_are_named() -> None:
    rng = np.random.default_rng(8)
    updates = {n: rng.normal(0, 0.05, 100).astype(np.float32) for n in NAMES}
    memory: dict = {}
    truth: list = []
    first, _ = _secure_round(NAMES, NAMES[:2], "replay", 1, updates, rng, 0.5, truth, memory)
    assert first == set() and truth == []  # nothing to replay yet: round 1 is honest
    second, info = _secure_round(NAMES, NAMES[:2], "replay", 2, updates, rng, 0.5, truth, memory)
    assert second == set(NAMES[:2]) and {f.node for f in truth} == set(NAMES[:2])
    assert info["max_error"] < 0.05


def test_the_secure_round_reports_each_named_node_once_to_its_fault_hook(monkeypatch) -> None:
    import medfed.orchestration.security_eval as evaluation
    from medfed.dispatcher.secure_round import SecureRound

    seen: list[tuple[str, str]] = []

    class Hooked(SecureRound):
        def __init__(self, **kwargs) -> None:
            super().__init__(**kwargs, on_fault=lambda node, finding: seen.append((node, finding)))

    rng = np.random.default_rng(9)
    updates = {n: rng.normal(0, 0.05, 50).astype(np.float32) for n in NAMES}
    monkeypatch.setattr(evaluation, "SecureRound", Hooked)
    _secure_round(NAMES, NAMES[:1], "shares", 1, updates, rng, 0.5, [])
    assert [node for node, _ in seen] == [NAMES[0]] and "Shamir share" in seen[0][1]


@pytest.mark.clause("5.5.1.1e")
def test_the_vertical_trial_names_the_host_and_flags_nobody_when_clean(arbiter_key) -> None:
    from medfed.orchestration.security_eval import _vertical_run

    rng = np.random.default_rng(10)
    truth: list = []
    assert _vertical_run(arbiter_key, False, 2, rng, truth) == set() and truth == []
    named = _vertical_run(arbiter_key, True, 2, rng, truth)
    assert named == {(f.round, f.node) for f in truth} == {(1, "h1")}
