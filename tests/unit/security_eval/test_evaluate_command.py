"""``medfed evaluate security`` on a tiny configuration writes the section and the JSON (5.5.1.1e)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from medfed.cli import main
from medfed.evaluation._security_section import security_section

HORIZONTAL = Path(__file__).resolve().parents[3] / "src" / "medfed" / "orchestration" / "appendix_a_horizontal.toml"


@pytest.fixture(scope="module")
def evaluation(tmp_path_factory):
    out = tmp_path_factory.mktemp("security")
    code = main([
        "evaluate", "security", str(HORIZONTAL),
        "--behaviours", "random_factors,sign_flip", "--fractions", "0,0.2", "--hospitals", "10", "--rounds", "2",
        "--protocol", "shares,ckks", "--protocol-rounds", "1", "--protocol-values", "200",
        "--out", str(out), "--json", str(out / "copy.json"),
    ])
    assert code == 0
    return out, json.loads((out / "security.json").read_text())


@pytest.mark.slow
@pytest.mark.clause("5.5.1.1e")
def test_the_command_writes_the_section_and_the_json(evaluation) -> None:
    out, result = evaluation
    assert json.loads((out / "copy.json").read_text()) == result
    html = (out / "security.html").read_text()
    assert "Malicious-party evaluation" in html and "<svg" in html and "random_factors" in html
    assert security_section(result) in html
    model = result["model"]
    assert [t["behaviour"] for t in model["trials"]] == ["random_factors", "sign_flip"]
    assert all(t["adversaries"] == ["h00", "h01"] for t in model["trials"])


@pytest.mark.slow
@pytest.mark.clause("5.5.1.1e")
def test_robust_option_holds_the_auc_and_the_protocol_checks_catch_the_faults(evaluation) -> None:
    _, result = evaluation
    model = result["model"]
    # Clean runs: the screen flags nobody.
    assert model["clean"]["robust"]["false_positive_rate"] == 0.0
    for trial in model["trials"]:
        assert abs(trial["delta_auc_robust"]) <= 0.03, trial
        assert trial["robust"]["injected"] == 2 * model["rounds"]
    sign_flip = next(t for t in model["trials"] if t["behaviour"] == "sign_flip")
    assert sign_flip["delta_auc_fedavg"] < -0.3  # the attack works against plain averaging
    assert sign_flip["robust"]["detection_rate"] == 1.0 and sign_flip["robust"]["false_positive_rate"] == 0.0
    for row in result["protocol"]:
        if row["fraction"] == 0:
            assert row["false_positive_rate"] == 0.0 and row["rounds_correct"] == 1
        else:
            assert row["detection_rate"] == 1.0 and row["false_positive_rate"] == 0.0, row
            assert row["rounds_correct"] == 1  # the aggregate is still right without them


def test_bad_options_are_refused_with_the_reason(tmp_path) -> None:
    assert main(["evaluate", "security", str(HORIZONTAL), "--behaviours", "teleport", "--out", str(tmp_path)]) == 2
    assert main(["evaluate", "security", str(HORIZONTAL), "--fractions", "0.6", "--out", str(tmp_path)]) == 2
    assert not (tmp_path / "security.json").exists()
