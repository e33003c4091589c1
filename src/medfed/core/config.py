"""The study file: who takes part, which data, which model, how to train.

A study file is TOML. Every section maps to a frozen dataclass validated on
construction, so a bad value is refused with its section and key named.
"""

from __future__ import annotations

import enum
import math
import tomllib
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from medfed.core.goals import DataRequirements, GoalError, GoalsConfig, PrivacyGoals, parse_criteria
from medfed.errors import ConfigError
from medfed.roles import Role


class Partition(enum.StrEnum):
    IID = "iid"
    DIRICHLET = "dirichlet"
    QUANTITY = "quantity"


class StrategyName(enum.StrEnum):
    FEDAVG = "fedavg"
    FEDPROX = "fedprox"
    # Byzantine-robust rules (medfed.aggregation.robust documents their breakdown points).
    MEDIAN = "median"
    TRIMMED_MEAN = "trimmed_mean"
    KRUM = "krum"
    NORM_BOUNDED = "norm_bounded"


class OptimizerName(enum.StrEnum):
    SGD = "sgd"
    ADAM = "adam"


class ClassWeight(enum.StrEnum):
    """How each party weights its loss by class: as sampled, or each class counted equally
    (from that party's own counts; they never leave it)."""

    NONE = "none"
    BALANCED = "balanced"


@dataclass(frozen=True)
class Party:
    name: str
    role: Role

    def __post_init__(self) -> None:
        if not self.name or not all(c.isalnum() or c in "-_" for c in self.name):
            raise ConfigError(
                f"party name {self.name!r} must be non-empty letters, digits, '-' or '_'"
            )


@dataclass(frozen=True)
class DataConfig:
    dataset: str = "pneumoniamnist"
    size: int = 28
    partition: Partition = Partition.DIRICHLET
    alpha: float = 0.5
    val_fraction: float = 0.1

    def __post_init__(self) -> None:
        if self.size not in (28, 64, 128, 224):
            raise ConfigError(f"[data] size must be 28, 64, 128 or 224, not {self.size}")
        if self.alpha <= 0:
            raise ConfigError(f"[data] alpha must be > 0, not {self.alpha}")
        if not 0 <= self.val_fraction < 1:
            raise ConfigError(f"[data] val_fraction must be in [0, 1), not {self.val_fraction}")


@dataclass(frozen=True)
class TrainConfig:
    model: str = "cnn2d"
    strategy: StrategyName = StrategyName.FEDAVG
    rounds: int = 10
    local_epochs: int = 1
    batch_size: int = 64
    optimizer: OptimizerName = OptimizerName.ADAM
    lr: float = 1e-3
    proximal_mu: float = 0.0
    weight_decay: float = 0.0  # L2 penalty on the weights, e.g. 1 / (C x n) to match a C-regularised fit
    class_weight: ClassWeight = ClassWeight.NONE
    trim_fraction: float = 0.2  # trimmed_mean: the fraction cut from each end per coordinate
    krum_f: int = 1  # krum: the number of malicious nodes assumed
    krum_m: int = 1  # krum: how many of the best-scored updates are averaged (multi-Krum)
    seed: int = 0
    min_nodes: int = 1
    round_timeout: float = 600.0
    join_timeout: float = 120.0

    def __post_init__(self) -> None:
        for name in ("rounds", "local_epochs", "batch_size", "min_nodes"):
            if getattr(self, name) < 1:
                raise ConfigError(f"[training] {name} must be >= 1, not {getattr(self, name)}")
        if self.lr <= 0:
            raise ConfigError(f"[training] lr must be > 0, not {self.lr}")
        if self.proximal_mu < 0:
            raise ConfigError(f"[training] proximal_mu must be >= 0, not {self.proximal_mu}")
        if self.weight_decay < 0:
            raise ConfigError(f"[training] weight_decay must be >= 0, not {self.weight_decay}")
        if not 0 <= self.trim_fraction < 0.5 or self.krum_f < 0 or self.krum_m < 1:
            raise ConfigError("[training] trim_fraction must be in [0, 0.5), krum_f >= 0 and krum_m >= 1")
        if self.strategy is StrategyName.FEDPROX and self.proximal_mu == 0:
            raise ConfigError("[training] strategy 'fedprox' needs proximal_mu > 0")
        if self.round_timeout <= 0 or self.join_timeout <= 0:
            raise ConfigError("[training] round_timeout and join_timeout must be > 0 seconds")


class Mechanism(enum.StrEnum):
    NONE = "none"
    DP_FEDAVG = "dp_fedavg"  # client-level: clipped updates, Gaussian noise on the aggregate
    DP_SGD = "dp_sgd"  # sample-level: per-sample clipping and noise at each node (Opacus)


class Encryption(enum.StrEnum):
    """Homomorphic encryption of the updates (standard 5.4.3.4): the aggregator adds ciphertexts."""

    NONE = "none"
    PAILLIER = "paillier"  # additive, packed fixed-point
    CKKS = "ckks"  # approximate arithmetic on floats
    BFV = "bfv"  # exact arithmetic on fixed-point integers


@dataclass(frozen=True)
class PrivacyConfig:
    """How the study protects each hospital (standard 5.4.3): selectable, combinable."""

    mechanism: Mechanism = Mechanism.NONE
    noise_multiplier: float = 1.0
    clip_norm: float = 1.0
    delta: float = 1e-5
    secure_aggregation: bool = False
    secagg_threshold: int = 0  # 0: a majority of the participants
    # Adaptive clipping (Andrew et al. 2021): clip_norm follows a private estimate of a quantile.
    adaptive_clipping: bool = False
    target_quantile: float = 0.5
    clip_learning_rate: float = 0.2
    clip_count_noise: float = 0.0  # noise std on the count of unclipped nodes; 0: a tenth of the budget
    encryption: Encryption = Encryption.NONE
    paillier_bits: int = 2048  # modulus length; 2048 minimum, 3072 for longer-lived results

    def __post_init__(self) -> None:
        if self.noise_multiplier < 0:
            raise ConfigError(f"[privacy] noise_multiplier must be >= 0, not {self.noise_multiplier}")
        if self.mechanism is not Mechanism.NONE and self.noise_multiplier == 0:
            raise ConfigError(f"[privacy] mechanism {self.mechanism.value!r} needs noise_multiplier > 0")
        if self.clip_norm <= 0:
            raise ConfigError(f"[privacy] clip_norm must be > 0, not {self.clip_norm}")
        if not 0 < self.delta < 1:
            raise ConfigError(f"[privacy] delta must be in (0, 1), not {self.delta}")
        if not 0 < self.target_quantile < 1:
            raise ConfigError(f"[privacy] target_quantile must be in (0, 1), not {self.target_quantile}")
        if self.clip_learning_rate <= 0 or self.clip_count_noise < 0:
            raise ConfigError("[privacy] clip_learning_rate must be > 0 and clip_count_noise >= 0")
        if self.adaptive_clipping and self.mechanism is not Mechanism.DP_FEDAVG:
            raise ConfigError("[privacy] adaptive_clipping applies to mechanism 'dp_fedavg' only")
        if self.adaptive_clipping and self.secure_aggregation:
            raise ConfigError(
                "[privacy] adaptive_clipping needs each node's clipped/unclipped bit at the dispatcher; "
                "it is not combined with secure_aggregation"
            )
        if self.secagg_threshold < 0:
            raise ConfigError(f"[privacy] secagg_threshold must be >= 0, not {self.secagg_threshold}")
        if self.encryption is not Encryption.NONE:
            if self.secure_aggregation:
                raise ConfigError(
                    "[privacy] encryption and secure_aggregation both hide the updates from the "
                    "aggregator; choose one"
                )
            if self.mechanism is Mechanism.DP_FEDAVG:
                raise ConfigError(
                    "[privacy] mechanism 'dp_fedavg' needs the aggregator to clip and noise the sum; "
                    "under encryption use 'dp_sgd' (noise added at each node) instead"
                )
        if self.paillier_bits not in (2048, 3072, 4096):
            raise ConfigError(
                f"[privacy] paillier_bits must be 2048, 3072 or 4096 (key-length policy), not {self.paillier_bits}"
            )


class CryptoSuiteName(enum.StrEnum):
    INTL = "intl"  # ECDSA P-256 / X25519, SHA-256, AES-256-GCM
    GM = "gm"  # SM2, SM3, SM4-GCM (GB/T national cryptography)


@dataclass(frozen=True)
class SecurityConfig:
    """[security]: the crypto suite, and consent: no hospital's data is used without its grant."""

    suite: CryptoSuiteName = CryptoSuiteName.INTL
    require_grants: bool = True  # every round needs each hospital's signed data-use grant
    purpose: str = "research"  # stated in every data-use application
    grant_days: float = 30.0  # validity asked for in each application

    def __post_init__(self) -> None:
        if not self.purpose.strip():
            raise ConfigError("[security] purpose must say what the data will be used for")
        if not (math.isfinite(self.grant_days) and 0 < self.grant_days <= 3650):
            raise ConfigError(f"[security] grant_days must be in (0, 3650], not {self.grant_days}")


@dataclass(frozen=True)
class VerticalSettings:
    """[vertical]: the data parties hold different features of the same patients (Appendix A).

    The label party (guest) aligns patients with each other party by private set
    intersection, then all train a logistic regression with Paillier-encrypted exchanges;
    the arbiter (an ``aux`` party) holds the private key and sees only masked gradients.
    """

    label_party: str
    arbiter: str
    iterations: int = 10
    lr: float = 0.15
    l2: float = 0.0  # ridge penalty on the feature weights
    batch_size: int = 0  # rows per step; 0: full batch
    key_bits: int = 2048  # Paillier modulus, key-length policy >= 2048
    overlap: float = 1.0  # fraction of patients each party holds (< 1: PSI has work to do)
    test_fraction: float = 0.2

    def __post_init__(self) -> None:
        if self.iterations < 1 or self.batch_size < 0:
            raise ConfigError("[vertical] iterations must be >= 1 and batch_size >= 0")
        if not (math.isfinite(self.lr) and self.lr > 0) or self.l2 < 0:
            raise ConfigError("[vertical] lr must be > 0 and l2 >= 0")
        if self.key_bits not in (2048, 3072, 4096):
            raise ConfigError(f"[vertical] key_bits must be 2048, 3072 or 4096 (key-length policy), not {self.key_bits}")
        if not 0 < self.overlap <= 1 or not 0 < self.test_fraction < 1:
            raise ConfigError("[vertical] overlap must be in (0, 1] and test_fraction in (0, 1)")


class Behaviour(enum.StrEnum):
    """What a simulated malicious node does to its update (standard 5.5.1.1e)."""

    RANDOM_FACTORS = "random_factors"  # replace a fraction of the values with random ones of the same range
    SIGN_FLIP = "sign_flip"  # send global - scale * (new - global)
    SCALING = "scaling"  # model replacement: global + scale * (new - global)
    GAUSSIAN_NOISE = "gaussian_noise"  # add N(0, sigma^2) to every value
    LABEL_FLIP = "label_flip"  # train on flipped labels (class c -> n_classes - 1 - c): data poisoning
    REPLAY = "replay"  # re-send the previous round's update instead of this round's
    DROPOUT = "dropout"  # leave every round at [adversary] stage


class FaultTarget(enum.StrEnum):
    """Where ``random_factors`` puts its random values (standard 5.5.1.1e)."""

    UPDATE = "update"  # the plaintext update, before any masking or encryption
    SHARES = "shares"  # secure aggregation: the Shamir shares revealed for unmasking
    MASKED = "masked"  # secure aggregation: the masked vector, replaced after its commitment was sent
    COMMITTED_MASKED = "committed_masked"  # the masked vector, corrupted before committing to it
    CIPHERTEXT = "ciphertext"  # encrypted studies: ciphertext chunks of the update


class DropoutStage(enum.StrEnum):
    """Where a ``dropout`` node leaves the round."""

    BEFORE_TRAINING = "before_training"  # on receiving the task
    AFTER_KEY_SHARING = "after_key_sharing"  # secure aggregation: shares sent, no masked vector
    AFTER_MASKING = "after_masking"  # secure aggregation: masked vector sent, unmask request unanswered
    DURING_UNMASKING = "during_unmasking"  # secure aggregation: half of the requested shares, then gone


@dataclass(frozen=True)
class AdversaryConfig:
    """[adversary]: fault injection for security evaluation; never set in a real study."""

    nodes: tuple[str, ...] = ()
    behaviour: Behaviour = Behaviour.RANDOM_FACTORS
    fraction: float = 0.5  # random_factors: share of the values replaced
    scale: float = 10.0  # sign_flip / scaling
    sigma: float = 1.0  # gaussian_noise
    seed: int = 0
    target: FaultTarget = FaultTarget.UPDATE  # random_factors: what gets the random values
    stage: DropoutStage = DropoutStage.BEFORE_TRAINING  # dropout: where the node leaves

    def __post_init__(self) -> None:
        if not 0 < self.fraction <= 1 or self.scale <= 0 or self.sigma < 0:
            raise ConfigError("[adversary] fraction must be in (0, 1], scale > 0 and sigma >= 0")
        if self.target is not FaultTarget.UPDATE and self.behaviour is not Behaviour.RANDOM_FACTORS:
            raise ConfigError(
                f"[adversary] target={self.target.value!r} needs behaviour 'random_factors', "
                f"not {self.behaviour.value!r}"
            )


@dataclass(frozen=True)
class StudyConfig:
    study_id: str
    parties: tuple[Party, ...]
    data: DataConfig = field(default_factory=DataConfig)
    training: TrainConfig = field(default_factory=TrainConfig)
    privacy: PrivacyConfig = field(default_factory=PrivacyConfig)
    question: str = ""
    dispatcher_host: str = "127.0.0.1"
    dispatcher_port: int = 0
    vertical: VerticalSettings | None = None
    security: SecurityConfig = field(default_factory=SecurityConfig)
    adversary: AdversaryConfig = field(default_factory=AdversaryConfig)
    goals: GoalsConfig = field(default_factory=GoalsConfig)

    def __post_init__(self) -> None:
        self._sync_question()
        names = [p.name for p in self.parties]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ConfigError(f"[[parties]] names must be unique; repeated: {', '.join(dupes)}")
        if len(self.by_role(Role.DISPATCHER)) != 1:
            raise ConfigError("[[parties]] needs exactly one party with role 'dispatcher'")
        if not self.by_role(Role.DATA):
            raise ConfigError("[[parties]] needs at least one party with role 'data' (a hospital)")
        n_data = len(self.by_role(Role.DATA))
        if self.privacy.secagg_threshold > n_data:
            raise ConfigError(
                f"[privacy] secagg_threshold={self.privacy.secagg_threshold} exceeds the {n_data} data parties"
            )
        if self.vertical is not None:
            if self.training.class_weight is not ClassWeight.NONE:
                raise ConfigError("[training] class_weight applies to horizontal studies; [vertical] studies use none")
            if self.vertical.label_party not in self.hospitals:
                raise ConfigError(f"[vertical] label_party {self.vertical.label_party!r} is not a 'data' party")
            if self.vertical.arbiter not in {p.name for p in self.by_role(Role.AUX)}:
                raise ConfigError(f"[vertical] arbiter {self.vertical.arbiter!r} is not an 'aux' party")
            if n_data < 2:
                raise ConfigError("[vertical] needs at least two data parties")
        unknown = sorted(set(self.adversary.nodes) - set(self.hospitals))
        if unknown:
            raise ConfigError(f"[adversary] nodes {unknown} are not data parties")
        if self.training.class_weight is not ClassWeight.NONE and self.privacy.mechanism is Mechanism.DP_SGD:
            raise ConfigError(
                "[training] class_weight 'balanced' is not combined with dp_sgd: each record's weight "
                "would depend on the other records' labels, outside what per-record clipping bounds"
            )
        if self.training.min_nodes > len(self.by_role(Role.DATA)):
            raise ConfigError(
                f"[training] min_nodes={self.training.min_nodes} exceeds the "
                f"{len(self.by_role(Role.DATA))} data parties"
            )

    def _sync_question(self) -> None:
        """[study] question and [goals] question are one field under two names."""
        if self.goals.question and self.question and self.goals.question != self.question:
            raise ConfigError("[study] question and [goals] question differ; state the question once, in [goals]")
        question = self.goals.question or self.question
        # Frozen dataclass: set once, during construction, so both names read the same text.
        object.__setattr__(self, "question", question)
        object.__setattr__(self, "goals", replace(self.goals, question=question))

    def by_role(self, role: Role) -> tuple[Party, ...]:
        return tuple(p for p in self.parties if p.role is role)

    @property
    def hospitals(self) -> tuple[str, ...]:
        return tuple(p.name for p in self.by_role(Role.DATA))

    def with_training(self, **changes: Any) -> StudyConfig:
        return replace(self, training=replace(self.training, **changes))


def _section(cls: type, raw: dict[str, Any], section: str) -> Any:
    known = {f.name: f for f in fields(cls)}
    unknown = sorted(set(raw) - set(known))
    if unknown:
        raise ConfigError(f"[{section}] unknown keys: {', '.join(unknown)}")
    values: dict[str, Any] = {}
    for key, value in raw.items():
        kind = known[key].type
        enum_type = {
            "Partition": Partition,
            "StrategyName": StrategyName,
            "OptimizerName": OptimizerName,
            "ClassWeight": ClassWeight,
            "Mechanism": Mechanism,
            "Encryption": Encryption,
            "CryptoSuiteName": CryptoSuiteName,
            "Behaviour": Behaviour,
            "FaultTarget": FaultTarget,
            "DropoutStage": DropoutStage,
        }.get(str(kind))
        if enum_type is not None:
            try:
                value = enum_type(value)
            except ValueError:
                choices = ", ".join(m.value for m in enum_type)
                raise ConfigError(f"[{section}] {key}={value!r}; choose one of: {choices}") from None
        types: dict[str, type | tuple[type, ...]] = {"int": int, "float": (int, float), "str": str, "bool": bool}
        expected = types.get(str(kind))
        if expected is not None and (
            not isinstance(value, expected) or (isinstance(value, bool) and expected is not bool)
        ):
            raise ConfigError(f"[{section}] {key} must be {kind}, not {value!r}")
        if isinstance(value, float) and not math.isfinite(value):
            raise ConfigError(f"[{section}] {key} must be a finite number, not {value!r}")
        values[key] = value
    try:
        return cls(**values)
    except TypeError as exc:
        raise ConfigError(f"[{section}] {exc}") from None


def parse_study(raw: dict[str, Any]) -> StudyConfig:
    """Build a validated :class:`StudyConfig` from parsed TOML."""
    study = raw.get("study", {})
    if "id" not in study:
        raise ConfigError("[study] id is required")
    parties = []
    for i, entry in enumerate(raw.get("parties", [])):
        try:
            parties.append(Party(name=entry["name"], role=Role(entry["role"])))
        except KeyError as exc:
            raise ConfigError(f"[[parties]] entry {i} lacks {exc}") from None
        except ValueError:
            roles = ", ".join(r.value for r in Role)
            raise ConfigError(
                f"[[parties]] entry {i} has role {entry['role']!r}; choose one of: {roles}"
            ) from None
    dispatcher = raw.get("dispatcher", {})
    goals = _goals(raw.get("goals", {}))
    # Checked here, on the file, so that a study derived in code (fewer parties) keeps working;
    # releases are only ever written for parties of the study.
    strangers = sorted(party for party, _ in goals.sharing if party not in {p.name for p in parties})
    if strangers:
        raise GoalError(f"[goals.sharing] names parties that are not in the study: {', '.join(strangers)}")
    privacy = _section(PrivacyConfig, raw.get("privacy", {}), "privacy")
    if privacy.mechanism is Mechanism.NONE:
        for criterion in parse_criteria(goals.criteria):
            if criterion.metric == "epsilon":
                raise GoalError(
                    f"criterion {criterion.text!r} can never be met: the study uses no differential "
                    "privacy, so no epsilon is accounted ([privacy] mechanism is 'none')"
                )
    return StudyConfig(
        study_id=str(study["id"]),
        question=str(study.get("question", "")),
        parties=tuple(parties),
        data=_section(DataConfig, raw.get("data", {}), "data"),
        training=_section(TrainConfig, raw.get("training", {}), "training"),
        privacy=privacy,
        dispatcher_host=str(dispatcher.get("host", "127.0.0.1")),
        dispatcher_port=_port(dispatcher.get("port", 0)),
        vertical=_section(VerticalSettings, raw["vertical"], "vertical") if "vertical" in raw else None,
        security=_section(SecurityConfig, raw.get("security", {}), "security"),
        adversary=_adversary(raw.get("adversary", {})),
        goals=goals,
    )


def _goals(raw: Any) -> GoalsConfig:
    """[goals] with its sub-tables [goals.privacy], [goals.data] and [goals.sharing]."""
    if not isinstance(raw, dict):
        raise GoalError("[goals] must be a table")
    known = {"question", "direction", "criteria", "privacy", "data", "sharing"}
    unknown = sorted(set(raw) - known)
    if unknown:
        raise GoalError(f"[goals] unknown keys: {', '.join(unknown)}")
    for key in ("question", "direction"):
        if not isinstance(raw.get(key, ""), str):
            raise GoalError(f"[goals] {key} must be a string")
    return GoalsConfig(
        question=raw.get("question", ""),
        direction=raw.get("direction", ""),
        criteria=_strings(raw.get("criteria", []), "[goals] criteria"),
        privacy=_privacy_goals(_table(raw.get("privacy", {}), "[goals.privacy]")),
        data=_data_requirements(_table(raw.get("data", {}), "[goals.data]")),
        sharing=tuple(
            (str(party), _strings(items, f"[goals.sharing] {party}"))
            for party, items in _table(raw.get("sharing", {}), "[goals.sharing]").items()
        ),
    )


def _table(value: Any, where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise GoalError(f"{where} must be a table")
    return value


def _strings(value: Any, where: str) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise GoalError(f"{where} must be a list of strings, not {value!r}")
    return tuple(value)


def _privacy_goals(raw: dict[str, Any]) -> PrivacyGoals:
    unknown = sorted(set(raw) - {"deidentified", "max_epsilon", "require", "limits"})
    if unknown:
        raise GoalError(f"[goals.privacy] unknown keys: {', '.join(unknown)}")
    deidentified = raw.get("deidentified", True)
    cap = raw.get("max_epsilon")
    limits = raw.get("limits", "")
    if not isinstance(deidentified, bool) or not isinstance(limits, str):
        raise GoalError("[goals.privacy] deidentified must be true/false and limits a string")
    if cap is not None and (isinstance(cap, bool) or not isinstance(cap, (int, float))):
        raise GoalError(f"[goals.privacy] max_epsilon must be a number, not {cap!r}")
    return PrivacyGoals(
        deidentified=deidentified,
        max_epsilon=None if cap is None else float(cap),
        require=_strings(raw.get("require", []), "[goals.privacy] require"),
        limits=limits,
    )


def _data_requirements(raw: dict[str, Any]) -> DataRequirements:
    try:
        return _section(DataRequirements, raw, "goals.data")
    except GoalError:
        raise
    except ConfigError as exc:
        raise GoalError(str(exc)) from None


def _adversary(raw: dict[str, Any]) -> AdversaryConfig:
    nodes = raw.get("nodes", [])
    if not isinstance(nodes, list) or not all(isinstance(n, str) for n in nodes):
        raise ConfigError("[adversary] nodes must be a list of party names")
    section = _section(AdversaryConfig, {k: v for k, v in raw.items() if k != "nodes"}, "adversary")
    return replace(section, nodes=tuple(nodes))


def _port(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 65535:
        raise ConfigError(f"[dispatcher] port must be an integer in 0..65535, not {value!r}")
    return value


def load_study(path: str | Path) -> StudyConfig:
    """Read and validate a study file."""
    path = Path(path)
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"study file {path} does not exist") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"study file {path} is not valid TOML: {exc}") from None
    return parse_study(raw)


def _toml_value(value: Any) -> str:
    if isinstance(value, enum.Enum):
        value = value.value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    return '"' + str(value).replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def dump_study(study: StudyConfig) -> str:
    """The study as TOML that :func:`parse_study` reads back to an equal config."""
    lines = ["[study]", f"id = {_toml_value(study.study_id)}", f"question = {_toml_value(study.question)}"]
    sections = (
        ("data", study.data), ("training", study.training), ("privacy", study.privacy), ("security", study.security)
    )
    for title, section in sections:
        lines += ["", f"[{title}]"]
        lines += [f"{f.name} = {_toml_value(getattr(section, f.name))}" for f in fields(section)]
    if study.adversary.nodes:
        a = study.adversary
        lines += ["", "[adversary]", "nodes = [" + ", ".join(_toml_value(n) for n in a.nodes) + "]"]
        lines += [f"{f.name} = {_toml_value(getattr(a, f.name))}" for f in fields(a) if f.name != "nodes"]
    if study.vertical is not None:
        lines += ["", "[vertical]"]
        lines += [f"{f.name} = {_toml_value(getattr(study.vertical, f.name))}" for f in fields(study.vertical)]
    lines += _dump_goals(study.goals)
    lines += ["", "[dispatcher]", f"host = {_toml_value(study.dispatcher_host)}", f"port = {study.dispatcher_port}"]
    for party in study.parties:
        lines += ["", "[[parties]]", f"name = {_toml_value(party.name)}", f"role = {_toml_value(party.role)}"]
    return "\n".join(lines) + "\n"


def _dump_goals(goals: GoalsConfig) -> list[str]:
    """[goals] lines; the question is already under [study] (one field, two names)."""
    if goals == GoalsConfig(question=goals.question):
        return []

    def strings(items: tuple[str, ...]) -> str:
        return "[" + ", ".join(_toml_value(v) for v in items) + "]"

    p, d = goals.privacy, goals.data
    lines = ["", "[goals]", f"direction = {_toml_value(goals.direction)}", f"criteria = {strings(goals.criteria)}"]
    lines += ["", "[goals.privacy]", f"deidentified = {_toml_value(p.deidentified)}"]
    if p.max_epsilon is not None:
        lines.append(f"max_epsilon = {_toml_value(p.max_epsilon)}")
    lines += [f"require = {strings(p.require)}", f"limits = {_toml_value(p.limits)}"]
    lines += ["", "[goals.data]"] + [f"{f.name} = {_toml_value(getattr(d, f.name))}" for f in fields(d)]
    if goals.sharing:
        lines += ["", "[goals.sharing]"] + [f"{_toml_value(party)} = {strings(items)}" for party, items in goals.sharing]
    return lines
