"""The [adversary] behaviours label_flip, replay and dropout: parsed, applied by the node, recorded."""

from __future__ import annotations

import tomllib
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch

from medfed.core import serde
from medfed.core.config import (
    AdversaryConfig,
    Behaviour,
    DropoutStage,
    FaultTarget,
    Party,
    PrivacyConfig,
    dump_study,
    load_study,
    parse_study,
)
from medfed.core.messages import NodeUpdate
from medfed.errors import ConfigError
from medfed.node.worker import NodeWorker
from medfed.orchestration.scenario import prepare_scenario
from medfed.roles import Role
from medfed.simulation import simulate

HORIZONTAL = Path(__file__).resolve().parents[3] / "src" / "medfed" / "orchestration" / "appendix_a_horizontal.toml"
CPU = torch.device("cpu")
HOSPITALS = tuple(f"h{i}" for i in range(4))
ADVERSARY = "h1"


@pytest.fixture(scope="module")
def four():
    base = load_study(HORIZONTAL)
    parties = tuple(p for p in base.parties if p.role is not Role.DATA) + tuple(Party(h, Role.DATA) for h in HOSPITALS)
    study = replace(base, parties=parties, privacy=PrivacyConfig()).with_training(rounds=2, min_nodes=3)
    return study, prepare_scenario(study, data_dir=None)


def _with(study, **adversary: object):
    return replace(study, adversary=AdversaryConfig(nodes=(ADVERSARY,), **adversary))  # type: ignore[arg-type]


# ---- the study file -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "adversary",
    [
        {"behaviour": "label_flip"},
        {"behaviour": "replay"},
        *({"behaviour": "dropout", "stage": s.value} for s in DropoutStage),
        *({"behaviour": "random_factors", "target": t.value} for t in FaultTarget),
    ],
)
def test_adversary_settings_survive_dump_and_parse(four, adversary) -> None:
    study, _ = four
    raw = tomllib.loads(dump_study(study))
    raw["adversary"] = {"nodes": [ADVERSARY], **adversary}
    parsed = parse_study(raw)
    assert parsed.adversary.behaviour.value == adversary["behaviour"]
    assert parse_study(tomllib.loads(dump_study(parsed))) == parsed


@pytest.mark.parametrize(
    ("section", "message"),
    [
        ({"behaviour": "sleep"}, r"behaviour='sleep'; choose one of: .*label_flip, replay, dropout"),
        ({"behaviour": "dropout", "stage": "at_lunch"}, r"stage='at_lunch'; choose one of: before_training"),
        ({"behaviour": "sign_flip", "target": "shares"}, r"target='shares' needs behaviour 'random_factors'"),
        ({"behaviour": "random_factors", "target": "keys"}, r"target='keys'; choose one of: update, shares"),
    ],
)
def test_unknown_behaviours_stages_and_targets_are_refused_clearly(four, section, message) -> None:
    study, _ = four
    raw = tomllib.loads(dump_study(study))
    raw["adversary"] = {"nodes": [ADVERSARY], **section}
    with pytest.raises(ConfigError, match=message):
        parse_study(raw)


# ---- applied by the node --------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.clause("5.5.1.1e")
def test_label_flip_poisons_the_training_labels_and_is_recorded(four) -> None:
    study, scenario = four
    dataset = scenario.datasets[ADVERSARY]
    worker = NodeWorker(ADVERSARY, dataset, device=CPU, adversary=AdversaryConfig(behaviour=Behaviour.LABEL_FLIP))
    labels = worker._train[1].cpu().numpy().ravel()
    expected = dataset.n_classes - 1 - np.asarray(dataset.train.labels).ravel()
    np.testing.assert_array_equal(labels, expected)
    outcome = simulate(_with(study, behaviour=Behaviour.LABEL_FLIP), scenario.datasets, device=CPU)
    injections = outcome.summary["injections"]
    assert [(i["round"], i["node"], i["target"]) for i in injections] == [(1, ADVERSARY, "labels"), (2, ADVERSARY, "labels")]
    assert injections[0]["values_changed"] == int(np.count_nonzero(expected != np.asarray(dataset.train.labels).ravel()))


@pytest.mark.clause("5.5.1.1e")
def test_replay_resends_the_previous_rounds_update(four, monkeypatch) -> None:
    import medfed.simulation as simulation

    study, scenario = four
    sent: dict[int, NodeUpdate] = {}
    original = simulation.respond

    def recording(worker, frame):
        reply = original(worker, frame)
        message = serde.decode(reply) if isinstance(reply, bytes) else None
        if isinstance(message, NodeUpdate) and message.node == ADVERSARY:
            sent[message.round] = message
        return reply

    monkeypatch.setattr(simulation, "respond", recording)
    outcome = simulate(_with(study, behaviour=Behaviour.REPLAY), scenario.datasets, device=CPU)
    assert sorted(sent) == [1, 2]
    for key, value in sent[1].params.items():
        np.testing.assert_array_equal(sent[2].params[key], value)  # round 2 carries round 1's update
    injections = outcome.summary["injections"]
    assert [(i["round"], i["node"], i["behaviour"]) for i in injections] == [(2, ADVERSARY, "replay")]


@pytest.mark.clause("5.5.1.1e")
def test_dropout_before_training_leaves_every_round_and_the_study_goes_on(four) -> None:
    study, scenario = four
    outcome = simulate(_with(study, behaviour=Behaviour.DROPOUT), scenario.datasets, device=CPU)
    for record in outcome.summary["rounds"]:
        assert ADVERSARY not in record["accepted"] and len(record["accepted"]) == 3
        assert "dropped out before training" in record["dropped"][ADVERSARY]
    injections = outcome.summary["injections"]
    assert [(i["round"], i["target"]) for i in injections] == [(1, "dropout"), (2, "dropout")]


@pytest.mark.clause("5.5.1.1e")
def test_dropout_after_key_sharing_in_a_secure_study(four) -> None:
    study, scenario = four
    attacked = replace(
        _with(study, behaviour=Behaviour.DROPOUT, stage=DropoutStage.AFTER_KEY_SHARING),
        privacy=PrivacyConfig(secure_aggregation=True),
    ).with_training(rounds=1)
    outcome = simulate(attacked, scenario.datasets, device=CPU)
    (record,) = outcome.summary["rounds"]
    assert record["accepted"] == [h for h in HOSPITALS if h != ADVERSARY]
    assert "after key sharing" in record["dropped"][ADVERSARY] and record["faults"] == {}
    assert [(i["node"], i["target"]) for i in outcome.summary["injections"]] == [(ADVERSARY, "dropout")]
