"""Malicious-party evaluation (standard 5.5.1.1e): inject faults, measure what holds and what is caught.

Two kinds of trial, both on real components:

* **Model level** — a study run in one process with a fraction of the hospitals malicious
  (``random_factors``, ``sign_flip``, ``scaling``, ``gaussian_noise`` on the update, or
  ``label_flip`` on their data). Each setting runs twice: plain FedAvg, and the robust option
  (update screening that names and excludes outliers, then a robust rule such as the median).
  Measured: final test AUC of both, and the screen's detection and false-positive rates.
* **Protocol level** — rounds of secure aggregation (real key agreement, masking, Shamir
  shares) and of encrypted aggregation (Paillier / CKKS) with the malicious hospitals replacing
  their Shamir share values, masked vectors, ciphertexts, replaying an earlier round's shares,
  or dropping out at a stage; and vertical LR with the host replacing a masked gradient value
  by a random ciphertext. Measured:
  detection and false-positive rates of the integrity checks (share consistency, ciphertext
  well-formedness, the key holder's range check), and whether the aggregate stayed correct.

Ground truth (what was injected) is recorded by the simulated adversaries, apart from what the
system reports; rates compare the two per (round, node).
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch

from medfed.aggregation.screening import ScreenedStrategy
from medfed.core.config import (
    AdversaryConfig,
    Behaviour,
    Party,
    PrivacyConfig,
    StrategyName,
    StudyConfig,
)
from medfed.core.messages import SecAggMessage
from medfed.data import LocalDataset, Split
from medfed.dispatcher.runtime import DispatcherRuntime
from medfed.dispatcher.secure_round import SecureRound, secure_settings
from medfed.dispatcher.setup import new_coordinator
from medfed.errors import ConfigError, HEError, MedfedError, ProtocolError
from medfed.node.adversary import (
    FaultRecord,
    flip_labels,
    random_ciphertexts,
    random_ring_words,
    random_shares,
)
from medfed.node.privacy import PrivacyGuard
from medfed.node.secure import SecureSession
from medfed.node.worker import NodeWorker
from medfed.orchestration.results import evaluate_params
from medfed.orchestration.runs import subsample
from medfed.orchestration.scenario import prepare_scenario
from medfed.privacy.he import VectorScheme, generate_scheme, load_scheme
from medfed.privacy.he.integrity import check_decrypted_sum, check_fresh_update, header_bytes
from medfed.privacy.secagg.messages import NodeShare, UnmaskShares
from medfed.privacy.secagg.wire import from_jsonable, to_jsonable
from medfed.roles import Role
from medfed.simulation import run_in_memory, simulated_consent

log = logging.getLogger("medfed.security_eval")

# Attacks on the update itself; label_flip, replay and dropout are separate rows below.
UPDATE_BEHAVIOURS = ("random_factors", "sign_flip", "scaling", "gaussian_noise")
MODEL_BEHAVIOURS = (*UPDATE_BEHAVIOURS, "label_flip")
PROTOCOL_TARGETS = ("shares", "masked", "dropout", "replay", "paillier", "ckks", "bfv", "vertical")


@dataclass(frozen=True)
class SecurityEvalOptions:
    """What to evaluate. Fractions are of the hospitals (rounded to whole hospitals)."""

    behaviours: tuple[str, ...] = ("random_factors", "sign_flip", "label_flip")
    fractions: tuple[float, ...] = (0.0, 0.1, 0.2, 0.3)
    hospitals: int = 10
    rounds: int | None = None
    robust: str = "median"
    screen_factor: float = 3.0
    value_fraction: float = 0.5  # random_factors: share of values replaced
    protocol_targets: tuple[str, ...] = ("shares", "masked", "dropout", "replay", "paillier", "ckks")
    protocol_rounds: int = 3
    protocol_values: int = 4096  # vector length in the protocol trials
    max_train: int | None = None  # cap on training images over all hospitals (quick runs)
    data_dir: Path | None = None
    device: str = "cpu"
    seed: int = 0

    def __post_init__(self) -> None:
        unknown = sorted(set(self.behaviours) - set(MODEL_BEHAVIOURS))
        if unknown:
            raise ConfigError(f"unknown behaviour(s) {unknown}; choose from {', '.join(MODEL_BEHAVIOURS)}")
        unknown = sorted(set(self.protocol_targets) - set(PROTOCOL_TARGETS))
        if unknown:
            raise ConfigError(f"unknown protocol target(s) {unknown}; choose from {', '.join(PROTOCOL_TARGETS)}")
        if any(not 0 <= f < 0.5 for f in self.fractions):
            raise ConfigError("adversary fractions must be in [0, 0.5): robust rules need an honest majority")
        if self.hospitals < 4:
            raise ConfigError(f"the evaluation needs at least 4 hospitals, not {self.hospitals}")
        if self.robust not in {"median", "trimmed_mean", "krum", "norm_bounded", "fedavg"}:
            raise ConfigError(f"unknown robust rule {self.robust!r}")
        if self.protocol_rounds < 1 or self.protocol_values < 1:
            raise ConfigError("protocol rounds and values must be positive")


def hospital_names(count: int) -> tuple[str, ...]:
    return tuple(f"h{i:02d}" for i in range(count))


def adversaries_for(names: Sequence[str], fraction: float) -> tuple[str, ...]:
    return tuple(names[: int(round(fraction * len(names)))])


def rates(injected: set[tuple[int, str]], detected: set[tuple[int, str]], total: int) -> dict[str, Any]:
    """Detection rate over injected (round, node) pairs; false-positive rate over the clean ones."""
    clean = total - len(injected)
    return {
        "injected": len(injected),
        "detected": len(detected & injected),
        "false_positives": len(detected - injected),
        "detection_rate": len(detected & injected) / len(injected) if injected else None,
        "false_positive_rate": len(detected - injected) / clean if clean else None,
    }


# ---------------------------------------------------------------- model level


def _study_for(base: StudyConfig, names: tuple[str, ...], rounds: int | None) -> StudyConfig:
    parties = tuple(p for p in base.parties if p.role is not Role.DATA) + tuple(Party(h, Role.DATA) for h in names)
    kept = {p.name for p in parties}
    # The evaluation's hospitals replace the study's: release rules for parties it drops go too.
    goals = replace(base.goals, sharing=tuple((p, r) for p, r in base.goals.sharing if p in kept))
    study = replace(base, parties=parties, goals=goals, privacy=PrivacyConfig(), adversary=AdversaryConfig())
    changes: dict[str, Any] = {"min_nodes": max(2, len(names) // 2)}
    if rounds is not None:
        changes["rounds"] = rounds
    return study.with_training(**changes)


def _run_study(
    study: StudyConfig, datasets: dict[str, LocalDataset], *, device: torch.device, wrap: Callable[[Any], Any] | None
) -> tuple[dict[str, np.ndarray], list[Any], Any]:
    """One in-process study, as ``medfed simulate`` runs it, with the strategy optionally wrapped."""
    gate, node_consent = simulated_consent(study) if study.security.require_grants else (None, {})
    coordinator = new_coordinator(study, now=time.monotonic(), consent=gate)
    screen = wrap(coordinator.strategy) if wrap is not None else None
    if screen is not None:
        coordinator.strategy = screen
    outboxes: dict[str, deque[bytes]] = {name: deque() for name in study.hospitals}
    runtime = DispatcherRuntime(coordinator, lambda node, frame: outboxes[node].append(frame))
    workers = {
        name: NodeWorker(
            name,
            datasets[name],
            device=device,
            guard=PrivacyGuard(),
            consent=node_consent.get(name),
            adversary=study.adversary if name in study.adversary.nodes else None,
        )
        for name in study.hospitals
    }
    for name in study.hospitals:
        runtime.join(name)
    run_in_memory(runtime, workers, outboxes, idle_s=0.005)
    injections = [i for w in workers.values() for i in w.injections]
    return runtime.coordinator.global_params, injections, screen


def _poisoned(datasets: dict[str, LocalDataset], nodes: Sequence[str], n_classes: int) -> dict[str, LocalDataset]:
    out = dict(datasets)
    for node in nodes:
        ds = datasets[node]
        out[node] = dataclasses.replace(ds, train=Split(ds.train.images, flip_labels(ds.train.labels, n_classes)))
    return out


def model_trials(study_base: StudyConfig, options: SecurityEvalOptions, *, progress: Callable[[str], None]) -> dict[str, Any]:
    """Final AUC with plain FedAvg and with the robust option, per behaviour and fraction."""
    names = hospital_names(options.hospitals)
    study = _study_for(study_base, names, options.rounds)
    scenario = subsample(prepare_scenario(study, data_dir=options.data_dir), options.max_train, study.training.seed)
    device = torch.device(options.device)
    rounds = study.training.rounds
    robust_name = StrategyName(options.robust)

    def run(behaviour: str | None, adversaries: tuple[str, ...], robust: bool) -> dict[str, Any]:
        s = study.with_training(strategy=robust_name if robust else StrategyName.FEDAVG)
        datasets = scenario.datasets
        truth: list[FaultRecord] = []
        if behaviour == "label_flip":
            datasets = _poisoned(datasets, adversaries, scenario.n_classes)
            truth = [FaultRecord(r, n, "labels", behaviour, int(len(datasets[n].train.labels)))
                     for r in range(1, rounds + 1) for n in adversaries]
        elif behaviour is not None and adversaries:
            s = replace(s, adversary=AdversaryConfig(
                nodes=adversaries, behaviour=Behaviour(behaviour), fraction=options.value_fraction, seed=options.seed
            ))
        start = time.perf_counter()
        wrap = (lambda inner: ScreenedStrategy(inner, factor=options.screen_factor)) if robust else None
        params, injections, screen = _run_study(s, datasets, device=device, wrap=wrap)
        truth += [FaultRecord(i.round, i.node, "update", i.behaviour, i.values_changed) for i in injections]
        auc = float(evaluate_params(s, scenario, params, device=device)[0].auc)
        row: dict[str, Any] = {"auc": auc, "seconds": time.perf_counter() - start}
        injected = {(f.round, f.node) for f in truth}
        if screen is not None:
            detected = {(r, n) for r, found in screen.flagged.items() for n in found}
            row.update(rates(injected, detected, rounds * len(names)))
        else:
            row["injected"] = len(injected)
        return row

    progress("clean run, FedAvg")
    clean = {"fedavg": run(None, (), False)}
    progress(f"clean run, robust ({options.robust} with screening)")
    clean["robust"] = run(None, (), True)
    results = []
    for behaviour in options.behaviours:
        for fraction in options.fractions:
            adversaries = adversaries_for(names, fraction)
            if not adversaries:
                continue
            progress(f"{behaviour}, {len(adversaries)}/{len(names)} malicious")
            fedavg = run(behaviour, adversaries, False)
            robust = run(behaviour, adversaries, True)
            results.append({
                "behaviour": behaviour,
                "fraction": fraction,
                "adversaries": list(adversaries),
                "fedavg": fedavg,
                "robust": robust,
                "delta_auc_fedavg": fedavg["auc"] - clean["fedavg"]["auc"],
                "delta_auc_robust": robust["auc"] - clean["fedavg"]["auc"],
            })
    return {
        "dataset": study.data.dataset,
        "model": study.training.model,
        "rounds": rounds,
        "hospitals": len(names),
        "robust_rule": options.robust,
        "screen_factor": options.screen_factor,
        "value_fraction": options.value_fraction,
        "clean": clean,
        "trials": results,
    }


# ---------------------------------------------------------------- protocol level


def _update_vectors(names: Sequence[str], size: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
    # Update-sized values of the scale a local epoch produces; the checks do not depend on them.
    return {n: rng.normal(0.0, 0.05, size).astype(np.float32) for n in names}


def _secure_round(
    names: tuple[str, ...], adversaries: tuple[str, ...], target: str, round_number: int,
    updates: dict[str, np.ndarray], rng: np.random.Generator, value_fraction: float, truth: list[FaultRecord],
    replay: dict[str, Any] | None = None,
) -> tuple[set[str], dict[str, Any]]:
    """One secure-aggregation round driven like the dispatcher drives it; faults injected en route
    (appended to ``truth`` as they happen, so an aborted round still counts them)."""
    settings = secure_settings({}, list(names))
    size = next(iter(updates.values())).size
    sr = SecureRound(study_id="security-eval", round_number=round_number, settings=settings, vector_size=size + 1)
    weights = {n: 10 + i for i, n in enumerate(names)}
    sessions = {
        n: SecureSession(
            study_id="security-eval", round_number=round_number, node=n, settings=settings,
            new={"w": updates[n]}, old={"w": np.zeros(size, np.float32)}, weight=weights[n],
        )
        for n in names
    }
    detected: set[str] = set()
    # Dropout: each malicious node leaves at a different stage, in turn.
    stages = ("advertise", "share_keys", "masked", "unmask_shares")
    drop_at = {n: stages[(i + round_number) % len(stages)] for i, n in enumerate(adversaries)}
    queue: deque[tuple[str, SecAggMessage]] = deque((n, sessions[n].advertise({})) for n in names)
    gone: set[str] = set()
    while queue:
        node, reply = queue.popleft()
        if node in adversaries and target == "replay" and replay is not None and reply.stage == "unmask_shares":
            # Stale: the shares this node sent in an earlier round, resent as this round's.
            old = replay.get(node)
            replay[node] = reply.body
            if old is not None:
                reply = dataclasses.replace(reply, body=old)
                truth.append(FaultRecord(round_number, node, "shares", "replay", len(old["b_shares"])))
        elif node in adversaries:
            corrupted, record = _corrupt_secagg(
                reply, node, target, drop_at.get(node), rng, value_fraction, round_number
            )
            if record is not None:
                truth.append(record)
            if corrupted is None:
                gone.add(node)
                detected.add(node)  # a node that stops answering is seen as dropped
                outgoing = sr.drop(node)
                queue.extend((n, sessions[n].respond(m)) for n, m in outgoing)
                continue
            reply = corrupted
        try:
            outgoing = sr.receive(node, reply)
        except ProtocolError:
            detected.add(node)
            gone.add(node)
            outgoing = sr.drop(node)
        queue.extend((n, sessions[n].respond(m)) for n, m in outgoing)
    detected |= set(sr.faults)
    included = sr.included
    expected = sum(weights[n] * updates[n].astype(np.float64) for n in included)
    error = float(np.max(np.abs(sr.result[:-1] - expected))) if sr.result is not None else float("inf")
    return detected, {"included": included, "max_error": error, "faults": dict(sr.faults)}


def _corrupt_secagg(
    reply: SecAggMessage, node: str, target: str, drop_stage: str | None,
    rng: np.random.Generator, value_fraction: float, round_number: int,
) -> tuple[SecAggMessage | None, FaultRecord | None]:
    if target == "dropout" and reply.stage == drop_stage:
        return None, FaultRecord(round_number, node, "dropout", f"dropout@{drop_stage}", 0)
    if target == "shares" and reply.stage == "unmask_shares":
        msg = from_jsonable(reply.body, expect=UnmaskShares)
        b = random_shares(tuple((s.owner, s.value) for s in msg.b_shares), rng)
        s = random_shares(tuple((s.owner, s.value) for s in msg.s_shares), rng)
        corrupted = UnmaskShares(
            msg.sender, tuple(NodeShare(o, v) for o, v in b), tuple(NodeShare(o, v) for o, v in s)
        )
        record = FaultRecord(round_number, node, "shares", "random_factors", len(b) + len(s))
        return dataclasses.replace(reply, body=to_jsonable(corrupted)), record
    if target == "masked" and reply.stage == "masked":
        data, changed = random_ring_words(reply.params["masked"].tobytes(), value_fraction, rng)
        record = FaultRecord(round_number, node, "masked", "random_factors", changed)
        return dataclasses.replace(reply, params={"masked": np.frombuffer(data, dtype=np.uint8)}), record
    return reply, None


def _he_round(
    secret: VectorScheme, public: VectorScheme, names: tuple[str, ...], adversaries: tuple[str, ...],
    round_number: int, updates: dict[str, np.ndarray], rng: np.random.Generator, value_fraction: float,
    truth: list[FaultRecord],
) -> tuple[set[str], dict[str, Any]]:
    """One encrypted-aggregation round: hospitals encrypt, the aggregator screens and adds, a
    key holder decrypts and range-checks the sum."""
    size = next(iter(updates.values())).size
    modulus = secret.public_key.n ** 2 if secret.name == "paillier" else None  # type: ignore[attr-defined]
    detected: set[str] = set()
    accepted: dict[str, list[bytes]] = {}
    for node in names:
        chunks = secret.encrypt(updates[node].astype(np.float64))
        if node in adversaries:
            chunks, changed = random_ciphertexts(
                chunks, value_fraction, rng, header_bytes=header_bytes(secret, chunks[0]), modulus=modulus
            )
            truth.append(FaultRecord(round_number, node, "ciphertext", "random_factors", changed))
        try:
            check_fresh_update(public, chunks, size)
        except HEError:
            detected.add(node)  # policy: exclude, the round goes on with the others
            continue
        accepted[node] = chunks
    bound = secret.bound if secret.name == "paillier" else secret.max_abs  # type: ignore[attr-defined]
    expected = sum(updates[n].astype(np.float64) for n in accepted)
    try:
        total = secret.decrypt(public.add(list(accepted.values())), size)
        check_decrypted_sum(total, addends=len(accepted), bound=bound)
    except HEError:
        # The key holder refuses the sum: the round is discarded, nobody can be named.
        return detected, {"included": sorted(accepted), "max_error": None, "sum_refused": True}
    error = float(np.max(np.abs(total - expected)))
    return detected, {"included": sorted(accepted), "max_error": error, "sum_refused": False}


def _vertical_run(
    private_key: Any, malicious: bool, iterations: int, rng: np.random.Generator, truth: list[FaultRecord]
) -> set[tuple[int, str]]:
    """Vertical LR (guest, one host, arbiter) on a small random table; a malicious host replaces
    one value of each masked gradient part with a random ciphertext (a unit below n²).
    Returns the (iteration + 1, party) pairs the arbiter named; the run stops at the first."""
    from medfed.training.vertical import ArbiterParty, GuestParty, HostParty, VerticalConfig
    from medfed.training.vertical.messages import MaskedGradient

    cfg = VerticalConfig(iterations, 0.5)
    x = rng.normal(size=(40, 4))
    y = (x[:, 0] + x[:, 2] > 0).astype(np.int64)
    parties: dict[str, Any] = {
        "guest": GuestParty("guest", x[:, :2], y, hosts=["h1"], arbiter="arb", config=cfg),
        "h1": HostParty("h1", x[:, 2:], guest="guest", arbiter="arb", config=cfg),
    }
    arbiter = ArbiterParty("arb", parties={"guest": 3, "h1": 2}, config=cfg, private_key=private_key)
    parties["arb"] = arbiter
    n2 = private_key.public_key.n ** 2
    queue: deque[Any] = deque(arbiter.start())
    while queue:
        message = queue.popleft()
        if malicious and isinstance(message, MaskedGradient) and message.sender == "h1":
            forged = int.from_bytes(rng.bytes(len(message.ciphertexts[0]) + 8), "big") % n2
            cts = (forged.to_bytes(len(message.ciphertexts[0]), "big"), *message.ciphertexts[1:])
            message = dataclasses.replace(message, ciphertexts=cts)
            truth.append(FaultRecord(message.iteration + 1, "h1", "gradient", "random_factors", 1))
        try:
            queue.extend(parties[message.recipient].receive(message))
        except ProtocolError:
            break  # vertical LR cannot drop a party (its features are needed): the study stops
    return {(message.iteration + 1, party) for party in arbiter.faults}


def protocol_trials(options: SecurityEvalOptions, *, progress: Callable[[str], None]) -> list[dict[str, Any]]:
    names = hospital_names(options.hospitals)
    rng = np.random.default_rng(options.seed)
    schemes: dict[str, tuple[VectorScheme, VectorScheme]] = {}
    rows = []
    for target in options.protocol_targets:
        if target in ("paillier", "ckks", "bfv") and target not in schemes:
            progress(f"generating {target} keys")
            key = generate_scheme(target, max_addends=max(64, options.hospitals))
            schemes[target] = (key, load_scheme(key.public_bytes()))
        if target == "vertical":
            rows += _vertical_trials(options, rng, progress)
            continue
        for fraction in options.fractions:
            adversaries = adversaries_for(names, fraction)
            progress(f"protocol {target}, {len(adversaries)}/{len(names)} malicious")
            truth: list[FaultRecord] = []
            detected: set[tuple[int, str]] = set()
            unattributed: set[int] = set()  # rounds stopped by a check that could not name anyone
            replayed: dict[str, Any] = {}
            rounds_ok, failed, sums_refused, errors = 0, 0, 0, []
            for r in range(1, options.protocol_rounds + 1):
                updates = _update_vectors(names, options.protocol_values, rng)
                try:
                    if target in schemes:
                        d, info = _he_round(*schemes[target], names, adversaries, r, updates, rng,
                                            options.value_fraction, truth)
                    else:
                        d, info = _secure_round(names, adversaries, target, r, updates, rng,
                                                options.value_fraction, truth, replayed)
                except MedfedError as exc:
                    # The round is aborted (e.g. too many shares disagree to attribute): caught, unnamed.
                    log.info("round %d aborted: %s", r, exc)
                    failed += 1
                    unattributed.add(r)
                    continue
                detected |= {(r, n) for n in d}
                if info.get("sum_refused"):
                    sums_refused += 1
                    unattributed.add(r)
                    continue
                errors.append(info["max_error"])
                rounds_ok += int(info["max_error"] < 1e-2 * options.hospitals)
            injected = {(f.round, f.node) for f in truth}
            caught = {(r, n) for r, n in injected if r in unattributed} | (detected & injected)
            row = {
                "target": target,
                "fraction": fraction,
                "adversaries": list(adversaries),
                "rounds": options.protocol_rounds,
                "rounds_correct": rounds_ok,
                "rounds_aborted": failed,
                "sums_refused_at_decryption": sums_refused,
                "max_error": max(errors) if errors else None,
                **rates(injected, detected, options.protocol_rounds * len(names)),
                # Named, or stopped before a wrong aggregate was used (round aborted or sum refused).
                "caught_rate": len(caught) / len(injected) if injected else None,
            }
            rows.append(row)
    return rows


def _vertical_trials(
    options: SecurityEvalOptions, rng: np.random.Generator, progress: Callable[[str], None]
) -> list[dict[str, Any]]:
    """Clean and attacked vertical LR runs (the attacker is the host; fractions do not apply)."""
    from medfed.privacy.he.paillier import generate_keypair

    progress("vertical LR: generating the arbiter's Paillier key")
    private_key = generate_keypair(2048)[1]
    rows = []
    for malicious in (False, True):
        progress(f"vertical LR, {'malicious host' if malicious else 'clean'}")
        truth: list[FaultRecord] = []
        named = _vertical_run(private_key, malicious, options.protocol_rounds, rng, truth)
        injected = {(f.round, f.node) for f in truth}
        rows.append({
            "target": "vertical",
            "fraction": 0.5 if malicious else 0.0,  # one of the two data parties
            "adversaries": ["h1"] if malicious else [],
            "rounds": options.protocol_rounds,
            "rounds_correct": 0 if malicious else options.protocol_rounds,
            "rounds_aborted": 1 if named else 0,
            "sums_refused_at_decryption": 0,
            "max_error": None,
            **rates(injected, named, 2 * options.protocol_rounds),
            "caught_rate": len(named & injected) / len(injected) if injected else None,
        })
    return rows


def evaluate_security(study: StudyConfig, options: SecurityEvalOptions, *,
                      progress: Callable[[str], None] | None = None) -> dict[str, Any]:
    """The whole evaluation as one JSON-ready dict."""
    say = progress or (lambda text: log.info("%s", text))
    torch.set_num_threads(max(1, torch.get_num_threads()))
    start = time.perf_counter()
    model = model_trials(study, options, progress=say) if options.behaviours else None
    protocol = protocol_trials(options, progress=say) if options.protocol_targets else []
    return {
        "study": study.study_id,
        "options": {k: (str(v) if isinstance(v, Path) else v) for k, v in dataclasses.asdict(options).items()},
        "model": model,
        "protocol": protocol,
        "seconds": time.perf_counter() - start,
    }
