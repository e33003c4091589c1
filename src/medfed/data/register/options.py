"""What ``register_folder`` needs to know: the task the data must fit and how to prepare it."""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from medfed.data.deid import DeidKey
from medfed.data.ingest import LabelOptions
from medfed.data.medmnist import DatasetInfo, dataset_info
from medfed.data.prepare import ResampleMethod, StandardiseConfig
from medfed.data.register.parallel import MAX_DEFAULT_WORKERS, default_workers
from medfed.errors import ConfigError

# The image sizes a study file accepts ([data] size).
TARGET_SIZES = (28, 64, 128, 224)


@dataclass(frozen=True)
class RegisterOptions:
    """How to register a hospital folder.

    ``task``: the subset name whose image shape and classes the study trains on (the study
    file's ``[data] dataset``); ``size``: pixels per side of the standardised images.
    ``key``: the per-dataset de-identification secret; ``shift_dates``: keep intervals by
    shifting every date of a patient by the same days (else dates are removed).
    ``labels``: the CSV of labels keyed by a study-local ID (the original PatientID or the
    file name); ``modality``: what to call images whose format records none.
    ``modalities``: accepted modalities (None: any). ``min_count``: smallest count shown
    on the data card. ``fractions``: train, validation and test shares of the patients.
    ``workers``: processes that read, de-identify and verify the files (1: all in this
    process, at most the CPUs); the result does not depend on it.
    """

    task: str
    key: DeidKey
    size: int = 28
    shift_dates: bool = True
    labels: LabelOptions | None = None
    modality: str = "OT"
    modalities: frozenset[str] | None = None
    min_count: int = 5
    seed: int = 0
    fractions: tuple[float, float, float] = (0.7, 0.15, 0.15)
    party: str = "hospital"
    near_duplicate_distance: int = 4
    window: tuple[float, float] = (40.0, 400.0)  # CT window centre and width, HU
    workers: int = field(default_factory=default_workers, compare=False)
    info: DatasetInfo = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        info = dataset_info(self.task)  # DataError names the known subsets
        if info.dims not in (2, 3):
            raise ConfigError(f"{self.task} is a feature table; registration prepares images")
        if self.size not in TARGET_SIZES:
            raise ConfigError(
                f"target size must be one of {', '.join(map(str, TARGET_SIZES))}, not {self.size}"
            )
        if self.min_count < 1:
            raise ConfigError(f"min_count must be at least 1, not {self.min_count}")
        if self.workers < 1:
            raise ConfigError(f"workers must be at least 1, not {self.workers}")
        # Beyond the CPUs, processes only add memory and start-up time; the default's few are always allowed.
        limit = max(os.cpu_count() or 1, MAX_DEFAULT_WORKERS)
        if self.workers > limit:
            raise ConfigError(
                f"workers must be at most {limit} (the CPUs of this machine, or {MAX_DEFAULT_WORKERS}), not {self.workers}"
            )
        if not self.party.strip():
            raise ConfigError("the party name must not be empty")
        object.__setattr__(self, "info", info)

    def standardise_config(self) -> StandardiseConfig:
        """The study-wide standardisation: the task's shape, uint8, CT window in HU."""
        centre, width = self.window
        return StandardiseConfig(
            target_shape=(self.size,) * self.info.dims,
            window_centre=centre,
            window_width=width,
            resample_method=ResampleMethod.AREA,
        )
