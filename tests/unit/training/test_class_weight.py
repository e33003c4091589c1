"""Class-balanced local loss: each party weights its classes from its own counts."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest
import torch

from medfed.core.config import (
    ClassWeight,
    Mechanism,
    Party,
    PrivacyConfig,
    StudyConfig,
    TrainConfig,
    parse_study,
)
from medfed.errors import ConfigError
from medfed.models import build_model
from medfed.roles import Role
from medfed.training import LocalTrainConfig, train_local
from medfed.training.local import class_weights


def test_weights_are_n_over_classes_times_count_and_zero_for_an_absent_class() -> None:
    labels = torch.tensor([0, 0, 0, 2])
    assert class_weights(labels, 4).tolist() == pytest.approx([4 / (2 * 3), 0.0, 4 / (2 * 1), 0.0])
    with pytest.raises(ConfigError, match="labels must lie in 0..1"):
        class_weights(labels, 2)


@pytest.mark.parametrize("labels", [[0, 0, 0, 0], [1, 1, 1, 1], [0, 1, 1, 0]])
def test_a_party_missing_a_class_trains_balanced(labels: list[int]) -> None:
    # A 4-class model at a hospital holding only some classes (a Dirichlet split, a fold).
    model = build_model("logreg", in_channels=3, n_classes=4, dims=0, image_size=0, seed=0)
    y = torch.tensor(labels * 8)
    stats = train_local(model, torch.randn(len(y), 3), y, LocalTrainConfig(epochs=2, balanced_classes=True), shuffle_seed=0)
    assert stats.num_samples == len(y) and stats.loss == stats.loss  # finite, no crash


def _imbalanced(seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    labels = (torch.rand(2000, generator=g) < 0.05).long()  # 5 % positives
    features = torch.randn(2000, 3, generator=g) + labels[:, None].float() * 1.0
    return features, labels


def _positive_rate(balanced: bool) -> float:
    x, y = _imbalanced()
    model = build_model("logreg", in_channels=3, n_classes=2, dims=0, image_size=0, seed=0)
    cfg = LocalTrainConfig(epochs=20, batch_size=128, lr=0.05, balanced_classes=balanced)
    train_local(model, x, y, cfg, shuffle_seed=0)
    with torch.no_grad():
        return float((model(x).argmax(1) == 1).float().mean())


def test_balanced_training_stops_ignoring_the_rare_class() -> None:
    plain, balanced = _positive_rate(False), _positive_rate(True)
    assert plain < 0.02  # the unweighted model almost never predicts the 5 % class
    assert balanced > 0.2  # weighted, it predicts it for the rows that look like it


def test_the_study_file_accepts_balanced_and_refuses_unknown_values() -> None:
    assert TrainConfig(class_weight=ClassWeight.BALANCED).class_weight is ClassWeight.BALANCED
    text = '[study]\nid = "s"\n[training]\nmodel = "logreg"\nclass_weight = "{}"\n'
    text += '[[parties]]\nname = "d"\nrole = "dispatcher"\n[[parties]]\nname = "h"\nrole = "data"\n'
    assert parse_study(tomllib.loads(text.format("balanced"))).training.class_weight is ClassWeight.BALANCED
    with pytest.raises(ConfigError, match="class_weight='square'; choose one of: none, balanced"):
        parse_study(tomllib.loads(text.format("square")))


def test_balanced_weights_are_refused_with_dp_sgd() -> None:
    with pytest.raises(ConfigError, match="not combined with dp_sgd"):
        StudyConfig(
            study_id="s",
            parties=(Party("d", Role.DISPATCHER), Party("h", Role.DATA)),
            training=TrainConfig(class_weight=ClassWeight.BALANCED),
            privacy=PrivacyConfig(mechanism=Mechanism.DP_SGD),
        )


def test_vertical_studies_refuse_class_weights() -> None:
    from dataclasses import replace
    from importlib.resources import files

    from medfed.core.config import load_study

    vertical = load_study(Path(str(files("medfed.orchestration") / "appendix_a_vertical.toml")))
    assert vertical.vertical is not None
    with pytest.raises(ConfigError, match="class_weight applies to horizontal studies"):
        replace(vertical, training=replace(vertical.training, class_weight=ClassWeight.BALANCED))
