from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from medfed.core.config import dump_study, load_study, parse_study
from medfed.errors import ConfigError

EXAMPLE = Path(__file__).resolve().parents[3] / "examples" / "pneumonia-3-hospitals.toml"


def _raw() -> dict:
    return tomllib.loads(EXAMPLE.read_text())


def test_example_study_parses_and_round_trips() -> None:
    study = load_study(EXAMPLE)
    assert study.hospitals == ("hospital-a", "hospital-b", "hospital-c")
    assert parse_study(tomllib.loads(dump_study(study))) == study


@pytest.mark.parametrize(
    ("section", "key", "value", "fragment"),
    [
        ("training", "rounds", 0, "rounds must be >= 1"),
        ("training", "rounds", "ten", "rounds must be int"),
        ("training", "lr", float("nan"), "finite"),
        ("training", "round_timeout", float("inf"), "finite"),
        ("training", "strategy", "fedsgd", "choose one of: fedavg, fedprox"),
        ("training", "strategy", "fedprox", "needs proximal_mu > 0"),
        ("training", "min_nodes", 4, "exceeds the 3 data parties"),
        ("training", "colour", "blue", "unknown keys: colour"),
        ("data", "alpha", -1.0, "alpha must be > 0"),
        ("data", "partition", "random", "choose one of"),
        ("dispatcher", "port", 70000, "0..65535"),
        ("dispatcher", "port", "x", "0..65535"),
    ],
)
def test_bad_values_are_refused_naming_section_and_key(section: str, key: str, value: object, fragment: str) -> None:
    raw = _raw()
    raw.setdefault(section, {})[key] = value
    with pytest.raises(ConfigError, match=fragment):
        parse_study(raw)


def test_parties_must_include_one_dispatcher_and_a_hospital_with_unique_names() -> None:
    raw = _raw()
    raw["parties"] = [p for p in raw["parties"] if p["role"] != "dispatcher"]
    with pytest.raises(ConfigError, match="exactly one party with role 'dispatcher'"):
        parse_study(raw)
    raw = _raw()
    raw["parties"].append({"name": "hospital-a", "role": "data"})
    with pytest.raises(ConfigError, match="repeated: hospital-a"):
        parse_study(raw)
    raw = _raw()
    raw["parties"][1]["role"] = "surgeon"
    with pytest.raises(ConfigError, match="role 'surgeon'"):
        parse_study(raw)
    with pytest.raises(ConfigError, match="does not exist"):
        load_study("/nonexistent/study.toml")
