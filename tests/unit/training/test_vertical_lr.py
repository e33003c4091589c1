"""Paillier vertical logistic regression with an arbiter: exactness, what each party sees,
and refusal of out-of-protocol messages."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest

from medfed.data.tabular import (
    PartySplit,
    Table,
    fit_standardizer,
    load_breast_cancer_table,
    split_columns,
)
from medfed.errors import ConfigError, DataError, HEError, ProtocolError
from medfed.evaluation.metrics import classification_metrics
from medfed.privacy.he.paillier import PaillierPrivateKey, generate_keypair
from medfed.training.vertical import (
    ArbiterParty,
    DecryptedGradient,
    GuestParty,
    HostForward,
    HostParty,
    MaskedGradient,
    PartialScore,
    PublicKeyMessage,
    Residual,
    VerticalConfig,
    VerticalResult,
    align_parties,
    batch_rows,
    message_from_wire,
    predict_proba,
    predict_vertical,
    run_vertical_lr,
    taylor_lr_fit,
)

PARTIES = ("guest", "h1", "h2")
LR, L2, ITERATIONS, BATCH = 0.3, 0.01, 4, 40


@pytest.fixture(scope="session")
def arbiter_key() -> PaillierPrivateKey:
    return generate_keypair(2048)[1]


@pytest.fixture(scope="session")
def other_key() -> PaillierPrivateKey:
    return generate_keypair(2048)[1]


def _standardised(
    parts: dict[str, PartySplit], n_train: int
) -> tuple[dict[str, Table], dict[str, Table]]:
    """Each party standardises its own columns on its own training rows."""
    train, test = {}, {}
    for name, part in parts.items():
        rows = part.train.rows(np.arange(min(n_train, len(part.train))))
        scaler = fit_standardizer(rows.features)
        train[name] = dataclasses.replace(rows, features=scaler.apply(rows.features))
        test[name] = dataclasses.replace(part.test, features=scaler.apply(part.test.features))
    return train, test


@pytest.fixture(scope="module")
def three_party() -> tuple[dict[str, Table], dict[str, Table]]:
    parts = split_columns(load_breast_cancer_table(seed=0), PARTIES, label_party="guest", seed=1)
    return _standardised(parts, 90)


@pytest.fixture(scope="module")
def run(
    three_party: tuple[dict[str, Table], dict[str, Table]], arbiter_key: PaillierPrivateKey
) -> VerticalResult:
    train, _ = three_party
    return run_vertical_lr(
        train,
        iterations=ITERATIONS,
        lr=LR,
        l2=L2,
        batch_size=BATCH,
        seed=4,
        private_key=arbiter_key,
        delivery_seed=9,
    )


def _config() -> VerticalConfig:
    return VerticalConfig(ITERATIONS, LR, L2, BATCH, 4)


@pytest.mark.clause("5.4.3.4-2", "5.4.1")
def test_encrypted_training_equals_plaintext_taylor_lr(
    run: VerticalResult, three_party: tuple[dict[str, Table], dict[str, Table]]
) -> None:
    train, test = three_party
    labels = train["guest"].labels
    assert labels is not None
    model = taylor_lr_fit([train[p].features for p in PARTIES], labels, config=_config())
    for name, expected in zip(PARTIES, model.weights, strict=True):
        assert np.max(np.abs(run.weights[name] - expected)) < 1e-4
        assert np.max(np.abs(run.weights[name])) > 1e-3  # it did learn something
    assert abs(run.bias - model.bias) < 1e-4
    joint = predict_vertical(run, test)
    assert np.max(np.abs(joint - predict_proba([test[p].features for p in PARTIES], model))) < 1e-4
    assert len(run.traffic) == ITERATIONS and all(
        run.traffic[1][p] > 0 for p in (*PARTIES, "arbiter")
    )


@pytest.mark.clause("5.4.3.4-2", "5.5.1.1a")
def test_arbiter_receives_only_ciphertexts_and_decrypts_only_masked_gradients(
    run: VerticalResult,
    three_party: tuple[dict[str, Table], dict[str, Table]],
    arbiter_key: PaillierPrivateKey,
) -> None:
    train, _ = three_party
    pk = arbiter_key.public_key
    to_arbiter = [m for m in run.messages if m.recipient == "arbiter"]
    assert to_arbiter and all(isinstance(m, MaskedGradient) for m in to_arbiter)
    for m in to_arbiter:
        assert all(pk.ciphertext_from_bytes(c) > pk.n for c in m.ciphertexts)  # type: ignore[attr-defined]
    labels = train["guest"].labels
    assert labels is not None
    blocks = {p: train[p].features for p in PARTIES}
    blocks["guest"] = np.hstack([blocks["guest"], np.ones((len(labels), 1))])
    scale = 2.0 ** (2 * _config().frac_bits + 2)
    decrypted = [m for m in run.messages if isinstance(m, DecryptedGradient)]
    assert len(decrypted) == ITERATIONS * len(PARTIES)
    for m in decrypted:
        # The true numerator X^T d (at 2^(2F+2)) from the plaintext twin's weights at that step.
        cfg = dataclasses.replace(_config(), iterations=max(m.iteration, 1))
        model = taylor_lr_fit([train[p].features for p in PARTIES], labels, config=cfg)
        ws = [np.zeros_like(w) for w in model.weights] if m.iteration == 0 else list(model.weights)
        bias = 0.0 if m.iteration == 0 else model.bias
        rows = batch_rows(len(labels), _config(), m.iteration)
        u = sum(train[p].features[rows] @ w for p, w in zip(PARTIES, ws, strict=True)) + bias
        d = 0.25 * u - labels[rows] + 0.5
        true = blocks[m.recipient][rows].T @ d * scale
        assert len(m.values) == len(true)
        for value, g in zip(m.values, true, strict=True):
            assert abs(value - int(round(g))) > 2**100  # hidden under a mask


@pytest.mark.clause("5.4.2.1", "5.5.1.1a")
def test_guest_never_receives_host_features_or_weights(
    run: VerticalResult, three_party: tuple[dict[str, Table], dict[str, Table]]
) -> None:
    train, _ = three_party
    to_guest = [m for m in run.messages if m.recipient == "guest"]
    assert {m.kind for m in to_guest} == {"public_key", "host_forward", "decrypted_gradient"}
    for m in to_guest:
        if isinstance(m, DecryptedGradient):
            assert m.sender == "arbiter" and len(m.values) == train["guest"].features.shape[1] + 1
    wire = b"".join(a.tobytes() for m in to_guest for a in m.to_wire()[1].values())
    for host in ("h1", "h2"):
        secrets_of_host = np.r_[train[host].features[:10].ravel(), run.weights[host]]
        for value in secrets_of_host:
            assert np.float64(value).tobytes() not in wire
    to_hosts = [m for m in run.messages if m.recipient in ("h1", "h2")]
    assert {m.kind for m in to_hosts} == {"public_key", "residual", "decrypted_gradient"}


def _small_parties(key: PaillierPrivateKey) -> tuple[GuestParty, HostParty, ArbiterParty]:
    rng = np.random.default_rng(0)
    cfg = VerticalConfig(2, 0.5)
    guest = GuestParty(
        "guest",
        rng.normal(size=(6, 2)),
        np.array([0, 1, 1, 0, 1, 0]),
        hosts=["h1"],
        arbiter="arb",
        config=cfg,
    )
    host = HostParty("h1", rng.normal(size=(6, 2)), guest="guest", arbiter="arb", config=cfg)
    arbiter = ArbiterParty("arb", parties={"guest": 3, "h1": 2}, config=cfg, private_key=key)
    return guest, host, arbiter


@pytest.mark.clause("5.4.3.4-2")
def test_wrong_sender_kind_or_iteration_raises_protocol_error(
    arbiter_key: PaillierPrivateKey,
) -> None:
    guest, host, arbiter = _small_parties(arbiter_key)
    keys = {m.recipient: m for m in arbiter.start()}
    with pytest.raises(ProtocolError):
        host.receive(dataclasses.replace(keys["h1"], sender="mallory"))
    [forward] = host.receive(keys["h1"])
    with pytest.raises(ProtocolError):
        host.receive(keys["h1"])  # a key again, where a residual is due
    assert guest.receive(keys["guest"]) == []
    with pytest.raises(ProtocolError):
        guest.receive(dataclasses.replace(forward, iteration=1))
    with pytest.raises(ProtocolError):
        guest.receive(dataclasses.replace(forward, sender="h2"))
    with pytest.raises(ProtocolError):
        guest.receive(dataclasses.replace(forward, recipient="someone-else"))
    out = guest.receive(forward)
    with pytest.raises(ProtocolError):
        guest.receive(forward)  # a replay: iteration 0 is over for the guest
    residual = next(m for m in out if isinstance(m, Residual))
    masked = next(m for m in out if isinstance(m, MaskedGradient))
    with pytest.raises(ProtocolError):
        host.receive(dataclasses.replace(residual, iteration=1))
    with pytest.raises(ProtocolError):
        arbiter.receive(dataclasses.replace(masked, iteration=1))
    with pytest.raises(ProtocolError):
        arbiter.receive(residual)  # only masked gradients go to the arbiter
    with pytest.raises(ProtocolError, match="expected 3"):
        # A residual-sized vector (asking the arbiter to decrypt d) is refused.
        arbiter.receive(dataclasses.replace(masked, ciphertexts=residual.ciphertexts))
    with pytest.raises(ProtocolError):
        guest.receive(DecryptedGradient("h1", "guest", 0, values=(1, 2, 3)))
    [host_masked] = host.receive(residual)
    [reply] = arbiter.receive(masked)
    guest.receive(reply)
    with pytest.raises(ProtocolError):
        arbiter.receive(masked)  # a replay of iteration 0
    [host_reply] = arbiter.receive(host_masked)
    [next_forward] = host.receive(host_reply)
    assert next_forward.iteration == 1


@pytest.mark.clause("5.4.3.4-2")
def test_ciphertexts_under_another_key_raise_he_error(
    arbiter_key: PaillierPrivateKey, other_key: PaillierPrivateKey
) -> None:
    guest, host, arbiter = _small_parties(arbiter_key)
    keys = {m.recipient: m for m in arbiter.start()}
    [forward] = host.receive(keys["h1"])
    guest.receive(keys["guest"])
    foreign = other_key.public_key
    assert isinstance(forward, HostForward)
    alien = tuple(foreign.ciphertext_bytes(foreign.encrypt(5)) for _ in forward.ciphertexts)
    with pytest.raises(HEError):
        guest.receive(
            dataclasses.replace(forward, fingerprint=foreign.fingerprint(), ciphertexts=alien)
        )
    with pytest.raises(HEError):  # the right fingerprint cannot make a non-ciphertext valid
        guest.receive(dataclasses.replace(forward, ciphertexts=tuple(bytes(len(c)) for c in alien)))
    out = guest.receive(forward)
    masked = next(m for m in out if isinstance(m, MaskedGradient))
    with pytest.raises(HEError):
        arbiter.receive(
            dataclasses.replace(masked, fingerprint=foreign.fingerprint(), ciphertexts=alien[:3])
        )


@pytest.mark.clause("5.4.1")
def test_parties_without_shared_patients_raise_data_error() -> None:
    parts = split_columns(
        load_breast_cancer_table(seed=0), ["guest", "h1"], label_party="guest", seed=2
    )
    guest = parts["guest"].train.rows(np.arange(0, 50))
    host = parts["h1"].train.rows(np.arange(50, 100))
    with pytest.raises(DataError, match="no patients in common"):
        align_parties({"guest": guest, "h1": host}, study_id="vertical-test")
    with pytest.raises(DataError, match="not aligned"):
        run_vertical_lr({"guest": guest, "h1": host}, iterations=1, lr=0.1)


def test_every_message_kind_survives_its_wire_form(run: VerticalResult) -> None:
    kinds = set()
    for message in run.messages[:40]:
        header, arrays = message.to_wire()
        json.dumps(header)
        assert message_from_wire(header, arrays) == message
        kinds.add(message.kind)
    assert kinds >= {
        "public_key",
        "host_forward",
        "residual",
        "masked_gradient",
        "decrypted_gradient",
    }
    score = PartialScore("h1", "guest", 3, scores=np.array([0.5, -1.25]))
    back = message_from_wire(*score.to_wire())
    assert isinstance(back, PartialScore) and np.array_equal(back.scores, score.scores)
    with pytest.raises(ProtocolError):
        message_from_wire({"kind": "residual", "sender": "g", "recipient": "h", "iteration": 0}, {})
    with pytest.raises(ProtocolError):
        message_from_wire(
            {"kind": "public_key", "sender": "g", "recipient": "h", "iteration": "0", "n": "ff"}, {}
        )
    assert isinstance(
        message_from_wire(*PublicKeyMessage("a", "g", 0, n=255).to_wire()), PublicKeyMessage
    )


def test_options_are_validated() -> None:
    with pytest.raises(ConfigError):
        VerticalConfig(0, 0.1)
    with pytest.raises(ConfigError):
        VerticalConfig(3, -1.0)
    with pytest.raises(ConfigError):
        VerticalConfig(3, 0.1, batch_size=0)


@pytest.mark.clause("A.1", "5.5.2-2", "5.4.3.4-2")
def test_psi_aligned_vertical_lr_matches_scikit_learn_auc(arbiter_key: PaillierPrivateKey) -> None:
    from sklearn.linear_model import LogisticRegression

    table = load_breast_cancer_table(seed=0)
    table = Table(table.ids, table.features[:, :12], table.labels, table.feature_names[:12])
    parts = split_columns(table, ["guest", "h1"], label_party="guest", seed=3, overlap=0.9)
    ids = {name: set(p.train.ids + p.test.ids) for name, p in parts.items()}
    aligned_train = align_parties({n: p.train for n, p in parts.items()}, study_id="auc-test")
    aligned_test = align_parties({n: p.test for n, p in parts.items()}, study_id="auc-test")
    assert set(aligned_train["guest"].ids) <= ids["guest"] & ids["h1"]
    aligned = {n: PartySplit(n, aligned_train[n], aligned_test[n]) for n in parts}
    train, test = _standardised(aligned, 120)
    result = run_vertical_lr(train, iterations=5, lr=0.5, seed=0, private_key=arbiter_key)
    proba = predict_vertical(result, test)
    labels, test_labels = train["guest"].labels, test["guest"].labels
    assert labels is not None and test_labels is not None
    central = LogisticRegression(max_iter=1000).fit(
        np.hstack([train["guest"].features, train["h1"].features]), labels
    )
    central_proba = central.predict_proba(np.hstack([test["guest"].features, test["h1"].features]))[
        :, 1
    ]
    ours = classification_metrics(test_labels, np.column_stack([1 - proba, proba]))
    theirs = classification_metrics(
        test_labels, np.column_stack([1 - central_proba, central_proba])
    )
    assert ours.auc > 0.95
    assert abs(ours.auc - theirs.auc) < 0.005
    assert abs(ours.ks - theirs.ks) < 0.05  # Appendix A.1
