"""BreastMNIST radiomics features as a tabular dataset, and the logistic-regression scenario on it."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch

from medfed.core.config import DataConfig, Encryption, Partition, PrivacyConfig, load_study
from medfed.data import dataset_info, load_local_dataset, save_local_dataset
from medfed.data.feature_tables import extractor_signatures, load_feature_table
from medfed.data.features import check_same_extractors, pipeline_signature, signatures_digest
from medfed.data.radiomics import feature_names, radiomics_extractors, roi_mask, table_signatures
from medfed.errors import DataError
from medfed.orchestration.results import evaluate_params
from medfed.orchestration.scenario import prepare_scenario
from medfed.simulation import simulate

ROOT = Path(__file__).resolve().parents[4]
HORIZONTAL = ROOT / "src" / "medfed" / "orchestration" / "appendix_a_horizontal.toml"
FLAG = "breastmnist_radiomics"


@pytest.fixture(scope="session")
def radiomics_table(medmnist_dir: Path):
    """The table: computed once per session at most (the feature cache keeps it between)."""
    return load_feature_table(FLAG, seed=0, data_dir=medmnist_dir)


def test_the_registry_declares_every_extracted_column() -> None:
    info = dataset_info(FLAG)
    assert (info.dims, info.n_channels, info.n_classes) == (0, len(feature_names()), 2)
    assert [s.split("/")[0] for s in table_signatures(FLAG)] == ["first_order", "glcm", "glrlm", "shape"]
    assert table_signatures("breast_cancer") == []


def test_the_region_of_interest_is_the_darker_otsu_side() -> None:
    image = np.full((28, 28), 200, dtype=np.uint8)
    image[8:20, 8:20] = 30
    mask = roi_mask(image)
    assert mask.sum() == 144 and mask[10, 10] and not mask[0, 0]
    assert roi_mask(np.zeros((28, 28), np.uint8)).all()  # flat image: the whole image


@pytest.mark.slow
@pytest.mark.clause("5.3.2c", "5.3.2e")
def test_radiomics_table_has_official_splits_of_standardised_finite_features(radiomics_table) -> None:
    assert [len(s.labels) for s in (radiomics_table.train, radiomics_table.val, radiomics_table.test)] == [546, 78, 156]
    train = radiomics_table.train.images
    assert train.dtype == np.float32 and train.shape[1] == len(feature_names())
    assert np.isfinite(train).all()
    np.testing.assert_allclose(train.mean(axis=0), 0.0, atol=1e-4)


@pytest.mark.slow
@pytest.mark.clause("5.3.2d")
def test_hospital_data_files_carry_the_extractor_signatures(radiomics_table, tmp_path: Path) -> None:
    save_local_dataset(tmp_path / "a.npz", flag=FLAG, size=0, train=radiomics_table.train, val=radiomics_table.val)
    signatures = extractor_signatures(tmp_path / "a.npz")
    assert signatures == [e.signature() for e in radiomics_extractors()]
    assert load_local_dataset(tmp_path / "a.npz").flag == FLAG
    changed = [*signatures[:-1], signatures[-1].replace("sha256:", "sha256:0")]
    save_local_dataset(
        tmp_path / "b.npz", flag=FLAG, size=0, train=radiomics_table.train, val=radiomics_table.val, extractors=changed
    )
    a, b = extractor_signatures(tmp_path / "a.npz"), extractor_signatures(tmp_path / "b.npz")
    assert check_same_extractors({"a": signatures_digest(a), "c": signatures_digest(a)}) == pipeline_signature(
        radiomics_extractors()
    )
    with pytest.raises(DataError, match="differing: b"):
        check_same_extractors({"a": signatures_digest(a), "b": signatures_digest(b)})
    with pytest.raises(DataError, match="same extractor and version, different parameters"):
        check_same_extractors({"a": a[-1], "b": b[-1]})


@pytest.mark.slow
@pytest.mark.clause("5.3.2e")
def test_horizontal_logistic_regression_learns_from_radiomics_features(radiomics_table, medmnist_dir: Path) -> None:
    base = load_study(HORIZONTAL)
    study = replace(
        base,
        data=DataConfig(dataset=FLAG, partition=Partition.IID, val_fraction=0.1),
        privacy=PrivacyConfig(encryption=Encryption.NONE),  # Paillier: same sums, see test_encrypted_study
    ).with_training(rounds=5)
    scenario = prepare_scenario(study, data_dir=medmnist_dir)
    outcome = simulate(study, scenario.datasets, device=torch.device("cpu"))
    metrics, _ = evaluate_params(study, scenario, outcome.params, device=torch.device("cpu"))
    assert metrics.auc > 0.7, metrics


def test_a_damaged_feature_cache_is_recomputed_not_trusted(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from medfed.data import radiomics

    monkeypatch.setenv("MEDFED_CACHE_DIR", str(tmp_path))
    images = np.random.default_rng(0).integers(0, 255, (3, 28, 28)).astype(np.uint8)

    class Source:
        path, md5 = tmp_path / "tiny.npz", "0" * 32
        train = val = test = type("S", (), {"images": images, "labels": np.zeros(3)})()

    monkeypatch.setattr(radiomics, "load_medmnist", lambda *a, **k: Source)
    radiomics._features_of.cache_clear()
    first = radiomics.radiomics_splits(FLAG, tmp_path)[1]
    (cached,) = (tmp_path / "features").glob("*.npz")
    cached.write_bytes(b"not an npz")
    radiomics._features_of.cache_clear()
    again = radiomics.radiomics_splits(FLAG, tmp_path)[1]
    np.testing.assert_array_equal(first["train"], again["train"])
    assert np.load(cached)["train"].shape == (3, len(feature_names()))
    radiomics._features_of.cache_clear()


def test_appendix_a_runs_its_horizontal_scenario_on_the_radiomics_table(tmp_path: Path) -> None:
    from medfed.errors import ConfigError
    from medfed.orchestration.appendix_a import AppendixOptions, horizontal_study_path

    tmp_path.mkdir(exist_ok=True)
    path = horizontal_study_path(AppendixOptions(out_dir=tmp_path, horizontal_dataset=FLAG))
    study = load_study(path)
    assert study.data.dataset == FLAG and study.training.model == load_study(HORIZONTAL).training.model
    assert horizontal_study_path(AppendixOptions(out_dir=tmp_path)) == HORIZONTAL
    with pytest.raises(ConfigError, match="not a feature table"):
        horizontal_study_path(AppendixOptions(out_dir=tmp_path, horizontal_dataset="breastmnist"))
