"""Two hospitals register their own DICOM folders, then train one model together.

Each folder is built from pydicom's shipped CT and MR slices under many patients, with
planted byte copies, re-exports, truncated files and a burned-in annotation. Registration
must de-identify (no original name, ID, date or UID anywhere in what it writes), drop and
count exactly what was planted, and leave a data file the federated path trains on.
"""

from __future__ import annotations

import json
import secrets
from pathlib import Path

import numpy as np
import pytest
import torch

from medfed.core.config import load_study
from medfed.data import load_local_dataset
from medfed.data.deid import DeidKey
from medfed.data.ingest import LabelOptions
from medfed.data.register import (
    CLEANING_FILE,
    DATACARD_FILE,
    RECORD_FILE,
    TEST_FILE,
    RegisterOptions,
    Registration,
    register_folder,
)
from medfed.dispatcher.setup import initial_params
from medfed.simulation import simulate
from tests.integration.data_register.hospital_folder import Planted, build_hospital

PATIENTS = 16
STUDY = """
[study]
id = "registered-folders"
question = "Do two hospitals' registered DICOM folders train one model together?"
[data]
dataset = "pneumoniamnist"
size = 28
[training]
model = "cnn2d"
rounds = 2
local_epochs = 2
batch_size = 8
optimizer = "adam"
lr = 0.003
seed = 0
min_nodes = 2
[security]
require_grants = false
[[parties]]
name = "dispatcher"
role = "dispatcher"
[[parties]]
name = "hospital-a"
role = "data"
[[parties]]
name = "hospital-b"
role = "data"
"""


@pytest.fixture(scope="module")
def hospitals(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Planted, Registration, Path]]:
    out: dict[str, tuple[Planted, Registration, Path]] = {}
    for seed, name in enumerate(("hospital-a", "hospital-b"), start=1):
        root = tmp_path_factory.mktemp(name)
        planted = build_hospital(root / "incoming", tag=name[-1].upper(), patients=PATIENTS, seed=seed)
        options = RegisterOptions(
            task="pneumoniamnist",
            key=DeidKey(secrets.token_bytes(32)),
            labels=LabelOptions(root / "incoming" / "labels.csv", "patient", "diagnosis"),
            party=name,
            seed=seed,
        )
        registration = register_folder(root / "incoming", root / "registered", options)
        out[name] = (planted, registration, root)
    return out


@pytest.mark.slow
@pytest.mark.clause("5.2c", "5.6a")
def test_no_original_identifier_survives_registration(hospitals) -> None:
    for planted, registration, _ in hospitals.values():
        blobs = [p.read_bytes() for p in registration.out.iterdir() if p.is_file()]
        assert {p.name for p in registration.out.iterdir()} >= {RECORD_FILE, CLEANING_FILE, DATACARD_FILE, "data.npz", TEST_FILE}
        for value in planted.names | planted.ids | planted.dates | planted.uids:
            needles = {value.encode(), value.upper().encode()}
            needles |= {part.encode() for part in value.split("^") if "^" in value}
            for blob in blobs:
                assert not any(n in blob for n in needles), f"{value!r} leaked"
        assert len(planted.uids) >= 4 * planted.images  # the scan did look for every UID


@pytest.mark.slow
@pytest.mark.clause("5.3.3.2a", "5.3.3.2b")
def test_cleaning_report_counts_exactly_what_was_planted(hospitals) -> None:
    for planted, registration, _ in hospitals.values():
        report = json.loads((registration.out / CLEANING_FILE).read_text())
        counts = report["clean"]["counts"]
        assert counts["corrupt"] == planted.corrupt == 3
        assert counts["exact_duplicate"] == planted.exact_duplicates == 3
        assert counts["near_duplicate"] == planted.near_duplicates == 2
        assert sum(counts.values()) == 8
        assert report["burned_in_excluded"] == planted.burned_in == 1
        assert report["clean"]["n_kept"] == planted.images == 2 * PATIENTS
        assert len(report["clean"]["dropped"]["corrupt"]) == 3


@pytest.mark.slow
@pytest.mark.clause("5.3.1", "5.3.3.2c", "5.3.3.2d", "5.2d")
def test_record_card_and_data_file_describe_a_standardised_patient_level_split(hospitals) -> None:
    digests = set()
    for planted, registration, _ in hospitals.values():
        record = json.loads((registration.out / RECORD_FILE).read_text())
        assert record["schema"]["image_shape"] == [28, 28] and record["counts"]["patients"] == PATIENTS
        digests.add(record["standardise"]["digest"])
        dataset = load_local_dataset(registration.data_file)
        with np.load(registration.out / TEST_FILE) as test:
            test_images, test_labels = test["test_images"], test["test_labels"]
        assert dataset.train.images.dtype == np.uint8 and dataset.train.images.shape[1:] == (28, 28)
        total = len(dataset.train.labels) + len(dataset.val.labels) + len(test_labels)
        assert total == planted.images
        split = record["counts"]["split"]
        assert sum(s["patients"] for s in split.values()) == PATIENTS  # each patient in one subset
        assert split["train"]["images"] == len(dataset.train.labels)
        assert record["checksums"]["arrays"]["test_images"]  # content checksums recorded
        assert len(record["checksums"]["kept_sources"]) == planted.images
        assert test_images.shape[1:] == (28, 28)
        card = json.loads((registration.out / DATACARD_FILE).read_text())
        assert card["totals"] == {"images": 2 * PATIENTS, "patients": PATIENTS}
        assert card["cleaning"]["corrupt"] == "<5"  # 3 is a small cell: suppressed
    assert len(digests) == 1  # both hospitals standardised the same way


@pytest.mark.slow
@pytest.mark.clause("5.3.1", "5.3.3.2c")
def test_registered_folders_train_one_federated_model(hospitals, tmp_path: Path) -> None:
    torch.manual_seed(0)
    study_path = tmp_path / "study.toml"
    study_path.write_text(STUDY, encoding="utf-8")
    study = load_study(study_path)
    datasets = {name: load_local_dataset(reg.data_file) for name, (_, reg, _) in hospitals.items()}
    outcome = simulate(study, datasets, device=torch.device("cpu"))
    rounds = outcome.summary["rounds"]
    assert len(rounds) == 2
    assert all(sorted(r["accepted"]) == ["hospital-a", "hospital-b"] for r in rounds)
    assert all(np.isfinite(v).all() for v in outcome.params.values() if v.dtype.kind == "f")
    start = initial_params(study)
    assert any(not np.allclose(start[k], v) for k, v in outcome.params.items())  # it trained
